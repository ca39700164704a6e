/**
 * The embedded outbox's SQL (`deliveries` and `attempts`, migration 2), prepared once per connection, and
 * the mapping of its rows to the port's records. Each statement names the index it relies on.
 */
import type { CallbackEvent } from "@launch/protocol";
import type BetterSqlite3 from "better-sqlite3";
import type { AttemptRecord, DeliveryRecord, DeliveryStatus } from "../../callbacks/port.js";
import type { StoredCallbackAuth } from "../../store/port.js";

/** A `deliveries` row as read (every column but the claim). */
export interface DeliveryRow {
  seq: number;
  id: string;
  task_id: string | null;
  endpoint_id: string;
  owner: string;
  event: CallbackEvent;
  url: string | null;
  auth: string | null;
  body: string;
  status: DeliveryStatus;
  attempts: number;
  next_attempt_at: number | null;
  last_error: string | null;
  last_status_code: number | null;
  created_at: number;
  delivered_at: number | null;
}

/** An `attempts` row. */
export interface AttemptRow {
  delivery_id: string;
  n: number;
  started_at: number;
  url: string;
  status_code: number | null;
  error_class: string | null;
  error_message: string | null;
  latency_ms: number;
  outcome: AttemptRecord["outcome"];
  next_attempt_at: number | null;
}

const COLUMNS = `seq, id, task_id, endpoint_id, owner, event, url, auth, body, status, attempts, next_attempt_at,
  last_error, last_status_code, created_at, delivered_at`;

/** Whether a pending delivery can be claimed at @now: no claim, or one that ran out. */
const UNCLAIMED = "(claim_expires_at IS NULL OR claim_expires_at <= @now)";

/** Delivered and skipped deliveries older than the cutoff, oldest first (deliveries_done). */
const DONE = `SELECT %COL% FROM deliveries INDEXED BY deliveries_done
       WHERE status IN ('delivered', 'skipped') AND created_at <= ? ORDER BY created_at, id LIMIT ?`;

