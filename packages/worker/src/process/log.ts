/**
 * Where a worker writes its human-readable lines. The controller keeps the worker's stdout and stderr as
 * the endpoint's logs, so: the worker's own lines start with `[launch-worker]`; the model's output is
 * forwarded unchanged, line by line, to the stream it was written to. Never log task args or results.
 */

/** The worker's log sink. */
export interface WorkerLog {
  /** A line about the worker's life (started, ready, draining, exit): stdout. */
  info(message: string): void;
  /** A problem (a failed task, a protocol error, a crash): stderr. */
  error(message: string): void;
  /** One line of the model's own output, forwarded as is. */
  model(line: string, stream: "stdout" | "stderr"): void;
}

/** The prefix of the worker's own lines. */
export const WORKER_LOG_PREFIX = "[launch-worker]";

/** A log writing to this process's stdout and stderr. */
export function consoleLog(
  out: NodeJS.WritableStream = process.stdout,
  err: NodeJS.WritableStream = process.stderr,
): WorkerLog {
  return {
    info: (message) => out.write(`${WORKER_LOG_PREFIX} ${message}\n`),
    error: (message) => err.write(`${WORKER_LOG_PREFIX} ${message}\n`),
    model: (line, stream) => (stream === "stderr" ? err : out).write(`${line}\n`),
  };
}

/** The first line of a message, cut to `max` characters (for one-line log entries). */
export function oneLine(message: string, max = 300): string {
  const newline = message.indexOf("\n");
  const first = newline < 0 ? message : `${message.slice(0, newline)} …`;
  return first.length > max ? `${first.slice(0, max)}…` : first;
}
