/**
 * The callback outbox port: durable deliveries of post-inference callbacks and the log of their attempts
 * (`callbacks.md` §3), in domain terms.
 *
 * How a delivery comes to be: when a task is submitted, the gateway resolves the endpoint's hooks and
 * callback defaults with the task's overrides into a {@link CallbackSpec} and stores it with the task
 * (`NewTask.callback`). When the task finishes — `complete`, a final `fail`, or the sweep failing an
 * expired lease — the queue adapter writes the delivery **in the same transaction** as the result, so a
 * delivery exists if and only if the result does. Sync tasks' hooks and replays use `addDelivery`.
 *
 * Which finishes write one: `complete` → `succeeded`; a final `fail` or the sweep failing an expired last
 * lease → `failed`; only when `spec.events` lists the event. A task that expires while queued
 * (`UNDEFINED`) sends nothing: no worker ran it, so there is no outcome to report. With `spec.url` null
 * the delivery is written `skipped` with the note "no callback URL", so the task's delivery log shows why
 * nothing was sent. Bodies are built by `callbacks/delivery-body.ts`.
 *
 * Dispatchers (one per server on a single node; a pool when scaled out) claim due deliveries, send them,
 * and record each attempt with the delivery's next state atomically. A claim expires, so a dispatcher
 * that dies mid-attempt only delays the delivery (at-least-once); one that stops gives its claims back
 * (`releaseClaim`), so they go out again at once. A claim is lost when another claim takes the delivery,
 * not at its deadline: a dispatcher that records a little late, before anyone reclaimed, still wins.
 *
 * Retention: the queue's sweep deletes `delivered` and `skipped` deliveries (and their attempts) once
 * older than the result retention, like their tasks; `pending` and `failed` ones are kept, so a dead
 * letter stays listable and replayable after its task is gone.
 *
 * Adapters: the embedded queue (`queue/embedded/`) implements this port on the same SQLite file as the
 * tasks. The behaviour suite is `callbacks/outbox.suite.ts`.
 *
 * Times are epoch milliseconds.
 */
import type { CallbackEvent } from "@launch/protocol";
import type { StoredCallbackAuth } from "../store/port.js";

/** What a finished task sends, fixed when the task is submitted (an edit applies to tasks created after it). */
export interface CallbackSpec {
  /** The task's `callback_url`, else the endpoint's `default_callback_url`; null: none was given. */
  url: string | null;
  /** The task's `callback_auth`, else the endpoint default (sealed secrets); null: none. */
  auth: StoredCallbackAuth | null;
  /** The task's `callback_events`, else the endpoint's, else `["succeeded"]`. */
  events: CallbackEvent[];
}

/**
 * - `pending`: waiting for its next attempt (or its first).
 * - `delivered`: a receiver answered 2xx.
 * - `failed`: a dead letter: a permanent failure (4xx other than 408/429, 410) or the schedule ran out.
 * - `skipped`: nothing could be sent (the endpoint has the hook but no URL was given); kept so the task
 *   shows why no callback came.
 */
export type DeliveryStatus = "pending" | "delivered" | "failed" | "skipped";

export const DELIVERY_STATUSES = [
  "pending",
  "delivered",
  "failed",
  "skipped",
] as const satisfies readonly DeliveryStatus[];

export interface NewDelivery {
  /** `newId("delivery")`; also the `webhook-id` header, stable across retries and replays. */
  id: string;
  /** null for sync tasks (the reference sends `task_id: null` for them). */
  taskId: string | null;
  endpointId: string;
  owner: string;
  event: CallbackEvent;
  url: string | null;
  auth: StoredCallbackAuth | null;
  /** The exact JSON body to POST (so every attempt sends the same bytes). */
  body: string;
  /** `skipped` with a reason (`note`), or `pending`, due at once (at `createdAt`). A `pending` one needs a `url`. */
  status: "pending" | "skipped";
  /** Why it was skipped (e.g. "no callback URL"). */
  note?: string | null;
  createdAt: number;
}

export interface DeliveryRecord {
  id: string;
  taskId: string | null;
  endpointId: string;
  owner: string;
  event: CallbackEvent;
  url: string | null;
  auth: StoredCallbackAuth | null;
  body: string;
  status: DeliveryStatus;
  /** Attempts made so far. */
  attempts: number;
  /** When the next attempt is due (pending only). */
  nextAttemptAt: number | null;
  /** The last attempt's error, or why the delivery was skipped or failed. */
  lastError: string | null;
  /** The last attempt's HTTP status, when a receiver answered. */
  lastStatusCode: number | null;
  createdAt: number;
  /** When a receiver accepted it. */
  deliveredAt: number | null;
}

