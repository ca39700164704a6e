/** An incremental parser of server-sent events (the `text/event-stream` format). */

export interface SseEvent {
  /** The `event:` field, or "message". */
  event: string;
  /** The `data:` lines joined with "\n". */
  data: string;
}

/**
 * Feed it text as it arrives; it returns the events completed so far. `end()` returns a last event
 * whose blank line never came (lenient: some servers close right after their last `data:` line).
 *
 * @example const parser = new SseParser(); for (const chunk of chunks) for (const e of parser.push(chunk)) use(e.data);
 */
export class SseParser {
  private buffer = "";
  private skipLineFeed = false;
  private data: string[] = [];
  private event = "";

  push(chunk: string): SseEvent[] {
    let text = this.buffer + chunk;
    this.buffer = "";
    if (this.skipLineFeed && text.startsWith("\n")) text = text.slice(1);
    this.skipLineFeed = false;
    const events: SseEvent[] = [];
    let pos = 0;
    const terminator = /[\r\n]/g;
    while (pos < text.length) {
      terminator.lastIndex = pos;
      const match = terminator.exec(text);
      if (!match) break;
      const end = match.index;
      const line = text.slice(pos, end);
      if (text.charCodeAt(end) === 13) {
        if (end + 1 < text.length) {
          pos = text.charCodeAt(end + 1) === 10 ? end + 2 : end + 1;
        } else {
          pos = end + 1;
          this.skipLineFeed = true; // a "\n" may open the next chunk: it belongs to this "\r"
        }
      } else {
        pos = end + 1;
      }
      this.line(line, events);
    }
    this.buffer = text.slice(pos);
    return events;
  }

  end(): SseEvent[] {
    const events: SseEvent[] = [];
    if (this.buffer.length > 0) this.line(this.buffer, events);
    this.buffer = "";
    this.line("", events);
    return events;
  }

  private line(line: string, events: SseEvent[]): void {
    if (line.length === 0) {
      if (this.data.length > 0) events.push({ event: this.event || "message", data: this.data.join("\n") });
      this.data = [];
      this.event = "";
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.data.push(value);
    else if (field === "event") this.event = value;
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
