/** `runCli`: the whole CLI as a function of arguments and I/O, returning the exit code. */
import { CommanderError } from "commander";
import { errorMessage, isCliError } from "./cli-error.js";
import type { CliIo } from "./io.js";
import { buildProgram } from "./program.js";

/**
 * Runs `launch` with `argv` (the arguments after the program name) and returns the exit code: 0 on
 * success, 1 when the command failed, 2 for usage errors. Failures print one line `error: <message>`
 * on stderr.
 *
 * @example
 * const code = await runCli(["endpoints", "list", "--json"], { stdout: process.stdout, stderr: process.stderr, env: process.env });
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync([...argv], { from: "user" });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has already printed its message (or the help); help and version exit 0.
      return error.exitCode === 0 ? 0 : 2;
    }
    io.stderr.write(`error: ${errorMessage(error)}\n`);
    return isCliError(error) ? error.exitCode : 1;
  }
}
