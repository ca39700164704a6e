/** A bounded ring of recent output lines, fed by raw chunks from a child's stdout or stderr. */

const DEFAULT_MAX_LINE_LENGTH = 4096;

/** Keeps the last `capacity` lines; longer lines are cut at `maxLineLength` characters. */
export class LogRing {
  private readonly items: string[] = [];
  private next = 0;

  constructor(
    readonly capacity = 1000,
    private readonly maxLineLength = DEFAULT_MAX_LINE_LENGTH,
  ) {}

  /** Adds one line (without its terminator). */
  push(line: string): void {
    const kept = line.length > this.maxLineLength ? `${line.slice(0, this.maxLineLength)}…` : line;
    if (this.capacity <= 0) return;
    if (this.items.length < this.capacity) {
      this.items.push(kept);
    } else {
      this.items[this.next] = kept;
      this.next = (this.next + 1) % this.capacity;
    }
  }

  /** All kept lines, oldest first. */
  lines(): string[] {
    return [...this.items.slice(this.next), ...this.items.slice(0, this.next)];
  }

  /** The last `count` lines, oldest first. */
  tail(count: number): string[] {
    return count <= 0 ? [] : this.lines().slice(-count);
  }
}

/**
 * Splits a stream of text chunks into lines (`\n` or `\r\n`), calling `onLine` for each complete line;
 * `end()` flushes a last line that has no terminator.
 */
export function lineSplitter(onLine: (line: string) => void): { write(chunk: string): void; end(): void } {
  let pending = "";
  return {
    write(chunk) {
      const text = pending + chunk;
      const parts = text.split("\n");
      pending = parts.pop() ?? "";
      for (const part of parts) onLine(part.endsWith("\r") ? part.slice(0, -1) : part);
    },
    end() {
      if (pending.length > 0) onLine(pending);
      pending = "";
    },
  };
}
