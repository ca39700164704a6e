import { describe, expect, it } from "vitest";
import { pythonJsonDumps } from "./python-json.js";

// Expected texts were produced by CPython 3 `json.dumps(value)` with default arguments.
describe("pythonJsonDumps", () => {
  it("writes scalars as Python does", () => {
    expect(pythonJsonDumps(7)).toBe("7");
    expect(pythonJsonDumps(-3)).toBe("-3");
    expect(pythonJsonDumps(true)).toBe("true");
    expect(pythonJsonDumps(false)).toBe("false");
    expect(pythonJsonDumps(null)).toBe("null");
    expect(pythonJsonDumps("hello")).toBe('"hello"');
  });

  it("uses Python's separators in nested objects and arrays, keeping key order", () => {
    expect(pythonJsonDumps({ y: 1 })).toBe('{"y": 1}');
    expect(pythonJsonDumps({ b: [1, 2, { c: null }], a: { d: [] }, e: {} })).toBe(
      '{"b": [1, 2, {"c": null}], "a": {"d": []}, "e": {}}',
    );
    expect(pythonJsonDumps([[1], [], ["x", true]])).toBe('[[1], [], ["x", true]]');
  });

  it("escapes like ensure_ascii=True: non-ASCII as lowercase \\uXXXX, astral characters as surrogate pairs", () => {
    expect(pythonJsonDumps({ y: ["é", "\u007f", "\u0000\u001f", "😀", "\u2028"] })).toBe(
      '{"y": ["\\u00e9", "\\u007f", "\\u0000\\u001f", "\\ud83d\\ude00", "\\u2028"]}',
    );
    expect(pythonJsonDumps('a"b\\c\n\t\r\b\f/')).toBe('"a\\"b\\\\c\\n\\t\\r\\b\\f/"');
    expect(pythonJsonDumps({ "clé ✓": 1 })).toBe('{"cl\\u00e9 \\u2713": 1}');
  });

  it("writes non-integer numbers as Python's float repr", () => {
    expect(pythonJsonDumps(0.1)).toBe("0.1");
    expect(pythonJsonDumps(123.456)).toBe("123.456");
    expect(pythonJsonDumps(0.0001)).toBe("0.0001");
    expect(pythonJsonDumps(1e-5)).toBe("1e-05");
    expect(pythonJsonDumps(1.5e-7)).toBe("1.5e-07");
    expect(pythonJsonDumps(-2.5e-9)).toBe("-2.5e-09");
    expect(pythonJsonDumps(5e-324)).toBe("5e-324");
    expect(pythonJsonDumps(12345678.9)).toBe("12345678.9");
  });

  it("writes integer-valued numbers as ints when safe, else as Python floats (1.0 and 1 are one JSON value)", () => {
    expect(pythonJsonDumps(1.0)).toBe("1");
    expect(pythonJsonDumps(-0)).toBe("0");
    expect(pythonJsonDumps(2 ** 53)).toBe("9007199254740992.0");
    expect(pythonJsonDumps(1e16)).toBe("1e+16");
    expect(pythonJsonDumps(1e300)).toBe("1e+300");
    expect(pythonJsonDumps(1.7976931348623157e308)).toBe("1.7976931348623157e+308");
  });

  it("is read back by JSON.parse as the same value", () => {
    const value = { x: 2, y: "héllo\n", z: [0.5, -1e-7, { deep: [null, false] }] };
    expect(JSON.parse(pythonJsonDumps(value))).toEqual(value);
  });
});
