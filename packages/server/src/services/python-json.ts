/**
 * `pythonJsonDumps`: JSON text byte-identical with Python's `json.dumps(value)` with its defaults, for the
 * `results_as_string` setting (the reference server returns non-streaming outputs as such strings).
 *
 * Python's defaults: separators `", "` and `": "`, `ensure_ascii=True` (every character outside printable
 * ASCII, DEL included, is written `\uXXXX` in lowercase hex, characters beyond the BMP as a surrogate
 * pair), keys in insertion order.
 *
 * What JSON cannot tell us, decided here:
 * - Numbers: a JSON value has lost Python's int/float distinction (`1.0` and `1` parse alike). Safe
 *   integers print as integers (`1`), which is what the common case, a model returning an int, gives.
 *   Other numbers print as Python's `repr(float)`: the same shortest round-trip digits as JavaScript,
 *   with Python's notation (`1e-05`, `1.5e-07`, `1e+16`, `9007199254740992.0`).
 * - Key order: JavaScript objects list integer-like keys (`"2"`) before the others, whatever the order
 *   the model wrote them in; other keys keep their order.
 */

/**
 * The JSON text Python's `json.dumps(value)` would write for the same JSON value.
 *
 * @example pythonJsonDumps({ y: 1, z: ["é", 0.5] }) // '{"y": 1, "z": ["\\u00e9", 0.5]}'
 */
export function pythonJsonDumps(value: unknown): string {
  if (value === null || value === undefined) return "null";
  switch (typeof value) {
    case "boolean":
      return value ? "true" : "false";
    case "number":
      return pythonNumber(value);
    case "string":
      return pythonString(value);
    case "object": {
      if (Array.isArray(value)) return `[${value.map(pythonJsonDumps).join(", ")}]`;
      const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
      return `{${entries.map(([k, v]) => `${pythonString(k)}: ${pythonJsonDumps(v)}`).join(", ")}}`;
    }
    default:
      throw new TypeError(`pythonJsonDumps: ${typeof value} is not a JSON value`);
  }
}

/** Python `repr` of a JSON number (see the file comment for the int/float decision). */
function pythonNumber(value: number): string {
  if (!Number.isFinite(value)) return value > 0 ? "Infinity" : value < 0 ? "-Infinity" : "NaN";
  if (Number.isSafeInteger(value)) return String(value === 0 ? 0 : value);
  // Shortest round-trip digits and decimal exponent, as Python's repr picks them.
  const [mantissa = "0", exp = "0"] = value.toExponential().split("e");
  const exponent = Number(exp);
  if (exponent < -4 || exponent >= 16) {
    const sign = exponent < 0 ? "-" : "+";
    return `${mantissa}e${sign}${String(Math.abs(exponent)).padStart(2, "0")}`;
  }
  // In this range JavaScript also writes positional digits (it switches at 1e-7 and 1e21).
  return Number.isInteger(value) ? `${value}.0` : String(value);
}

/** A Python `json.dumps` string literal: ASCII only, short escapes where Python has them. */
function pythonString(text: string): string {
  let out = '"';
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 0x22) out += '\\"';
    else if (code === 0x5c) out += "\\\\";
    else if (code >= 0x20 && code < 0x7f) out += text[i];
    else if (code === 0x0a) out += "\\n";
    else if (code === 0x0d) out += "\\r";
    else if (code === 0x09) out += "\\t";
    else if (code === 0x08) out += "\\b";
    else if (code === 0x0c) out += "\\f";
    else out += `\\u${code.toString(16).padStart(4, "0")}`;
  }
  return `${out}"`;
}
