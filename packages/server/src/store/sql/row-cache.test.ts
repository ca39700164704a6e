import { describe, expect, it } from "vitest";
import { RowCache } from "./row-cache.js";

describe("RowCache", () => {
  it("keeps at most its bound, dropping the least recently used (read or written)", () => {
    const rows = new RowCache<number>(2);
    rows.set("a", 1);
    rows.set("b", 2);
    expect(rows.get("a")).toBe(1); // b is now the oldest
    rows.set("c", 3);
    expect(rows.get("b")).toBeUndefined();
    expect(rows.get("a")).toBe(1);
    expect(rows.get("c")).toBe(3);
    expect(rows.size).toBe(2);
  });

  it("replaces, deletes and clears", () => {
    const rows = new RowCache<string>(3);
    rows.set("a", "x");
    rows.set("a", "y");
    expect(rows.get("a")).toBe("y");
    expect(rows.size).toBe(1);
    rows.delete("a");
    expect(rows.get("a")).toBeUndefined();
    rows.set("b", "z");
    rows.clear();
    expect(rows.size).toBe(0);
    expect(rows.get("b")).toBeUndefined();
  });

  it("keeps the order right when the most recent row was deleted and set again", () => {
    const rows = new RowCache<number>(2);
    rows.set("a", 1);
    rows.delete("a");
    rows.set("b", 2);
    rows.set("a", 1);
    rows.get("a");
    rows.set("c", 3); // b is the oldest
    expect(rows.get("b")).toBeUndefined();
    expect(rows.get("a")).toBe(1);
  });
});
