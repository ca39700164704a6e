/**
 * Callbacks of sync tasks (`callbacks.md` §4): as in the reference server, a sync endpoint with the
 * `callback` hook sends one after each answered task, with `task_id: null`, through the same durable
 * outbox and dispatcher as async tasks. The client's answer never waits for it. Streaming endpoints send
 * none (as in the reference server): the hook seam is only called for sync tasks.
 */
import { type CallbackEvent, newId } from "@launch/protocol";
import { failureBody, successBody } from "../callbacks/delivery-body.js";
import type { CallbackOutbox, NewDelivery } from "../callbacks/port.js";
import { resolveCallbackSpec } from "./callback-spec.js";
import type { AfterSyncTask, SyncTaskFinished } from "./sync-tasks.js";

/** Why a delivery is recorded `skipped`: the endpoint has the hook, but neither it nor the task gave a URL. */
export const NO_CALLBACK_URL = "no callback URL";

/** Where a failure to record a delivery is reported (a pino logger fits). */
export interface SyncCallbackLog {
  error(fields: object, message: string): void;
}

export interface SyncCallbackDeps {
  outbox: Pick<CallbackOutbox, "addDelivery">;
  log: SyncCallbackLog;
  /** Epoch ms. */
  clock: () => number;
}

/**
 * The `afterSyncTask` hook that records a sync task's callback: resolved like an async task's
 * (`callback-spec.ts`), event `succeeded` or `failed` from the answer's status, `skipped` when no URL was
 * given. Recording runs in the background; a failure is logged (endpoint id and error, never the body or
 * credentials), not thrown.
 *
 * @example new SyncTaskService({ ..., afterSyncTask: syncCallbackHook({ outbox, log, clock: Date.now }) })
 */
export function syncCallbackHook(deps: SyncCallbackDeps): AfterSyncTask {
  return (finished) => {
    const delivery = syncDelivery(finished, deps.clock());
    if (!delivery) return;
    deps.outbox.addDelivery(delivery).catch((error: unknown) => {
      deps.log.error(
        { err: error, endpointId: finished.endpoint.id },
        "could not record the callback of a sync task",
      );
    });
  };
}

/** The delivery a sync task's answer calls for, or undefined when none (no hook, or not that event). */
export function syncDelivery(finished: SyncTaskFinished, now: number): NewDelivery | undefined {
  const spec = resolveCallbackSpec(finished.endpoint, finished.payload.callback);
  if (spec === null) return undefined;
  const answer = JSON.parse(finished.response) as {
    status?: unknown;
    result?: unknown;
    traceback?: unknown;
  };
  const event: CallbackEvent = answer.status === "SUCCESS" ? "succeeded" : "failed";
  if (!spec.events.includes(event)) return undefined;
  const body =
    event === "succeeded"
      ? successBody(null, (answer.result as { result?: unknown } | null)?.result ?? null)
      : failureBody(null, failureOf(answer.result, answer.traceback));
  return {
    id: newId("delivery"),
    taskId: null,
    endpointId: finished.endpoint.id,
    owner: finished.caller.teamId,
    event,
    url: spec.url,
    auth: spec.auth,
    body,
    status: spec.url === null ? "skipped" : "pending",
    note: spec.url === null ? NO_CALLBACK_URL : null,
    createdAt: now,
  };
}

/** A failed answer's message (its `result` when a string, else the traceback's last line) and traceback. */
function failureOf(result: unknown, traceback: unknown): { message: string; traceback: string | null } {
  const text = typeof traceback === "string" ? traceback : null;
  if (typeof result === "string" && result !== "") return { message: result, traceback: text };
  const lastLine = text
    ?.split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "")
    .at(-1);
  return { message: lastLine ?? "the model failed", traceback: text };
}
