/** Option helpers shared by the commands. */
import { type Command, InvalidArgumentError } from "commander";

/**
 * Adds `--api-key`, `--endpoint` and `--json` to a command that talks to a server through the SDK.
 *
 * @example withApiOptions(endpoints.command("list")).action(async (flags) => { ... });
 */
export function withApiOptions(command: Command): Command {
  return command
    .option("--api-key <key>", "API key (default: $LAUNCH_API_KEY)")
    .option("--endpoint <url>", "server URL (default: $LAUNCH_ENDPOINT or http://127.0.0.1:5001)")
    .option("--json", "print JSON instead of a table");
}

/**
 * Adds `--data-dir` and `--config` to a command that opens the server's store directly.
 *
 * @example withStoreOptions(keys.command("list")).action(async (flags) => { ... });
 */
export function withStoreOptions(command: Command): Command {
  return command
    .option("--data-dir <dir>", "data directory (default: $LAUNCH_DATA_DIR or ./.launch)")
    .option("--config <file>", "JSON configuration file (default: $LAUNCH_CONFIG_FILE)");
}

/**
 * Parses a TCP port flag (0 picks a free one); anything else is a commander usage error.
 *
 * @example program.option("--port <port>", "port", parsePort);
 */
export function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value.trim()) || port > 65535) {
    throw new InvalidArgumentError("expected a port number from 0 to 65535.");
  }
  return port;
}

/**
 * Parses a whole-number flag of at least `min`; anything else is a commander usage error.
 *
 * @example program.option("--min-workers <n>", "fewest workers", intAtLeast(0));
 */
export function intAtLeast(min: number): (value: string) => number {
  return (value) => {
    const number = Number(value);
    if (!/^\d+$/.test(value.trim()) || number < min) {
      throw new InvalidArgumentError(`expected a whole number of at least ${min}.`);
    }
    return number;
  };
}

/**
 * Parses a positive number of seconds (fractions allowed); anything else is a commander usage error.
 *
 * @example program.option("--timeout <seconds>", "give up after", parseSeconds);
 */
export function parseSeconds(value: string): number {
  const number = Number(value);
  if (value.trim() === "" || !Number.isFinite(number) || number <= 0) {
    throw new InvalidArgumentError("expected a positive number of seconds.");
  }
  return number;
}

/**
 * Parses a JSON flag value; anything else is a commander usage error quoting the parser's complaint.
 *
 * @example program.option("--args <json>", "model input", parseJson);
 */
export function parseJson(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch (error) {
    throw new InvalidArgumentError(
      `expected JSON, e.g. '{"x": 2}' (${error instanceof Error ? error.message : String(error)}).`,
    );
  }
}

/**
 * Collects a repeatable `key=value` flag into an object.
 *
 * @example program.option("--label <key=value>", "a label (repeatable)", collectKeyValue, {});
 */
export function collectKeyValue(
  value: string,
  previous: Record<string, string> = {},
): Record<string, string> {
  const eq = value.indexOf("=");
  if (eq <= 0) throw new InvalidArgumentError(`expected key=value, got ${JSON.stringify(value)}.`);
  return { ...previous, [value.slice(0, eq)]: value.slice(eq + 1) };
}

/**
 * Collects a repeatable flag into a list.
 *
 * @example program.option("--hook <name>", "a hook (repeatable)", collectList);
 */
export function collectList(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