/** The SQL of every statement the outbox runs. */
const SQL = {
  /** ({ id, taskId, endpointId, owner, event, url, auth, body, status, next, lastError, createdAt }); 0 changes: id taken. */
  insert: `INSERT INTO deliveries (id, task_id, endpoint_id, owner, event, url, auth, body, status, next_attempt_at,
         last_error, created_at)
       VALUES (@id, @taskId, @endpointId, @owner, @event, @url, @auth, @body, @status, @next, @lastError, @createdAt)
       ON CONFLICT (id) DO NOTHING`,
  /** (id). */
  get: `SELECT ${COLUMNS} FROM deliveries WHERE id = ?`,
  /** (task_id): oldest first (deliveries_task). */
  ofTask: `SELECT ${COLUMNS} FROM deliveries INDEXED BY deliveries_task WHERE task_id = ? ORDER BY id`,
  /** ({ endpointId, status, before, limit }): newest first (deliveries_endpoint_status). */
  ofEndpointStatus: `SELECT ${COLUMNS} FROM deliveries INDEXED BY deliveries_endpoint_status
       WHERE endpoint_id = @endpointId AND status = @status AND id < @before ORDER BY id DESC LIMIT @limit`,
  /** ({ now, max }): claimable deliveries, oldest due first (deliveries_due). */
  claimable: `SELECT ${COLUMNS} FROM deliveries INDEXED BY deliveries_due
       WHERE status = 'pending' AND next_attempt_at <= @now AND ${UNCLAIMED}
       ORDER BY next_attempt_at, id LIMIT @max`,
  /** (claim_token, claim_expires_at, seq). */
  claim: `UPDATE deliveries SET claim_token = ?, claim_expires_at = ? WHERE seq = ?`,
  /** ({ now }): when the earliest unclaimed pending delivery is due (deliveries_due). */
  nextDue: `SELECT next_attempt_at AS at FROM deliveries INDEXED BY deliveries_due
       WHERE status = 'pending' AND ${UNCLAIMED} ORDER BY next_attempt_at, id LIMIT 1`,
  /** ({ now }): when the earliest live claim runs out (deliveries_claimed). */
  nextClaimExpiry: `SELECT claim_expires_at AS at FROM deliveries INDEXED BY deliveries_claimed
       WHERE claim_token IS NOT NULL AND claim_expires_at > @now AND status = 'pending'
       ORDER BY claim_expires_at LIMIT 1`,
  /**
   * ({ id, token, status, next, lastError, statusCode, deliveredAt }) → the attempts made, counting this
   * one, and the delivery's creation time; nothing when the claim was lost.
   */
  afterAttempt: `UPDATE deliveries SET attempts = attempts + 1, status = @status, next_attempt_at = @next,
         last_error = @lastError, last_status_code = @statusCode, delivered_at = @deliveredAt,
         claim_token = NULL, claim_expires_at = NULL
       WHERE id = @id AND claim_token = @token AND status = 'pending'
       RETURNING attempts, created_at`,
  /** ({ deliveryId, n, startedAt, url, statusCode, errorClass, errorMessage, latencyMs, outcome, next }). */
  insertAttempt: `INSERT INTO attempts (delivery_id, n, started_at, url, status_code, error_class, error_message,
         latency_ms, outcome, next_attempt_at)
       VALUES (@deliveryId, @n, @startedAt, @url, @statusCode, @errorClass, @errorMessage, @latencyMs, @outcome, @next)`,
  /** (delivery_id): in order (the primary key). */
  attemptsOf: `SELECT delivery_id, n, started_at, url, status_code, error_class, error_message, latency_ms, outcome,
         next_attempt_at
       FROM attempts WHERE delivery_id = ? ORDER BY n`,
  /** (now, seq) → the row: a failed or delivered delivery is due again, keeping its id, body and attempts. */
  replay: `UPDATE deliveries SET status = 'pending', next_attempt_at = ?, delivered_at = NULL, claim_token = NULL,
         claim_expires_at = NULL
       WHERE seq = ? RETURNING ${COLUMNS}`,
  /** (now, endpoint_id): every dead letter of an endpoint is due again (deliveries_endpoint_status). */
  replayFailed: `UPDATE deliveries INDEXED BY deliveries_endpoint_status SET status = 'pending', next_attempt_at = ?,
         claim_token = NULL, claim_expires_at = NULL
       WHERE endpoint_id = ? AND status = 'failed'`,
  /** (): when the oldest delivered or skipped delivery was created (deliveries_done). */
  oldestDone: `SELECT created_at AS at FROM deliveries INDEXED BY deliveries_done
       WHERE status IN ('delivered', 'skipped') ORDER BY created_at, id LIMIT 1`,
  /** (cutoff, limit): the attempts of the deliveries `purge` deletes (same selection, same transaction). */
  purgeAttempts: `DELETE FROM attempts WHERE delivery_id IN (${DONE.replace("%COL%", "id")})`,
  /** (cutoff, limit): delivered and skipped deliveries older than the retention. */
  purge: `DELETE FROM deliveries WHERE seq IN (${DONE.replace("%COL%", "seq")})`,
} as const;

export type DeliveryStatements = { readonly [K in keyof typeof SQL]: BetterSqlite3.Statement };

/** Prepares every statement the outbox runs, once per connection. */
export function prepareDeliveryStatements(db: BetterSqlite3.Database): DeliveryStatements {
  const out: Partial<Record<keyof typeof SQL, BetterSqlite3.Statement>> = {};
  for (const name of Object.keys(SQL) as (keyof typeof SQL)[]) out[name] = db.prepare(SQL[name]);
  return out as DeliveryStatements;
}

/** A delivery row as the port's record. */
export function toDeliveryRecord(row: DeliveryRow): DeliveryRecord {
  return {
    id: row.id,
    taskId: row.task_id,
    endpointId: row.endpoint_id,
    owner: row.owner,
    event: row.event,
    url: row.url,
    auth: row.auth === null ? null : (JSON.parse(row.auth) as StoredCallbackAuth),
    body: row.body,
    status: row.status,
    attempts: row.attempts,
    nextAttemptAt: row.status === "pending" ? row.next_attempt_at : null,
    lastError: row.last_error,
    lastStatusCode: row.last_status_code,
    createdAt: row.created_at,
    deliveredAt: row.delivered_at,
  };
}

/** An attempt row as the port's record. */
export function toAttemptRecord(row: AttemptRow): AttemptRecord {
  return {
    deliveryId: row.delivery_id,
    n: row.n,
    startedAt: row.started_at,
    url: row.url,
    statusCode: row.status_code,
    errorClass: row.error_class,
    errorMessage: row.error_message,
    latencyMs: row.latency_ms,
    outcome: row.outcome,
    nextAttemptAt: row.next_attempt_at,
  };
}
