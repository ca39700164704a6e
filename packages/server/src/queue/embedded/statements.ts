/**
 * The embedded queue's SQL, prepared once per connection. Every statement names the partial index it
 * relies on (see `migrations.ts`), so lease, counts and sweep stay index lookups at any table size.
 */

import type { TaskStatus } from "@launch/protocol";
import type BetterSqlite3 from "better-sqlite3";

/** A `tasks` row as `get` reads it (every column but the payload). */
export interface TaskRow {
  id: string;
  queue: string;
  owner: string;
  created_by: string;
  status: TaskStatus;
  attempts: number;
  max_attempts: number;
  created_at: number;
  expires_at: number | null;
  started_at: number | null;
  finished_at: number | null;
  worker_id: string | null;
  lease_expires_at: number | null;
  output: string | null;
  status_code: number | null;
  error_message: string | null;
  traceback: string | null;
}

/** The SQL of every statement the adapter runs. */
const SQL = {
  /** (id, queue, owner, created_by, payload, max_attempts, created_at, expires_at, callback); 0 changes: id taken. */
  insert: `INSERT INTO tasks (id, queue, owner, created_by, status, payload, max_attempts, created_at, expires_at,
         callback)
       VALUES (?, ?, ?, ?, 'PENDING', ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
  /** (queue, now, limit): oldest leasable tasks. tasks_pending is ordered by (queue, seq). `LIMIT ? + 0`: a bare bound LIMIT makes SQLite re-prepare the statement on every run. */
  leasable: `SELECT seq, id, owner, created_by, payload, attempts, max_attempts, created_at
       FROM tasks INDEXED BY tasks_pending
       WHERE queue = ? AND status = 'PENDING' AND (expires_at IS NULL OR expires_at > ?)
       ORDER BY seq LIMIT ? + 0`,
  /** (queue, now): any leasable task? */
  hasWork: `SELECT 1 FROM tasks INDEXED BY tasks_pending
       WHERE queue = ? AND status = 'PENDING' AND (expires_at IS NULL OR expires_at > ?) LIMIT 1`,
  /** (lease_token, lease_expires_at, worker_id, started_at, seq). */
  markLeased: `UPDATE tasks SET status = 'STARTED', attempts = attempts + 1, lease_token = ?, lease_expires_at = ?,
         worker_id = ?, started_at = ?
       WHERE seq = ?`,
  /** (lease_expires_at, id, lease_token). */
  extend: `UPDATE tasks SET lease_expires_at = ? WHERE id = ? AND status = 'STARTED' AND lease_token = ?`,
  /** (finished_at, output, status_code, id, lease_token) → the queue, owner and callback spec. */
  complete: `UPDATE tasks SET status = 'SUCCESS', finished_at = ?, output = ?, status_code = ?, lease_token = NULL,
         lease_expires_at = NULL, error_message = NULL, traceback = NULL
       WHERE id = ? AND status = 'STARTED' AND lease_token = ?
       RETURNING queue, owner, callback`,
  /** ({ retry: 0|1, now, message, traceback, statusCode, id, token }) → the new status, queue, owner, callback. */
  fail: `UPDATE tasks SET
         status = CASE WHEN @retry AND attempts < max_attempts THEN 'PENDING' ELSE 'FAILURE' END,
         finished_at = CASE WHEN @retry AND attempts < max_attempts THEN NULL ELSE @now END,
         error_message = @message, traceback = @traceback, status_code = @statusCode, lease_token = NULL,
         lease_expires_at = NULL
       WHERE id = @id AND status = 'STARTED' AND lease_token = @token
       RETURNING status, queue, owner, callback`,
  /** (id, lease_token) → the queue; gives the attempt back. */
  release: `UPDATE tasks SET status = 'PENDING', attempts = attempts - 1, lease_token = NULL, lease_expires_at = NULL
       WHERE id = ? AND status = 'STARTED' AND lease_token = ?
       RETURNING queue`,
  /** (now, worker_id, now): the worker's live leases expire now. Scans tasks_leased (in-flight only). */
  revoke: `UPDATE tasks SET lease_expires_at = ?
       WHERE status = 'STARTED' AND worker_id = ? AND lease_expires_at > ?`,
  get: `SELECT id, queue, owner, created_by, status, attempts, max_attempts, created_at, expires_at, started_at,
         finished_at, worker_id, lease_expires_at, output, status_code, error_message, traceback
       FROM tasks WHERE id = ?`,
  /** Queued tasks per queue (at startup, to load the in-memory tally). */
  queuedByQueue: `SELECT queue, count(*) AS n FROM tasks INDEXED BY tasks_pending WHERE status = 'PENDING' GROUP BY queue`,
  /** In-flight tasks per queue (at startup). */
  inFlightByQueue: `SELECT queue, count(*) AS n FROM tasks INDEXED BY tasks_leased WHERE status = 'STARTED' GROUP BY queue`,
  /** (now): leases past their deadline. */
  expiredLeases: `SELECT seq, id, queue, owner, attempts, max_attempts, callback FROM tasks INDEXED BY tasks_leased
       WHERE status = 'STARTED' AND lease_expires_at <= ?`,
  /** (seq): an expired lease goes back to the queue, keeping its place. */
  requeue: `UPDATE tasks SET status = 'PENDING', lease_token = NULL, lease_expires_at = NULL WHERE seq = ?`,
  /** (now, message, seq): an expired lease with no attempts left. */
  failExpired: `UPDATE tasks SET status = 'FAILURE', finished_at = ?, error_message = ?, traceback = NULL,
         status_code = NULL, lease_token = NULL, lease_expires_at = NULL
       WHERE seq = ?`,
  /** (now, message, now) → their ids and queues: queued tasks past their expiry become UNDEFINED. */
  expireQueued: `UPDATE tasks INDEXED BY tasks_pending_expiry SET status = 'UNDEFINED', finished_at = ?, error_message = ?,
         traceback = NULL, status_code = NULL
       WHERE status = 'PENDING' AND expires_at <= ?
       RETURNING id, queue`,
  /** (cutoff, limit): finished tasks older than the retention. */
  purge: `DELETE FROM tasks WHERE seq IN (
         SELECT seq FROM tasks INDEXED BY tasks_finished WHERE finished_at <= ? LIMIT ?)`,
} as const;

export type Statements = { readonly [K in keyof typeof SQL]: BetterSqlite3.Statement };

/** Prepares every statement the adapter runs, once per connection. */
export function prepareStatements(db: BetterSqlite3.Database): Statements {
  const out: Partial<Record<keyof typeof SQL, BetterSqlite3.Statement>> = {};
  for (const name of Object.keys(SQL) as (keyof typeof SQL)[]) out[name] = db.prepare(SQL[name]);
  return out as Statements;
}
