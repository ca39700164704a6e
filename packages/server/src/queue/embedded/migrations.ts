/**
 * The embedded queue's schema: plain numbered SQL migrations, applied in order at startup under SQLite's
 * write lock, the version kept in `PRAGMA user_version`. Never edit a shipped migration; add the next.
 */
import type BetterSqlite3 from "better-sqlite3";

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/**
 * Statuses are the wire's (`PENDING`, `STARTED`, `SUCCESS`, `FAILURE`, `UNDEFINED`); times are epoch
 * milliseconds. `seq` (the rowid) gives FIFO order. The partial indexes keep each hot query on a small
 * index: lease and queued counts (`tasks_pending`, ordered by queue then seq), expired leases and
 * in-flight counts (`tasks_leased`), expiry of queued tasks (`tasks_pending_expiry`) and the retention
 * purge (`tasks_finished`).
 *
 * Version 2, the callback outbox (`callbacks/port.ts`): `tasks.callback` holds the task's callback spec as
 * JSON (NULL: no `callback` hook); `deliveries` holds one row per callback to send, `attempts` the log of
 * each try (keyed by delivery and number). `auth` is the sealed credential as JSON; `claim_token` and
 * `claim_expires_at` hold a dispatcher's claim. Indexes: due deliveries in due order (`deliveries_due`,
 * pending only), live claims (`deliveries_claimed`, for the next claim expiry), a task's deliveries
 * (`deliveries_task`), an endpoint's deliveries of one status newest first (`deliveries_endpoint_status`;
 * a listing of every status merges one range per status, which spares each delivery write an index),
 * and the retention purge of delivered and skipped ones (`deliveries_done`).
 *
 * Version 3, claims off the due index: `deliveries_due` becomes `deliveries_due_unclaimed`, pending
 * deliveries under no claim only. A claim moves its delivery from that index to `deliveries_claimed`, so a
 * claim reads the oldest due deliveries straight off the index instead of stepping over (and looking up)
 * every delivery other attempts hold; claims that ran out are found on `deliveries_claimed`.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "tasks",
    sql: `
      CREATE TABLE tasks (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        queue TEXT NOT NULL,
        owner TEXT NOT NULL,
        created_by TEXT NOT NULL,
        status TEXT NOT NULL,
        payload TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        max_attempts INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER,
        started_at INTEGER,
        finished_at INTEGER,
        worker_id TEXT,
        lease_token TEXT,
        lease_expires_at INTEGER,
        output TEXT,
        status_code INTEGER,
        error_message TEXT,
        traceback TEXT
      ) STRICT;
      CREATE INDEX tasks_pending ON tasks (queue) WHERE status = 'PENDING';
      CREATE INDEX tasks_pending_expiry ON tasks (expires_at) WHERE status = 'PENDING' AND expires_at IS NOT NULL;
      CREATE INDEX tasks_leased ON tasks (lease_expires_at) WHERE status = 'STARTED';
      CREATE INDEX tasks_finished ON tasks (finished_at) WHERE finished_at IS NOT NULL;
    `,
  },
  {
    version: 2,
    name: "callback outbox",
    sql: `
      ALTER TABLE tasks ADD COLUMN callback TEXT;
      CREATE TABLE deliveries (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        task_id TEXT,
        endpoint_id TEXT NOT NULL,
        owner TEXT NOT NULL,
        event TEXT NOT NULL,
        url TEXT,
        auth TEXT,
        body TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER,
        last_error TEXT,
        last_status_code INTEGER,
        created_at INTEGER NOT NULL,
        delivered_at INTEGER,
        claim_token TEXT,
        claim_expires_at INTEGER
      ) STRICT;
      CREATE INDEX deliveries_due ON deliveries (next_attempt_at, id) WHERE status = 'pending';
      CREATE INDEX deliveries_claimed ON deliveries (claim_expires_at) WHERE claim_token IS NOT NULL;
      CREATE INDEX deliveries_task ON deliveries (task_id, id) WHERE task_id IS NOT NULL;
      CREATE INDEX deliveries_endpoint_status ON deliveries (endpoint_id, status, id);
      CREATE INDEX deliveries_done ON deliveries (created_at, id) WHERE status IN ('delivered', 'skipped');
      CREATE TABLE attempts (
        delivery_id TEXT NOT NULL,
        n INTEGER NOT NULL,
        started_at INTEGER NOT NULL,
        url TEXT NOT NULL,
        status_code INTEGER,
        error_class TEXT,
        error_message TEXT,
        latency_ms REAL NOT NULL,
        outcome TEXT NOT NULL,
        next_attempt_at INTEGER,
        PRIMARY KEY (delivery_id, n)
      ) STRICT, WITHOUT ROWID;
    `,
  },
  {
    version: 3,
    name: "claims off the due index",
    sql: `
      DROP INDEX deliveries_due;
      CREATE INDEX deliveries_due_unclaimed ON deliveries (next_attempt_at, id)
        WHERE status = 'pending' AND claim_token IS NULL;
    `,
  },
];

/**
 * Applies the migrations `db` lacks, in one immediate transaction (so two processes starting at once do
 * not both apply them). Throws, changing nothing, when the file's schema is newer than this code.
 *
 * @example migrate(db, "/var/lib/launch/queue.db");
 */
export function migrate(
  db: BetterSqlite3.Database,
  file: string,
  migrations: readonly Migration[] = MIGRATIONS,
): void {
  const latest = migrations.at(-1)?.version ?? 0;
  db.transaction(() => {
    const current = db.pragma("user_version", { simple: true }) as number;
    if (current > latest) {
      throw new Error(
        `the task queue database ${file} has schema version ${current}, but this Launch knows versions up to ${latest}: ` +
          "run the newer Launch that wrote it, or point LAUNCH_DATA_DIR at another directory",
      );
    }
    for (const migration of migrations) {
      if (migration.version <= current) continue;
      db.exec(migration.sql);
      db.pragma(`user_version = ${migration.version}`);
    }
  }).immediate();
}
