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
