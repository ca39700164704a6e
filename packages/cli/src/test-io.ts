/**
 * An in-memory `CliIo` for running the CLI inside tests and scripts: everything written is kept as text.
 *
 * @example
 * const io = memoryIo({ LAUNCH_API_KEY: key });
 * const code = await runCli(["endpoints", "list"], io);
 * console.log(io.stdoutText());
 */
import type { CliIo } from "./io.js";

export interface MemoryIo extends CliIo {
  stdoutText(): string;
  stderrText(): string;
}

/** A `CliIo` that keeps stdout and stderr in memory. */
export function memoryIo(env: Record<string, string | undefined> = {}, signal?: AbortSignal): MemoryIo {
  const out: string[] = [];
  const err: string[] = [];
  return {
    stdout: { write: (text: string) => out.push(text) },
    stderr: { write: (text: string) => err.push(text) },
    env,
    signal,
    stdoutText: () => out.join(""),
    stderrText: () => err.join(""),
  };
}
