/**
 * The embedded SQLite store (the default): one file, better-sqlite3 through Kysely's `SqliteDialect`
 * (with a prepared-statement cache, `statement-cache.ts`), the shared SQL store and this dialect's
 * migrations. better-sqlite3 is a native module, so it is
 * loaded only when a SQLite store is opened: importing this file does not load it.
 *
 * Pragmas, set on open:
 * - `busy_timeout = 5000`: wait up to 5 s for another process's write lock (`launch keys` next to a
 *   running server) instead of failing at once.
 * - `journal_mode = WAL`: readers do not block the writer, and the writer does not block readers.
 * - `synchronous = NORMAL`: with WAL, a committed transaction survives a crash of the Launch process;
 *   after a power loss or OS crash the last transactions before it may be lost, never corrupted.
 * - `foreign_keys = ON`: enforce the foreign keys later migrations declare.
 */
import { mkdir } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { LaunchError } from "@launch/protocol";
import { Kysely, SqliteDialect, sql } from "kysely";
import type { LockedTransaction } from "../migrate.js";
import { SqlStore } from "../sql/sql-store.js";
import type { Database } from "../sql/tables.js";
import { SQLITE_MIGRATIONS } from "./migrations.js";
import { cachingStatements } from "./statement-cache.js";

export interface SqliteStoreOptions {
  /** The database file (created with its directory when missing), or `:memory:`. */
  file: string;
}

/**
 * Opens (creating when missing) the SQLite store at `file`, applies pending migrations and returns the
 * ready store. Throws `internal` LaunchError naming the file when it cannot be opened or its schema is
 * newer than this build; nothing is left open on failure.
 *
 * @example const store = await openSqliteStore({ file: "./.launch/launch.db" });
 */
export async function openSqliteStore(options: SqliteStoreOptions): Promise<SqlStore> {
  const inMemory = options.file === ":memory:";
  const file = inMemory ? options.file : resolve(options.file);
  if (!inMemory) await mkdir(dirname(file), { recursive: true });
  const BetterSqlite3 = await loadDriver();
  let database: InstanceType<DatabaseConstructor>;
  try {
    database = new BetterSqlite3(file);
  } catch (error) {
    throw new LaunchError("internal", `Cannot open the SQLite store at ${file}: ${messageOf(error)}`, {
      cause: error,
    });
  }
  try {
    database.pragma("busy_timeout = 5000");
    database.pragma("journal_mode = WAL");
    database.pragma("synchronous = NORMAL");
    database.pragma("foreign_keys = ON");
  } catch (error) {
    database.close();
    throw new LaunchError("internal", `Cannot configure the SQLite store at ${file}: ${messageOf(error)}`, {
      cause: error,
    });
  }
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: cachingStatements(database) }) });
  const store = new SqlStore({
    db,
    capabilities: { multiProcess: false },
    migrations: SQLITE_MIGRATIONS,
    inLockedTransaction: sqliteLockedTransaction(db),
    label: file,
  });
  try {
    await store.ready();
  } catch (error) {
    await store.close();
    throw error;
  }
  return store;
}

/**
 * SQLite's migration lock: `BEGIN IMMEDIATE` takes the database's write lock at once (waiting up to
 * `busy_timeout` for another process), so two processes never migrate at the same time.
 */
export function sqliteLockedTransaction(db: Kysely<Database>): LockedTransaction<Database> {
  return (fn) =>
    db.connection().execute(async (conn) => {
      await sql`begin immediate`.execute(conn);
      let result: Awaited<ReturnType<typeof fn>>;
      try {
        result = await fn(conn);
      } catch (error) {
        // SQLite may already have rolled back (for example on SQLITE_FULL); the original error is the one to report.
        await sql`rollback`.execute(conn).catch(() => {});
        throw error;
      }
      await sql`commit`.execute(conn);
      return result;
    });
}

type DatabaseConstructor = typeof import("better-sqlite3");

/** Loads better-sqlite3 on first use; Node hands a CommonJS module to `import()` as its `default`. */
async function loadDriver(): Promise<DatabaseConstructor> {
  const mod: unknown = await import("better-sqlite3");
  return ((mod as { default?: unknown }).default ?? mod) as DatabaseConstructor;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
