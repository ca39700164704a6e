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
