/**
 * What a task's callback will be, fixed when the task is submitted (`callbacks.md` §1): the endpoint's
 * hooks and defaults as they are at that moment, with the task's overrides. Because this snapshot is
 * stored with the task, an edit of the endpoint applies to tasks submitted after it, never before.
 */
import type { CallbackEvent } from "@launch/protocol";
import type { CallbackSpec } from "../callbacks/port.js";
import type { EndpointRecord } from "../store/port.js";
import type { TaskPayload } from "./task-payload.js";

/** The hook that turns callbacks on (`PostInferenceHooks.CALLBACK`). */
export const CALLBACK_HOOK = "callback";

/** The events of an endpoint that gives none: success only, the seed document's behaviour. */
export const DEFAULT_CALLBACK_EVENTS: readonly CallbackEvent[] = ["succeeded"];

/**
 * Resolves a task's callback, or null when the endpoint has no `callback` hook (then nothing is ever
 * sent, whatever URLs are given):
 * - url: the task's `callback_url`, else the endpoint's `default_callback_url`, else null (the delivery
 *   is then recorded as skipped, "no callback URL");
 * - auth: the task's `callback_auth`, else the endpoint's default, even when they are of different
 *   kinds (both already sealed);
 * - events: the task's `callback_events`, else the endpoint's, else `["succeeded"]`.
 *
 * @example resolveCallbackSpec(endpoint, payload.callback) // { url: "https://example.com", auth: null, events: ["succeeded"] }
 */
export function resolveCallbackSpec(
  endpoint: EndpointRecord,
  override: TaskPayload["callback"],
): CallbackSpec | null {
  const spec = endpoint.spec;
  if (!spec.postInferenceHooks?.includes(CALLBACK_HOOK)) return null;
  return {
    url: override?.url ?? spec.defaultCallbackUrl ?? null,
    auth: override?.auth ?? spec.defaultCallbackAuth ?? null,
    events: [...(override?.events ?? spec.callbackEvents ?? DEFAULT_CALLBACK_EVENTS)],
  };
}
