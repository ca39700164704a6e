/**
 * Splits a migration script into single statements. Drivers prepare one statement at a time
 * (better-sqlite3 refuses several), so migrations are run statement by statement.
 */

/**
 * The statements of `script`, without their terminating `;`. Semicolons inside quoted strings and
 * identifiers, comments, and PostgreSQL dollar-quoted bodies (`$$ … $$`, `$tag$ … $tag$`) do not split.
 * Statements that hold only comments and whitespace are dropped.
 *
 * @example splitSqlStatements("create table a (x text);\n-- note\ncreate index i on a (x);")
 * // ["create table a (x text)", "-- note\ncreate index i on a (x)"]
 */
export function splitSqlStatements(script: string): string[] {
  const statements: string[] = [];
  let start = 0;
  let i = 0;
  const push = (end: number) => {
    const text = script.slice(start, end).trim();
    if (stripComments(text).trim() !== "") statements.push(text);
  };
  while (i < script.length) {
    const ch = script[i]!;
    const next = script[i + 1];
    if (ch === "'" || ch === '"') {
      i = skipQuoted(script, i, ch);
    } else if (ch === "-" && next === "-") {
      const end = script.indexOf("\n", i);
      i = end < 0 ? script.length : end + 1;
    } else if (ch === "/" && next === "*") {
      const end = script.indexOf("*/", i + 2);
      i = end < 0 ? script.length : end + 2;
    } else if (ch === "$") {
      const tag = /^\$[A-Za-z_]*\$/.exec(script.slice(i))?.[0];
      if (tag) {
        const end = script.indexOf(tag, i + tag.length);
        i = end < 0 ? script.length : end + tag.length;
      } else {
        i++;
      }
    } else if (ch === ";") {
      push(i);
      i++;
      start = i;
    } else {
      i++;
    }
  }
  push(script.length);
  return statements;
}

/** The index after the quoted run that opens at `open` (a doubled quote is an escaped quote). */
function skipQuoted(script: string, open: number, quote: string): number {
  let i = open + 1;
  while (i < script.length) {
    if (script[i] === quote) {
      if (script[i + 1] === quote) {
        i += 2;
        continue;
      }
      return i + 1;
    }
    i++;
  }
  return script.length;
}

function stripComments(text: string): string {
  return text.replace(/--[^\n]*/g, "").replace(/\/\*[\s\S]*?\*\//g, "");
}
