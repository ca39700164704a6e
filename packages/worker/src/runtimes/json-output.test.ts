import { describe, expect, it } from "vitest";
import { describeNonJson } from "./json-output.js";

describe("describeNonJson", () => {
  it("accepts JSON values, objects with toJSON and undefined properties", () => {
    for (const value of [
      null,
      true,
      0,
      -1.5,
      "s",
      [],
      {},
      { a: [1, { b: null }] },
      new Date(0),
      { gone: undefined },
    ]) {
      expect(describeNonJson(value)).toBeUndefined();
    }
    expect(describeNonJson(Object.create(null))).toBeUndefined();
  });

  it("names the first part that JSON would lose or reject", () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(describeNonJson(undefined)).toBe("output is undefined");
    expect(describeNonJson({ a: [1, 2n] })).toBe("output.a[1] is a bigint");
    expect(describeNonJson([Number.NaN])).toBe("output[0] is a non-finite number (NaN)");
    expect(describeNonJson({ s: new Set() })).toBe("output.s is a Set (return plain objects and arrays)");
    expect(describeNonJson(new (class Interval {})())).toBe(
      "output is an Interval (return plain objects and arrays)",
    );
    expect(describeNonJson(cycle)).toBe("output.self is a circular reference");
    expect(describeNonJson([undefined])).toBe("output[0] is undefined");
  });

  it("accepts the same object twice when it is not a cycle", () => {
    const shared = { a: 1 };
    expect(describeNonJson({ x: shared, y: [shared] })).toBeUndefined();
  });
});
