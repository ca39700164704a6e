/**
 * An error the CLI reports as `error: <message>`: exit code 2 for usage mistakes (a missing flag or API
 * key), 1 for everything else.
 *
 * @example throw new CliError("no API key: pass --api-key or set LAUNCH_API_KEY", 2);
 */
export class CliError extends Error {
  override readonly name = "CliError";
  readonly exitCode: 1 | 2;

  constructor(message: string, exitCode: 1 | 2 = 1) {
    super(message);
    this.exitCode = exitCode;
  }
}

/**
 * Whether `value` is a CliError (by name).
 *
 * @example if (isCliError(error)) return error.exitCode;
 */
export function isCliError(value: unknown): value is CliError {
  return value instanceof Error && value.name === "CliError" && "exitCode" in value;
}

/**
 * The first line of any error's message, without a stack.
 *
 * @example errorMessage(new Error("boom\nat ...")) // "boom"
 */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message.split("\n")[0] || error.name;
  return String(error);
}
