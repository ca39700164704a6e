/**
 * What the gateway stores with an async task for its worker (the queue's opaque `payload`). The worker
 * sees `args`, `url` and `returnPickled`; the callback part stays on the server (the dispatcher of the
 * callbacks work reads it) and its secrets are sealed.
 */
import type { CallbackEvent } from "@launch/protocol";
import type { StoredCallbackAuth } from "../store/port.js";

export interface TaskPayload {
  args?: unknown;
  url?: string | null;
  returnPickled?: boolean;
  /** The per-task callback override as submitted (sealed secrets); null when the task gave none. */
  callback?: {
    url: string | null;
    auth: StoredCallbackAuth | null;
    events: CallbackEvent[] | null;
  } | null;
}
