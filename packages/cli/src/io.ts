/** What the CLI reads and writes: passed in, so that tests run the whole program in-process. */
export interface CliIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  /** The environment (`process.env` in `bin.ts`). Read by `settings.ts` and by the server's `loadConfig`. */
  env: Record<string, string | undefined>;
  /** Aborting stops a running `launch serve`, as SIGINT or SIGTERM do. */
  signal?: AbortSignal | undefined;
}

/**
 * Writes a line (adds the newline).
 *
 * @example writeLine(io.stdout, "Stopped.");
 */
export function writeLine(stream: CliIo["stdout"], text = ""): void {
  stream.write(`${text}\n`);
}

/**
 * Writes a value as indented JSON, for scripts (`--json`).
 *
 * @example writeJson(io.stdout, { deleted: true });
 */
export function writeJson(stream: CliIo["stdout"], value: unknown): void {
  stream.write(`${JSON.stringify(value, null, 2)}\n`);
}
