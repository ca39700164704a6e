/**
 * A prepared-statement cache for Kysely's `SqliteDialect`. Kysely's SQLite driver calls
 * `database.prepare(sql)` on every query; preparing parses and plans the SQL again each time, which is a
 * measurable part of every task request. The store's queries are a small fixed set of SQL texts (their
 * values are bound parameters), so one statement per text, kept, is enough.
 *
 * Sharing a statement is safe here: Kysely runs one query at a time on the single SQLite connection (its
 * connection mutex), and a statement that `iterate` is reading is held with the connection until the
 * iteration ends. A statement prepared against an older schema is re-prepared by SQLite itself.
 */
import type { SqliteDatabase, SqliteStatement } from "kysely";

/** Default for `maxStatements`: far more than the store's distinct queries. */
export const DEFAULT_MAX_STATEMENTS = 256;

/** The parts of a better-sqlite3 `Database` the cache uses. */
export interface PreparingDatabase {
  prepare(sql: string): SqliteStatement;
  close(): unknown;
}

/**
 * Wraps `database` so that `prepare` returns the statement prepared earlier for the same SQL text. At most
 * `maxStatements` are kept; beyond that the least recently used is dropped (SQLite finalizes it when it
 * is garbage collected).
 *
 * @example const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: cachingStatements(sqlite) }) });
 */
export function cachingStatements(
  database: PreparingDatabase,
  maxStatements = DEFAULT_MAX_STATEMENTS,
): SqliteDatabase {
  const statements = new Map<string, SqliteStatement>();
  return {
    prepare(sql: string): SqliteStatement {
      let statement = statements.get(sql);
      if (statement) {
        // Most recently used last, so that eviction takes the oldest first.
        statements.delete(sql);
      } else {
        statement = database.prepare(sql);
        if (statements.size >= maxStatements) {
          statements.delete(statements.keys().next().value as string);
        }
      }
      statements.set(sql, statement);
      return statement;
    },
    close(): void {
      statements.clear();
      database.close();
    },
  };
}
