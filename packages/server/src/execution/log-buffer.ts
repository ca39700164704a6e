import type { WorkerLogLine } from "../orchestration/port.js";

export type { WorkerLogLine };

const MAX_LINE = 8 * 1024;

/**
 * The recent output of an endpoint's workers: a bounded ring of lines, oldest dropped first.
 *
 * @example const logs = new LogBuffer(2000); logs.push({ worker_id, time, stream: "stderr", line }); logs.tail(100);
 */
export class LogBuffer {
  readonly #lines: WorkerLogLine[] = [];
  #start = 0;

  constructor(readonly capacity = 2000) {}

  push(line: WorkerLogLine): void {
    if (this.#lines.length < this.capacity) {
      this.#lines.push(line);
      return;
    }
    this.#lines[this.#start] = line;
    this.#start = (this.#start + 1) % this.capacity;
  }

  /** The last `n` lines, oldest first. */
  tail(n = this.capacity): WorkerLogLine[] {
    const ordered = [...this.#lines.slice(this.#start), ...this.#lines.slice(0, this.#start)];
    return n >= ordered.length ? ordered : ordered.slice(ordered.length - n);
  }

  /** The last `n` lines of one worker, as plain text (for status reasons). */
  textOf(workerId: string, n: number): string {
    return this.tail()
      .filter((l) => l.worker_id === workerId)
      .slice(-n)
      .map((l) => l.line)
      .join("\n");
  }
}

/**
 * Splits a byte stream into lines (a partial last line waits for the next chunk; over-long lines are cut).
 *
 * @example child.stdout.on("data", lineSplitter((line) => logs.push(...)));
 */
export function lineSplitter(onLine: (line: string) => void): {
  write(chunk: Buffer | string): void;
  end(): void;
} {
  let pending = "";
  return {
    write(chunk) {
      pending += typeof chunk === "string" ? chunk : chunk.toString("utf8");
      let newline = pending.indexOf("\n");
      while (newline >= 0) {
        onLine(pending.slice(0, newline).replace(/\r$/, "").slice(0, MAX_LINE));
        pending = pending.slice(newline + 1);
        newline = pending.indexOf("\n");
      }
      if (pending.length > MAX_LINE) {
        onLine(pending.slice(0, MAX_LINE));
        pending = "";
      }
    },
    end() {
      if (pending) onLine(pending.slice(0, MAX_LINE));
      pending = "";
    },
  };
}
