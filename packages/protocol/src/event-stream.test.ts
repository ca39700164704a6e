import { describe, expect, it } from "vitest";
import { EventStreamParser, parseEventData } from "./event-stream.js";

const stream =
  'data: "h"\n\n: a comment\r\nevent: tick\r\ndata: {"n":\r\ndata: 1}\r\n\r\ndata:no-space\r\rdata: 7\n\n';
const expected = [
  { event: "message", data: '"h"' },
  { event: "tick", data: '{"n":\n1}' },
  { event: "message", data: "no-space" },
  { event: "message", data: "7" },
];

describe("EventStreamParser", () => {
  it("parses events with \\n, \\r\\n and \\r line ends, comments, event names and multi-line data", () => {
    const parser = new EventStreamParser();
    expect([...parser.push(stream), ...parser.end()]).toEqual(expected);
  });

  it("gives the same events however the text is split into chunks", () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      for (const width of [1, 3]) {
        const parser = new EventStreamParser();
        const events = [...parser.push(stream.slice(0, cut))];
        for (let at = cut; at < stream.length; at += width)
          events.push(...parser.push(stream.slice(at, at + width)));
        events.push(...parser.end());
        expect(events, `cut at ${cut}, width ${width}`).toEqual(expected);
      }
    }
  });

  it("returns an event as soon as its blank line arrives", () => {
    const parser = new EventStreamParser();
    expect(parser.push("data: 1\n")).toEqual([]);
    expect(parser.push("\ndata: 2")).toEqual([{ event: "message", data: "1" }]);
    expect(parser.end()).toEqual([{ event: "message", data: "2" }]);
  });

  it("parses data as JSON when it can", () => {
    expect(parseEventData('{"a":1}')).toEqual({ a: 1 });
    expect(parseEventData("7")).toBe(7);
    expect(parseEventData("plain words")).toBe("plain words");
  });
});
