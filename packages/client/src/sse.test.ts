import { describe, expect, it } from "vitest";
import { EventStreamParser, readEventStream, type ServerSentEvent } from "./sse.js";

const STREAM =
  ": keep-alive\r\n" +
  'data: {"status":"SUCCESS","result":{"result":"h"},"traceback":null,"status_code":200}\r\n\r\n' +
  "event: progress\n" +
  "data: line one\n" +
  "data: line two\n\n" +
  "data:no-space\r\r" +
  'data: {"status":"SUCCESS","result":{"result":"é✓"},"traceback":null,"status_code":200}\n\n';

const EXPECTED: ServerSentEvent[] = [
  {
    event: "message",
    data: '{"status":"SUCCESS","result":{"result":"h"},"traceback":null,"status_code":200}',
  },
  { event: "progress", data: "line one\nline two" },
  { event: "message", data: "no-space" },
  {
    event: "message",
    data: '{"status":"SUCCESS","result":{"result":"é✓"},"traceback":null,"status_code":200}',
  },
];

function parseInChunks(chunks: string[]): ServerSentEvent[] {
  const parser = new EventStreamParser();
  return [...chunks.flatMap((chunk) => parser.push(chunk)), ...parser.end()];
}

describe("EventStreamParser", () => {
  it("parses a whole stream: comments skipped, multi-line data joined, CRLF, LF and CR line ends", () => {
    expect(parseInChunks([STREAM])).toEqual(EXPECTED);
  });

  it("gives the same events however the text is split into two chunks", () => {
    for (let at = 0; at <= STREAM.length; at++) {
      expect(parseInChunks([STREAM.slice(0, at), STREAM.slice(at)]), `split at ${at}`).toEqual(EXPECTED);
    }
  });

  it("gives the same events fed one character at a time", () => {
    expect(parseInChunks([...STREAM])).toEqual(EXPECTED);
  });

  it("returns each event as soon as its blank line arrives, not at the end", () => {
    const parser = new EventStreamParser();
    expect(parser.push("data: 1\n")).toEqual([]);
    expect(parser.push("\ndata: 2")).toEqual([{ event: "message", data: "1" }]);
    expect(parser.push("\n\n")).toEqual([{ event: "message", data: "2" }]);
  });

  it("end() flushes a last event whose blank line never came", () => {
    const parser = new EventStreamParser();
    expect(parser.push("data: last")).toEqual([]);
    expect(parser.end()).toEqual([{ event: "message", data: "last" }]);
  });
});

describe("readEventStream", () => {
  it("decodes bytes split inside a multi-byte character and inside an event", async () => {
    const bytes = new TextEncoder().encode(STREAM);
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        // Three-byte slices cut "é" and "✓" in the middle.
        for (let at = 0; at < bytes.length; at += 3) controller.enqueue(bytes.slice(at, at + 3));
        controller.close();
      },
    });
    const events: ServerSentEvent[] = [];
    for await (const event of readEventStream(body)) events.push(event);
    expect(events).toEqual(EXPECTED);
  });

  it("cancels the body when the reader stops early", async () => {
    let cancelled = false;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode("data: 1\n\ndata: 2\n\n"));
      },
      cancel() {
        cancelled = true;
      },
    });
    for await (const event of readEventStream(body)) {
      expect(event.data).toBe("1");
      break;
    }
    expect(cancelled).toBe(true);
  });
});
