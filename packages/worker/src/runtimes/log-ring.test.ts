import { describe, expect, it } from "vitest";
import { LogRing, lineSplitter } from "./log-ring.js";

describe("LogRing", () => {
  it("keeps the last lines, oldest first, and cuts long ones", () => {
    const ring = new LogRing(3, 5);
    for (const line of ["1", "2", "3", "4", "far too long"]) ring.push(line);
    expect(ring.lines()).toEqual(["3", "4", "far t…"]);
    expect(ring.tail(2)).toEqual(["4", "far t…"]);
  });

  it("splits chunks into lines across chunk boundaries", () => {
    const lines: string[] = [];
    const split = lineSplitter((line) => lines.push(line));
    split.write("a\r\nb");
    split.write("c\n\nd");
    split.end();
    expect(lines).toEqual(["a", "bc", "", "d"]);
  });
});
