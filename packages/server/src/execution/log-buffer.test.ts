import { describe, expect, it } from "vitest";
import { LogBuffer, lineSplitter } from "./log-buffer.js";

const line = (n: number, worker = "w1") => ({
  worker_id: worker,
  time: "t",
  stream: "stdout" as const,
  line: `l${n}`,
});

describe("LogBuffer", () => {
  it("keeps the last lines in order, dropping the oldest", () => {
    const logs = new LogBuffer(3);
    for (let i = 1; i <= 5; i++) logs.push(line(i));
    expect(logs.tail().map((l) => l.line)).toEqual(["l3", "l4", "l5"]);
    expect(logs.tail(2).map((l) => l.line)).toEqual(["l4", "l5"]);
  });

  it("gives one worker's last lines as text", () => {
    const logs = new LogBuffer(10);
    logs.push(line(1, "a"));
    logs.push(line(2, "b"));
    logs.push(line(3, "a"));
    expect(logs.textOf("a", 5)).toBe("l1\nl3");
  });
});

describe("lineSplitter", () => {
  it("joins partial chunks and splits on newlines", () => {
    const lines: string[] = [];
    const split = lineSplitter((l) => lines.push(l));
    split.write("hel");
    split.write("lo\r\nwor");
    split.write("ld\nlast");
    expect(lines).toEqual(["hello", "world"]);
    split.end();
    expect(lines).toEqual(["hello", "world", "last"]);
  });
});
