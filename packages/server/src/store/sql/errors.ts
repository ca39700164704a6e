/**
 * Recognises database errors portably: the same checks work for better-sqlite3 (SQLite) and `pg`
 * (PostgreSQL), so the SQL store turns a duplicate into the same `LaunchError` whatever engine raised it.
 */

interface DriverError {
  code?: unknown;
  message?: unknown;
  constraint?: unknown;
  cause?: unknown;
}

/**
 * Whether `error` (or one of its causes) is a unique-constraint violation of the index `indexName`
 * on `table(columns)`.
 *
 * - SQLite: `code === "SQLITE_CONSTRAINT_UNIQUE"`, message `UNIQUE constraint failed: t.a, t.b`.
 * - PostgreSQL: `code === "23505"`, `constraint` (or the message) names the index.
 *
 * @example isUniqueViolation(err, "endpoints_owner_name_unique", "endpoints", ["owner", "name"])
 */
export function isUniqueViolation(
  error: unknown,
  indexName: string,
  table: string,
  columns: readonly string[],
): boolean {
  const sqliteColumns = columns.map((c) => `${table}.${c}`).join(", ");
  for (let e: unknown = error, depth = 0; e && typeof e === "object" && depth < 5; depth++) {
    const { code, message, constraint, cause } = e as DriverError;
    const text = typeof message === "string" ? message : "";
    if (code === "SQLITE_CONSTRAINT_UNIQUE" && (text.includes(sqliteColumns) || text.includes(indexName))) {
      return true;
    }
    if (code === "23505" && (constraint === indexName || text.includes(`"${indexName}"`))) return true;
    e = cause;
  }
  return false;
}