/**
 * An attempt as a dispatcher reports it to `recordAttempt`: the adapter numbers it (the delivery's
 * attempts + 1) and ties it to the delivery, so `deliveryId` and `n` may be left out (they are ignored).
 */
export type NewAttempt = Omit<AttemptRecord, "deliveryId" | "n"> & { deliveryId?: string; n?: number };

/** One try at sending a delivery, as logged. */
export interface AttemptRecord {
  deliveryId: string;
  /** 1, 2, … (replays continue the numbering). */
  n: number;
  /** When the attempt started (epoch milliseconds, an integer). */
  startedAt: number;
  url: string;
  /** The receiver's status; null when none answered. */
  statusCode: number | null;
  /** e.g. `timeout`, `connection_refused`, `tls`, `dns`, `refused_address`, `http_5xx`; null on success. */
  errorClass: string | null;
  errorMessage: string | null;
  latencyMs: number;
  /** What the attempt decided. */
  outcome: "delivered" | "retry" | "failed";
  /** When the next attempt is due: required with outcome `retry` (an integer), else null. */
  nextAttemptAt: number | null;
}

/** A delivery a dispatcher claimed; the token proves the claim when recording the attempt. */
export interface ClaimedDelivery extends DeliveryRecord {
  claimToken: string;
}

export interface DeliveryListQuery {
  endpointId: string;
  status?: DeliveryStatus | undefined;
  /** At most this many, newest first (default 100). */
  limit?: number | undefined;
  /** Only deliveries created before this delivery id (paging). */
  before?: string | undefined;
}

export interface CallbackOutbox {
  /**
   * Adds a delivery outside a task's completion (sync-task hooks). Durable when it resolves. A delivery id
   * already used is a `conflict` LaunchError; bad fields are a `validation_failed` LaunchError naming them.
   */
  addDelivery(delivery: NewDelivery): Promise<DeliveryRecord>;

  /**
   * Claims up to `max` pending deliveries due at `now` (the adapter's clock by default; oldest due first)
   * that no live claim holds, until `now + claimMs`, each with a fresh claim token. Resolves `[]` when
   * none is due.
   */
  claimDue(max: number, claimMs: number, now?: number): Promise<ClaimedDelivery[]>;

  /**
   * Logs the attempt (numbered by the adapter) and moves the delivery in one step: `delivered`, `pending`
   * again at `attempt.nextAttemptAt` (outcome `retry`), or `failed` (a dead letter); the claim is released.
   * False when the claim was lost to another claim, or the delivery is unknown or no longer pending
   * (nothing is written). A malformed attempt is a `validation_failed` LaunchError.
   */
  recordAttempt(deliveryId: string, claimToken: string, attempt: NewAttempt): Promise<boolean>;

  /**
   * Gives a claimed delivery back without an attempt (a dispatcher stopping): it is claimable again at
   * once, its due time and attempts unchanged. False when the claim was already lost, or the delivery is
   * unknown or no longer pending (nothing is written).
   *
   * @example await outbox.releaseClaim(claimed.id, claimed.claimToken);
   */
  releaseClaim(deliveryId: string, claimToken: string): Promise<boolean>;

  /**
   * Resolves true as soon as a delivery may be claimable: at once when one is, when one is added, retried
   * or replayed, when the earliest pending delivery comes due, or when a claim on a due one expires; false
   * at `timeoutMs`, on abort, or when closed. A true is a hint: another dispatcher may claim it first.
   *
   * @example while (running) { const batch = await outbox.claimDue(64, 30_000); if (batch.length === 0) await outbox.waitForDue(60_000, signal); }
   */
  waitForDue(timeoutMs: number, signal?: AbortSignal): Promise<boolean>;

  getDelivery(id: string): Promise<DeliveryRecord | undefined>;
  /** A delivery's attempts, in order. */
  listAttempts(deliveryId: string): Promise<AttemptRecord[]>;
  /** The deliveries of one task (usually one), oldest first. */
  listDeliveriesOfTask(taskId: string): Promise<DeliveryRecord[]>;
  /** An endpoint's deliveries, newest first, optionally of one status. */
  listDeliveries(query: DeliveryListQuery): Promise<DeliveryRecord[]>;

  /**
   * Sends a `failed` or `delivered` delivery again: it becomes `pending`, due now, keeping its id
   * (`webhook-id`) and body. Resolves the record, or undefined when unknown. A `pending` one is left as
   * it is; a `skipped` one cannot be replayed (it has no URL) and is a `bad_request` LaunchError.
   */
  replay(deliveryId: string, now?: number): Promise<DeliveryRecord | undefined>;
  /** Replays every dead letter (`failed`) of an endpoint; resolves how many. */
  replayFailed(endpointId: string, now?: number): Promise<number>;
}
