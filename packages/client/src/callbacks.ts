/**
 * The callback routes [ext] as functions over the transport: the delivery log (a task's deliveries, an
 * endpoint's deliveries by status), replays, and the endpoint's signing secret. `LaunchClient`, endpoint
 * objects and futures call these; results are the wire objects of `@launch/protocol` (the lists unwrapped
 * from `{ callbacks }`, as `listModelEndpoints` unwraps `{ model_endpoints }`).
 */
import type {
  CallbackDeliveryList,
  CallbackDeliveryStatus,
  CallbackDeliveryView,
  CallbackSecret,
  CallbacksReplayed,
} from "@launch/protocol";
import type { HttpTransport } from "./http.js";

/** Filters and paging of an endpoint's delivery list. */
export interface ListEndpointCallbacksOptions {
  /** Only deliveries in this status; `failed` lists the dead letters. */
  status?: CallbackDeliveryStatus | undefined;
  /** At most this many, newest first (server default 100, at most 1000). */
  limit?: number | undefined;
  /** Only deliveries created before this delivery id: the last id of the previous page. */
  before?: string | undefined;
}

/**
 * `GET /v1/async-tasks/{id}/callbacks`: the task's deliveries (usually one) with their attempts.
 *
 * @example const [delivery] = await getTaskCallbacks(http, "tsk_1");
 */
export async function getTaskCallbacks(http: HttpTransport, taskId: string): Promise<CallbackDeliveryView[]> {
  const path = `/v1/async-tasks/${encodeURIComponent(taskId)}/callbacks`;
  return (await http.request<CallbackDeliveryList>("GET", path)).callbacks;
}

/**
 * `GET /v1/model-endpoints/{id}/callbacks?status=&limit=&before=`: the endpoint's deliveries, newest first.
 *
 * @example const deadLetters = await listEndpointCallbacks(http, "end_1", { status: "failed" });
 */
export async function listEndpointCallbacks(
  http: HttpTransport,
  endpointId: string,
  options: ListEndpointCallbacksOptions = {},
): Promise<CallbackDeliveryView[]> {
  const list = await http.request<CallbackDeliveryList>("GET", `${endpointPath(endpointId)}/callbacks`, {
    query: { status: options.status, limit: options.limit, before: options.before },
  });
  return list.callbacks;
}

/**
 * `GET /v1/callbacks/{id}`: one delivery with its attempts.
 *
 * @example const delivery = await getCallback(http, "dlv_1");
 */
export function getCallback(http: HttpTransport, deliveryId: string): Promise<CallbackDeliveryView> {
  return http.request<CallbackDeliveryView>("GET", `/v1/callbacks/${encodeURIComponent(deliveryId)}`);
}

/**
 * `POST /v1/callbacks/{id}/replay`: sends a delivered or failed delivery again, now, with the same
 * `webhook-id` and body; answers the delivery.
 *
 * @example const delivery = await replayCallback(http, "dlv_1");
 */
export function replayCallback(http: HttpTransport, deliveryId: string): Promise<CallbackDeliveryView> {
  return http.request<CallbackDeliveryView>("POST", `/v1/callbacks/${encodeURIComponent(deliveryId)}/replay`);
}

/**
 * `POST /v1/model-endpoints/{id}/callbacks/replay-failed`: replays every dead letter of the endpoint.
 *
 * @example const { replayed } = await replayFailedCallbacks(http, "end_1");
 */
export function replayFailedCallbacks(http: HttpTransport, endpointId: string): Promise<CallbacksReplayed> {
  return http.request<CallbacksReplayed>("POST", `${endpointPath(endpointId)}/callbacks/replay-failed`);
}

/**
 * `GET` (read) or `POST` (rotate) `/v1/model-endpoints/{id}/callback-secret`.
 *
 * @example const { secret } = await callbackSecret(http, "end_1", "rotate");
 */
export function callbackSecret(
  http: HttpTransport,
  endpointId: string,
  action: "read" | "rotate",
): Promise<CallbackSecret> {
  return http.request<CallbackSecret>(
    action === "read" ? "GET" : "POST",
    `${endpointPath(endpointId)}/callback-secret`,
  );
}

function endpointPath(id: string): string {
  return `/v1/model-endpoints/${encodeURIComponent(id)}`;
}
