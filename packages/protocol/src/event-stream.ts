/**
 * Server-sent events (`text/event-stream`), parsed incrementally, shared by the worker (reading a model's
 * stream) and the SDK (reading a streaming task): one parser, one set of rules.
 */

/** One event: its `event:` name ("message" when absent) and its `data:` lines joined with "\n". */
export interface ServerSentEvent {
  event: string;
  data: string;
}

/**
 * An incremental event-stream parser: `push` text chunks as they arrive (a line or an event may be split
 * anywhere, even between "\r" and "\n"), get back the events they complete; `end()` flushes an event
 * whose closing blank line never came.
 *
 * @example const parser = new EventStreamParser(); for (const chunk of chunks) for (const e of parser.push(chunk)) use(e.data);
 */
export class EventStreamParser {
  #buffer = "";
  #pendingLineFeed = false;
  #data: string[] = [];
  #event = "";

  /** Feeds text; returns the events completed by it. */
  push(chunk: string): ServerSentEvent[] {
    let text = this.#buffer + chunk;
    this.#buffer = "";
    if (this.#pendingLineFeed && text.startsWith("\n")) text = text.slice(1);
    this.#pendingLineFeed = false;
    const events: ServerSentEvent[] = [];
    let start = 0;
    for (let i = 0; i < text.length; i++) {
      const code = text.charCodeAt(i);
      if (code !== 10 && code !== 13) continue;
      this.#line(text.slice(start, i), events);
      if (code === 13) {
        if (i + 1 === text.length) this.#pendingLineFeed = true;
        else if (text.charCodeAt(i + 1) === 10) i++;
      }
      start = i + 1;
    }
    this.#buffer = text.slice(start);
    return events;
  }

  /** Ends the stream; returns a last event left without its blank line. */
  end(): ServerSentEvent[] {
    const events: ServerSentEvent[] = [];
    if (this.#buffer !== "") this.#line(this.#buffer, events);
    this.#buffer = "";
    this.#line("", events);
    return events;
  }

  #line(line: string, events: ServerSentEvent[]): void {
    if (line === "") {
      if (this.#data.length > 0)
        events.push({ event: this.#event || "message", data: this.#data.join("\n") });
      this.#data = [];
      this.#event = "";
      return;
    }
    if (line.startsWith(":")) return; // a comment (keep-alive)
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.#data.push(value);
    else if (field === "event") this.#event = value;
  }
}

/** An event's data as JSON when it parses, else the string itself. */
export function parseEventData(data: string): unknown {
  try {
    return JSON.parse(data);
  } catch {
    return data;
  }
}
