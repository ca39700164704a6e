/**
 * Aligned text tables for people: a header row in capitals, columns padded to their widest cell, two
 * spaces between columns.
 *
 * @example formatTable(["name", "status"], [["demo", "READY"]]) // "NAME  STATUS\ndemo  READY\n"
 */
export function formatTable(headers: string[], rows: string[][]): string {
  const all = [headers.map((h) => h.toUpperCase()), ...rows];
  const widths = headers.map((_, column) => Math.max(...all.map((row) => (row[column] ?? "").length)));
  return all
    .map((row) =>
      widths
        .map((width, column) => (row[column] ?? "").padEnd(width))
        .join("  ")
        .trimEnd(),
    )
    .map((line) => `${line}\n`)
    .join("");
}

/**
 * Field/value pairs, one per line, values aligned; objects are shown as compact JSON.
 *
 * @example formatFields({ name: "demo", labels: { team: "ml" } }) // "name    demo\nlabels  {\"team\":\"ml\"}\n"
 */
export function formatFields(fields: Record<string, unknown>): string {
  const width = Math.max(0, ...Object.keys(fields).map((key) => key.length));
  return Object.entries(fields)
    .map(([key, value]) => `${key.padEnd(width)}  ${cell(value)}`.trimEnd())
    .map((line) => `${line}\n`)
    .join("");
}

/**
 * A value as table text: `-` for null or undefined, strings as they are, the rest as compact JSON.
 *
 * @example cell(null) // "-"
 */
export function cell(value: unknown): string {
  if (value === null || value === undefined) return "-";
  if (typeof value === "string") return value;
  return JSON.stringify(value);
}
