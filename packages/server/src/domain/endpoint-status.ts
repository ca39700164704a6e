/**
 * The endpoint state machine, in one place (`wire-protocol.md` §4).
 *
 * ```
 *   created ──▶ UPDATE_PENDING ──rollout started──▶ UPDATE_IN_PROGRESS ──rollout succeeded──▶ READY
 *                  ▲    │                                │                                      │
 *                  │    └──────rollout failed(reason)────┴──────────▶ UPDATE_FAILED             │
 *                  └──── edited / restart (from any state but DELETE_IN_PROGRESS) ◀─────────────┘
 *   READY ──workers failed(reason): they keep crashing──▶ UPDATE_FAILED
 *   delete requested (from any state) ──▶ DELETE_IN_PROGRESS ──▶ (record removed)
 * ```
 *
 * `status_reason` is set by a failed rollout and cleared by every other transition.
 */
import { type EndpointStatus, LaunchError } from "@launch/protocol";

/** What can happen to an endpoint. */
export type EndpointEvent =
  | { type: "created" }
  | { type: "edited" }
  | { type: "restart" }
  | { type: "rollout_started" }
  | { type: "rollout_succeeded" }
  | { type: "rollout_failed"; reason: string }
  /** A READY endpoint's workers keep crashing; the controller stops restarting them. */
  | { type: "workers_failed"; reason: string }
  | { type: "delete_requested" };

export type EndpointEventType = EndpointEvent["type"];

/** An endpoint's status and the reason that goes with it (only `UPDATE_FAILED` has one). */
export interface EndpointStatusState {
  status: EndpointStatus;
  statusReason: string | null;
}

/** `null` stands for "no endpoint yet": only `created` starts from there. */
type From = EndpointStatus | null;

const ALL_LIVE: readonly EndpointStatus[] = [
  "UPDATE_PENDING",
  "UPDATE_IN_PROGRESS",
  "READY",
  "UPDATE_FAILED",
];

/** For each event: the statuses it may start from, and the status it leads to. */
const TABLE: Record<EndpointEventType, { from: readonly From[]; to: EndpointStatus; verb: string }> = {
  created: { from: [null], to: "UPDATE_PENDING", verb: "create" },
  edited: { from: ALL_LIVE, to: "UPDATE_PENDING", verb: "edit" },
  restart: { from: ALL_LIVE, to: "UPDATE_PENDING", verb: "restart" },
  rollout_started: { from: ["UPDATE_PENDING"], to: "UPDATE_IN_PROGRESS", verb: "start a rollout of" },
  rollout_succeeded: { from: ["UPDATE_IN_PROGRESS"], to: "READY", verb: "finish a rollout of" },
  rollout_failed: {
    from: ["UPDATE_PENDING", "UPDATE_IN_PROGRESS"],
    to: "UPDATE_FAILED",
    verb: "fail a rollout of",
  },
  workers_failed: { from: ["READY"], to: "UPDATE_FAILED", verb: "fail the workers of" },
  // Deleting twice is allowed, so that a delete that stopped halfway can be retried.
  delete_requested: { from: [...ALL_LIVE, "DELETE_IN_PROGRESS"], to: "DELETE_IN_PROGRESS", verb: "delete" },
};

/** Whether `event` may happen to an endpoint in status `from` (`null`: not created yet). */
export function canTransition(from: From, event: EndpointEventType): boolean {
  return TABLE[event].from.includes(from);
}

/**
 * The status after `event`, or a `conflict` LaunchError (409) when the event cannot happen in `from`,
 * for example editing an endpoint that is being deleted.
 *
 * @example transition("READY", { type: "edited" }) // { status: "UPDATE_PENDING", statusReason: null }
 */
export function transition(from: From, event: EndpointEvent): EndpointStatusState {
  const rule = TABLE[event.type];
  if (!rule.from.includes(from)) {
    const what =
      from === null
        ? "a model endpoint that does not exist"
        : from === "DELETE_IN_PROGRESS"
          ? "a model endpoint that is being deleted"
          : `a model endpoint in status ${from}`;
    throw new LaunchError("conflict", `Cannot ${rule.verb} ${what}.`);
  }
  return {
    status: rule.to,
    statusReason: event.type === "rollout_failed" || event.type === "workers_failed" ? event.reason : null,
  };
}
