/**
 * The PostgreSQL store (scale-out): a `pg.Pool` through Kysely's `PostgresDialect`, the shared SQL store
 * and this dialect's migrations. Several gateways may share one database (`multiProcess: true`, so the
 * shared store keeps no endpoint cache). `pg` is loaded only when a PostgreSQL store is opened: importing
 * this file does not load it, and a SQLite-only install never does.
 *
 * - Migrations run under a transaction-scoped advisory lock (`pg_advisory_xact_lock`) keyed by the
 *   schema, so gateways that start at once migrate once and the others wait, then find nothing to do.
 * - A failure to connect is an `unavailable` LaunchError naming the URL without its password.
 * - The database is named in messages by {@link redactDatabaseUrl}, never by the URL as configured.
 */
import { LaunchError } from "@launch/protocol";
import { Kysely, PostgresDialect, type PostgresPool, sql } from "kysely";
import type { Pool as PgPool, PoolConfig } from "pg";
import type { LockedTransaction } from "../migrate.js";
import { SqlStore, type SqlStoreOptions } from "../sql/sql-store.js";
import type { Database } from "../sql/tables.js";
import { POSTGRES_MIGRATIONS } from "./migrations.js";

export interface PostgresStoreOptions {
  /**
   * `postgres://user:password@host:5432/database`; query parameters go to `pg` (for example
   * `?sslmode=require`, or `?options=-c%20search_path%3Dlaunch` to use another schema than `public`).
   */
  url: string;
  /** Most connections the pool opens. Default 10. */
  maxConnections?: number | undefined;
  /** How long to wait for a connection (a new one, or a free one of the pool), in ms. Default 10 000. */
  connectTimeoutMs?: number | undefined;
  /**
   * Called when an idle pooled connection fails (the server restarted, a network blip); the pool drops
   * it and opens another when needed. Default: a process warning naming the database.
   */
  onIdleError?: ((error: Error) => void) | undefined;
  /** Bounds of the read caches (`SqlStoreOptions.cache`); endpoints are never cached here. */
  cache?: SqlStoreOptions["cache"];
}

/** Default `maxConnections`. */
export const DEFAULT_MAX_CONNECTIONS = 10;
/** Default `connectTimeoutMs`. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/**
 * The first key of the migration advisory lock ("LAUN"); the second is a hash of the schema, so
 * stores in different schemas of one database do not wait for each other.
 */
export const MIGRATION_LOCK_CLASS = 0x4c41554e;

/**
 * Opens the PostgreSQL store at `options.url`, applies pending migrations (under the advisory lock) and
 * returns the ready store. Throws `unavailable` LaunchError naming the database (without its password)
 * when it cannot connect, and `internal` when its schema is newer than this build or a migration
 * fails; nothing is left open on failure.
 *
 * @example const store = await openPostgresStore({ url: "postgres://launch:secret@db:5432/launch" });
 */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<SqlStore> {
  const label = redactDatabaseUrl(options.url);
  const { Pool } = await loadDriver();
  const config: PoolConfig = {
    connectionString: options.url,
    max: options.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
    connectionTimeoutMillis: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    // The URL's own `application_name` wins (`pg` lets the connection string override these).
    application_name: "launch",
  };
  let pool: PgPool;
  try {
    pool = new Pool(config);
  } catch (error) {
    throw new LaunchError("internal", `Cannot use the PostgreSQL URL ${label}: ${describeError(error)}`, {
      cause: error,
    });
  }
  // Without a listener, an idle connection's failure would be an unhandled 'error' event and end the process.
  pool.on("error", (error) => {
    if (options.onIdleError) options.onIdleError(error);
    else
      process.emitWarning(
        `An idle connection to the PostgreSQL store at ${label} failed: ${describeError(error)}; a new one is opened when needed.`,
        { code: "LAUNCH_STORE_CONNECTION" },
      );
  });
  const db = new Kysely<Database>({
    dialect: new PostgresDialect({ pool: namingConnectErrors(pool, label) }),
  });
  const store = new SqlStore({
    db,
    capabilities: { multiProcess: true },
    migrations: POSTGRES_MIGRATIONS,
    inLockedTransaction: postgresLockedTransaction(db),
    label,
    cache: options.cache,
  });
  try {
    await store.ready();
  } catch (error) {
    await store.close().catch(() => {});
    throw error;
  }
  return store;
}

/**
 * PostgreSQL's migration lock: a transaction that first takes `pg_advisory_xact_lock` on
 * ({@link MIGRATION_LOCK_CLASS}, hash of the current schema). Another process migrating the same schema
 * waits there until this transaction commits or rolls back, which releases the lock.
 */
export function postgresLockedTransaction(db: Kysely<Database>): LockedTransaction<Database> {
  return (fn) =>
    db.transaction().execute(async (trx) => {
      await sql`select pg_advisory_xact_lock(${sql.lit(MIGRATION_LOCK_CLASS)}, hashtext(coalesce(current_schema(), '')))`.execute(
        trx,
      );
      return fn(trx);
    });
}

/**
 * `url` as it may be shown to an operator: the password (in the user part or a `password` parameter)
 * replaced by `***`. A value that is not a URL is not shown at all.
 *
 * @example redactDatabaseUrl("postgres://launch:hunter2@db:5432/launch") // "postgres://launch:***@db:5432/launch"
 */
export function redactDatabaseUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "(a database URL that is not a valid URL; not shown, it may hold a password)";
  }
  if (parsed.password !== "") parsed.password = "***";
  const secretParams = [...parsed.searchParams.keys()].filter((k) => /pass|secret|sslkey/i.test(k));
  for (const key of secretParams) parsed.searchParams.set(key, "***");
  return parsed.href;
}

/** The pool as Kysely sees it, with failures to get a connection turned into a LaunchError naming the database. */
function namingConnectErrors(pool: PgPool, label: string): PostgresPool {
  return {
    async connect() {
      try {
        return await pool.connect();
      } catch (error) {
        throw new LaunchError(
          "unavailable",
          `Cannot connect to the PostgreSQL store at ${label}: ${describeError(error)}`,
          { cause: error },
        );
      }
    },
    end: () => pool.end(),
  };
}

type PgModule = typeof import("pg");

/** Loads `pg` on first use; Node hands its CommonJS exports to `import()` as `default` too. */
async function loadDriver(): Promise<Pick<PgModule, "Pool">> {
  const mod = (await import("pg")) as PgModule & { default?: PgModule };
  return mod.default ?? mod;
}

/**
 * A driver error in one line. Node reports a refused connection to a host with several addresses as an
 * `AggregateError` with an empty message; its parts and code say what happened.
 */
function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  if (error.message !== "") return error.message;
  if (error instanceof AggregateError && error.errors.length > 0) {
    return error.errors.map((e) => describeError(e)).join("; ");
  }
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" ? code : error.name;
}
