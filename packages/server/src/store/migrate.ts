/**
 * The numbered-migration runner, shared by every SQL dialect. Each dialect keeps its own list of plain
 * SQL migrations (`store/<dialect>/migrations.ts`) and supplies its lock (`LockedTransaction`); the
 * runner applies pending migrations in order, one transaction each, and records them in
 * `schema_migrations`.
 */
import { LaunchError } from "@launch/protocol";
import { type Kysely, sql } from "kysely";
import { splitSqlStatements } from "./sql-script.js";

/** One numbered migration: plain SQL, one or more statements separated by `;`. */
export interface Migration {
  /** 1, 2, 3…: applied in this order, each exactly once. */
  version: number;
  /** A short slug, e.g. `initial`, recorded with the version. */
  name: string;
  sql: string;
}

/**
 * Runs `fn` inside one transaction that holds the dialect's migration lock, committing when `fn`
 * resolves and rolling back when it throws. SQLite: `BEGIN IMMEDIATE`; PostgreSQL:
 * `pg_advisory_xact_lock` inside `BEGIN`.
 */
export type LockedTransaction<DB> = <T>(fn: (trx: Kysely<DB>) => Promise<T>) => Promise<T>;

export interface MigrateOptions<DB> {
  migrations: readonly Migration[];
  inLockedTransaction: LockedTransaction<DB>;
  /** Names the database in error messages (a file path; never a URL with a password). */
  label?: string | undefined;
  now?: () => Date;
}

export interface MigrateResult {
  /** The versions this run applied, in order (empty when the schema was already current). */
  applied: number[];
  /** The schema version after the run. */
  version: number;
}

/**
 * Applies every pending migration, each in its own locked transaction. Throws `internal` LaunchError
 * telling the operator what to do when the database is newer than `migrations`, and when a
 * migration fails (that migration is rolled back; earlier ones stay applied).
 *
 * @example await migrate({ migrations: SQLITE_MIGRATIONS, inLockedTransaction: lockFor(db) })
 */
export async function migrate<DB>(options: MigrateOptions<DB>): Promise<MigrateResult> {
  const { migrations, inLockedTransaction, label } = options;
  checkMigrationList(migrations);
  const latest = migrations.at(-1)?.version ?? 0;
  const now = options.now ?? (() => new Date());
  const applied: number[] = [];
  for (;;) {
    const step = await inLockedTransaction(async (trx) => {
      await ensureMigrationsTable(trx);
      const current = await schemaVersion(trx);
      if (current > latest) throw newerSchemaError(current, latest, label);
      const next = migrations.find((m) => m.version > current);
      if (!next) return { version: current, applied: undefined };
      try {
        for (const statement of splitSqlStatements(next.sql)) await sql.raw(statement).execute(trx);
      } catch (error) {
        throw new LaunchError(
          "internal",
          `Database migration ${next.version} (${next.name}) failed and was rolled back: ${messageOf(error)}`,
          { cause: error },
        );
      }
      await recordMigration(trx, next, now().toISOString());
      return { version: next.version, applied: next.version };
    });
    if (step.applied === undefined) return { applied, version: step.version };
    applied.push(step.applied);
  }
}

/** Creates `schema_migrations` when it is missing (portable DDL). */
export async function ensureMigrationsTable<DB>(db: Kysely<DB>): Promise<void> {
  await sql`create table if not exists schema_migrations (
    version integer primary key,
    name text not null,
    applied_at text not null
  )`.execute(db);
}

/** The highest applied migration version, 0 for an empty database. */
export async function schemaVersion<DB>(db: Kysely<DB>): Promise<number> {
  const result = await sql<{ version: number | string | null }>`
    select max(version) as version from schema_migrations`.execute(db);
  return Number(result.rows[0]?.version ?? 0);
}

/** Every applied migration, oldest first. */
export async function appliedMigrations<DB>(
  db: Kysely<DB>,
): Promise<{ version: number; name: string; appliedAt: string }[]> {
  const result = await sql<{ version: number | string; name: string; applied_at: string }>`
    select version, name, applied_at from schema_migrations order by version`.execute(db);
  return result.rows.map((r) => ({ version: Number(r.version), name: r.name, appliedAt: r.applied_at }));
}

/**
 * Records `migration` as applied. The runner calls it after each migration; tests use it to simulate
 * a database written by a newer Launch.
 */
export async function recordMigration<DB>(
  db: Kysely<DB>,
  migration: Pick<Migration, "version" | "name">,
  at: string,
): Promise<void> {
  await sql`insert into schema_migrations (version, name, applied_at)
    values (${migration.version}, ${migration.name}, ${at})`.execute(db);
}

/** The error for a database whose schema is newer than this build knows. */
export function newerSchemaError(current: number, latest: number, label?: string): LaunchError {
  const where = label ? ` (${label})` : "";
  return new LaunchError(
    "internal",
    `The database schema is at version ${current} but this Launch knows only up to ${latest}; ` +
      `upgrade Launch or point it at another database${where}.`,
  );
}

function checkMigrationList(migrations: readonly Migration[]): void {
  migrations.forEach((m, i) => {
    if (!Number.isInteger(m.version) || m.version !== i + 1) {
      throw new Error(
        `Migration list is malformed: entry ${i} (${m.name}) has version ${m.version}, expected ${i + 1}`,
      );
    }
  });
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
