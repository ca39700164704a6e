/**
 * The embedded outbox's SQL (`deliveries` and `attempts`, migration 2), prepared once per connection, and
 * the mapping of its rows to the port's records. Each statement names the index it relies on.
 */
import type { CallbackEvent } from "@launch/protocol";
import type BetterSqlite3 from "better-sqlite3";
import type { AttemptRecord, ClaimedDelivery, DeliveryRecord, DeliveryStatus } from "../../callbacks/port.js";
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

/**
 * Claims the deliveries whose seq `SELECTED` picks (`@max` of them at most) until @until; each token is
 * `@token` (a fresh random prefix ending in ".") followed by the delivery's seq, which `afterAttempt` and
 * `releaseClaim` read back to find the row by its key.
 */
const CLAIM = `UPDATE deliveries SET claim_token = @token || seq, claim_expires_at = @until
       WHERE seq IN (%SELECTED%) RETURNING ${COLUMNS}, claim_token`;

/**
 * The claim's `LIMIT`. Not a bare `@max`: SQLite reads a bare bound LIMIT while planning, so every new
 * binding would compile the statement again (with RETURNING, about as costly as running it); `+ 0` makes
 * it an expression evaluated at run time.
 */
const MAX = "@max + 0";

/** Due pending deliveries under no claim, oldest due first (deliveries_due_unclaimed). */
const DUE_UNCLAIMED = `SELECT seq, next_attempt_at, id FROM deliveries INDEXED BY deliveries_due_unclaimed
       WHERE status = 'pending' AND claim_token IS NULL AND next_attempt_at <= @now`;

/** Pending deliveries whose claim ran out by @now (deliveries_claimed). */
const CLAIM_RAN_OUT = `SELECT seq, next_attempt_at, id FROM deliveries INDEXED BY deliveries_claimed
       WHERE claim_token IS NOT NULL AND claim_expires_at <= @now AND status = 'pending' AND next_attempt_at <= @now`;

/** The row a claim token names, still under that claim (the token ends in the row's seq). */
const UNDER_CLAIM = "seq = @seq AND id = @id AND claim_token = @token AND status = 'pending'";

