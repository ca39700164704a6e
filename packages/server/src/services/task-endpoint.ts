/**
 * Which endpoint a task may run on: it must exist, belong to the caller's team or have
 * `public_inference: true` (then any authenticated user may run tasks on it, not read or edit it), not be
 * being deleted, and be of a type the route serves:
 *
 * | route                        | endpoint types     |
 * |------------------------------|--------------------|
 * | `POST /v1/async-tasks`       | async              |
 * | `POST /v1/sync-tasks`        | sync, streaming    |
 * | `POST /v1/streaming-tasks`   | streaming          |
 *
 * Sync tasks on a streaming endpoint are allowed, as in the reference server: its workers answer
 * `/predict` too. A missing or foreign endpoint is a 404; a wrong type a 400 naming the route to use.
 */
import { type EndpointType, LaunchError } from "@launch/protocol";
import type { EndpointRecord, Store } from "../store/port.js";
import type { Caller } from "./endpoints.js";

/** The kinds of task routes. */
export type TaskKind = "async" | "sync" | "streaming";

const SERVES: Record<TaskKind, readonly EndpointType[]> = {
  async: ["async"],
  sync: ["sync", "streaming"],
  streaming: ["streaming"],
};

/** Where to send tasks of each endpoint type, for the 400 message. */
const ROUTE_FOR: Record<EndpointType, string> = {
  async: "POST /v1/async-tasks (then poll GET /v1/async-tasks/{task_id})",
  sync: "POST /v1/sync-tasks",
  streaming: "POST /v1/streaming-tasks (or POST /v1/sync-tasks for one answer)",
};

/**
 * The endpoint a task of `kind` may run on, or the LaunchError saying why not.
 *
 * @example const endpoint = await taskEndpoint(store, request.principal, "end_…", "async");
 */
export async function taskEndpoint(
  store: Pick<Store, "getEndpoint">,
  caller: Caller,
  endpointId: string,
  kind: TaskKind,
): Promise<EndpointRecord> {
  const endpoint = await store.getEndpoint(endpointId);
  if (!endpoint || (endpoint.owner !== caller.teamId && !endpoint.spec.publicInference)) {
    throw new LaunchError("not_found", `Model endpoint ${endpointId} was not found.`);
  }
  if (endpoint.status === "DELETE_IN_PROGRESS") {
    throw new LaunchError(
      "conflict",
      `Model endpoint ${endpointId} is being deleted; it takes no new tasks.`,
    );
  }
  if (!SERVES[kind].includes(endpoint.endpointType)) {
    const article = endpoint.endpointType === "async" ? "an" : "a";
    throw new LaunchError(
      "bad_request",
      `Unsupported inference type: model endpoint ${endpointId} is ${article} ${endpoint.endpointType} endpoint and does not serve ${kind} tasks; send its tasks to ${ROUTE_FOR[endpoint.endpointType]}.`,
    );
  }
  return endpoint;
}
