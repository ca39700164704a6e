/**
 * Wire types of the callback routes [ext]: the signing secret (`/v1/model-endpoints/{id}/callback-secret`)
 * and the delivery log (`/v1/async-tasks/{id}/callbacks`, `/v1/model-endpoints/{id}/callbacks`,
 * `/v1/callbacks/{id}/replay`). Times are ISO 8601 strings in UTC.
 */
import type { CallbackAuthKind, CallbackEvent } from "./endpoints.js";

/** Where a delivery stands: waiting, accepted by a receiver, a dead letter, or nothing to send. */
export const CALLBACK_DELIVERY_STATUSES = ["pending", "delivered", "failed", "skipped"] as const;
export type CallbackDeliveryStatus = (typeof CALLBACK_DELIVERY_STATUSES)[number];

/** What an attempt decided. */
export const CALLBACK_ATTEMPT_OUTCOMES = ["delivered", "retry", "failed"] as const;
export type CallbackAttemptOutcome = (typeof CALLBACK_ATTEMPT_OUTCOMES)[number];

/** Deliveries `GET /v1/model-endpoints/{id}/callbacks` returns without `?limit=`, and the most it returns. */
export const CALLBACK_LIST_LIMIT_DEFAULT = 100;
export const CALLBACK_LIST_LIMIT_MAX = 1000;

/**
 * An endpoint's callback signing secret (`whsec_…`), as its owner reads or rotates it. During the grace
 * period after a rotation the previous secret signs too, until `previous_secret_expires_at`.
 */
export interface CallbackSecret {
  secret: string;
  previous_secret_expires_at: string | null;
}

/** One try at sending a delivery. */
export interface CallbackAttemptView {
  n: number;
  started_at: string;
  url: string;
  /** The receiver's HTTP status; null when none answered. */
  status_code: number | null;
  /** e.g. `timeout`, `connection_refused`, `tls`, `dns`, `refused_address`, `http_5xx`; null on success. */
  error_class: string | null;
  error_message: string | null;
  latency_ms: number;
  outcome: CallbackAttemptOutcome;
  next_attempt_at: string | null;
}

/**
 * One callback of one task (or of a sync task: `task_id` null), with its attempts. Credentials are never
 * shown (only their kind); `body` is the JSON posted, shown to the team that owns the delivery.
 */
export interface CallbackDeliveryView {
  id: string;
  task_id: string | null;
  endpoint_id: string;
  event: CallbackEvent;
  url: string | null;
  auth_kind: CallbackAuthKind | null;
  status: CallbackDeliveryStatus;
  attempts: CallbackAttemptView[];
  next_attempt_at: string | null;
  /** The last attempt's error, or why the delivery was skipped or failed. */
  last_error: string | null;
  last_status_code: number | null;
  created_at: string;
  delivered_at: string | null;
  /** The JSON body sent on every attempt; null when the delivery belongs to another team's task. */
  body: unknown;
}

/** The answer of both delivery lists. */
export interface CallbackDeliveryList {
  callbacks: CallbackDeliveryView[];
}

/** The answer of `POST /v1/model-endpoints/{id}/callbacks/replay-failed`. */
export interface CallbacksReplayed {
  replayed: number;
}