/** The statements whose rows are read as arrays (see `claimedFromValues`), in {@link COLUMNS} order. */
const RAW = new Set(["claim", "claimWithLapsed"]);

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
  /**
   * ({ now, max, token, until }) → the claimed rows as arrays (any order; `claimedFromValues`): claims the
   * oldest due deliveries under no claim, when no claim has run out (deliveries_due_unclaimed).
   */
  claim: CLAIM.replace(
    "%SELECTED%",
    `${DUE_UNCLAIMED.replace("seq, next_attempt_at, id", "seq")} ORDER BY next_attempt_at, id LIMIT ${MAX}`,
  ),
  /**
   * ({ now, max, token, until }) → the claimed rows as arrays (any order): as `claim`, taking deliveries whose claim
   * ran out too, oldest due first across both (deliveries_due_unclaimed and deliveries_claimed).
   */
  claimWithLapsed: CLAIM.replace(
    "%SELECTED%",
    `SELECT seq FROM (${DUE_UNCLAIMED} UNION ALL ${CLAIM_RAN_OUT}) ORDER BY next_attempt_at, id LIMIT ${MAX}`,
  ),
  /** ({ now }): a row when some pending delivery's claim ran out (deliveries_claimed). */
  anyLapsed: `SELECT 1 FROM deliveries INDEXED BY deliveries_claimed
       WHERE claim_token IS NOT NULL AND claim_expires_at <= @now AND status = 'pending' LIMIT 1`,
  /** (): when the earliest pending delivery under no claim is due (deliveries_due_unclaimed). */
  nextDue: `SELECT next_attempt_at AS at FROM deliveries INDEXED BY deliveries_due_unclaimed
       WHERE status = 'pending' AND claim_token IS NULL ORDER BY next_attempt_at, id LIMIT 1`,
  /** (): when the earliest claim on a pending delivery runs out, or ran out (deliveries_claimed). */
  nextClaimExpiry: `SELECT claim_expires_at AS at FROM deliveries INDEXED BY deliveries_claimed
       WHERE claim_token IS NOT NULL AND status = 'pending' ORDER BY claim_expires_at LIMIT 1`,
  /** ({ seq, id, token }): gives a claimed delivery back, due as it was; 0 changes: the claim was lost. */
  releaseClaim: `UPDATE deliveries SET claim_token = NULL, claim_expires_at = NULL WHERE ${UNDER_CLAIM}`,
  /**
   * (status, next, lastError, statusCode, deliveredAt, seq, id, token) → the attempts made, counting this
   * one, and the delivery's creation time; nothing when the claim was lost. Positional: run once per
   * attempt, where binding by name costs more than the rest of the statement's JavaScript side.
   */
  afterAttempt: `UPDATE deliveries SET attempts = attempts + 1, status = ?, next_attempt_at = ?, last_error = ?,
         last_status_code = ?, delivered_at = ?, claim_token = NULL, claim_expires_at = NULL
       WHERE seq = ? AND id = ? AND claim_token = ? AND status = 'pending'
       RETURNING attempts, created_at`,
  /** (deliveryId, n, startedAt, url, statusCode, errorClass, errorMessage, latencyMs, outcome, next); positional. */
  insertAttempt: `INSERT INTO attempts (delivery_id, n, started_at, url, status_code, error_class, error_message,
         latency_ms, outcome, next_attempt_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
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
  for (const name of Object.keys(SQL) as (keyof typeof SQL)[]) {
    const statement = db.prepare(SQL[name]);
    out[name] = RAW.has(name) ? statement.raw(true) : statement;
  }
  return out as DeliveryStatements;
}

/** A row as `claim` returns it: the values of {@link COLUMNS} in order, then the new claim token. */
export type ClaimedValues = unknown[];

/** Where `claim` puts each value it returns. */
const AT = {
  seq: 0,
  id: 1,
  taskId: 2,
  endpointId: 3,
  owner: 4,
  event: 5,
  url: 6,
  auth: 7,
  body: 8,
  status: 9,
  attempts: 10,
  nextAttemptAt: 11,
  lastError: 12,
  lastStatusCode: 13,
  createdAt: 14,
  deliveredAt: 15,
  claimToken: 16,
} as const;

/**
 * A claimed delivery from the values `claim` returns. The claim reads arrays: better-sqlite3 builds them
 * in about half the time of row objects, and the record is built here anyway.
 */
export function claimedFromValues(values: ClaimedValues): ClaimedDelivery {
  const auth = values[AT.auth] as string | null;
  return {
    id: values[AT.id] as string,
    taskId: values[AT.taskId] as string | null,
    endpointId: values[AT.endpointId] as string,
    owner: values[AT.owner] as string,
    event: values[AT.event] as CallbackEvent,
    url: values[AT.url] as string | null,
    auth: auth === null ? null : (JSON.parse(auth) as StoredCallbackAuth),
    body: values[AT.body] as string,
    status: values[AT.status] as DeliveryStatus,
    attempts: values[AT.attempts] as number,
    nextAttemptAt: values[AT.nextAttemptAt] as number | null,
    lastError: values[AT.lastError] as string | null,
    lastStatusCode: values[AT.lastStatusCode] as number | null,
    createdAt: values[AT.createdAt] as number,
    deliveredAt: values[AT.deliveredAt] as number | null,
    claimToken: values[AT.claimToken] as string,
  };
}

/** Oldest due first, then by id: the order claims are handed out in. */
export function byDueOrder(a: ClaimedValues, b: ClaimedValues): number {
  const due = (a[AT.nextAttemptAt] as number) - (b[AT.nextAttemptAt] as number);
  if (due !== 0) return due;
  const [x, y] = [a[AT.id] as string, b[AT.id] as string];
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * The seq a claim token names (see `claim`), or undefined when the text is no token of ours.
 *
 * @example seqOfClaimToken("0b6f….42") // 42
 */
export function seqOfClaimToken(token: string): number | undefined {
  const seq = Number(token.slice(token.lastIndexOf(".") + 1));
  return Number.isSafeInteger(seq) && seq > 0 ? seq : undefined;
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
