import { describe, expect, it } from "vitest";
import { isId, newId, sortableId } from "./ids.js";

describe("ids", () => {
  it("are prefixed by kind and 26 characters of Crockford base32 after the prefix", () => {
    const id = newId("bundle");
    expect(id).toMatch(/^bun_[0-9a-hjkmnp-tv-z]{26}$/);
    expect(isId("bundle", id)).toBe(true);
    expect(isId("endpoint", id)).toBe(false);
  });

  it("sort in creation order, even within one millisecond", () => {
    const ids = Array.from({ length: 500 }, () => sortableId(1_700_000_000_000));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("sort by time across milliseconds", () => {
    const a = sortableId(1_800_000_000_000);
    const b = sortableId(1_800_000_000_001);
    expect(a < b).toBe(true);
  });
});
