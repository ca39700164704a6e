/** `launch serve`: runs the Launch server in the foreground until SIGINT, SIGTERM or `io.signal`. */
import { type Command, Option } from "commander";
import type { CliIo } from "../io.js";
import { writeLine } from "../io.js";
import { parsePort } from "./shared.js";

interface ServeFlags {
  host?: string;
  port?: number;
  dataDir?: string;
  auth?: "keys" | "open";
  config?: string;
  roles?: string;
}

/**
 * Registers `launch serve` on the program.
 *
 * @example registerServe(program, io);
 */
export function registerServe(program: Command, io: CliIo): void {
  program
    .command("serve")
    .description("run the Launch server (gateway and embedded store) until interrupted")
    .option("--host <host>", "address to listen on (default: $LAUNCH_HOST or 127.0.0.1)")
    .option(
      "--port <port>",
      "port to listen on, 0 for any free port (default: $LAUNCH_PORT or 5001)",
      parsePort,
    )
    .option("--data-dir <dir>", "data directory (default: $LAUNCH_DATA_DIR or ./.launch)")
    .addOption(
      new Option("--auth <mode>", "keys: API keys; open: any key is its own user (development only)").choices(
        ["keys", "open"],
      ),
    )
    .option("--config <file>", "JSON configuration file (default: $LAUNCH_CONFIG_FILE)")
    .option(
      "--roles <roles>",
      "comma-separated: gateway, controller, dispatcher, or all (default: $LAUNCH_ROLES or all)",
    )
    .action(async (flags: ServeFlags) => serve(flags, io));
}

async function serve(flags: ServeFlags, io: CliIo): Promise<void> {
  const { loadConfig, startServer } = await import("@launch/server");
  const config = loadConfig({
    env: io.env,
    ...(flags.config === undefined ? {} : { file: flags.config }),
    overrides: {
      host: flags.host,
      port: flags.port,
      dataDir: flags.dataDir,
      auth: flags.auth,
      roles: flags.roles?.split(",").map((role) => role.trim()),
    },
  });
  const server = await startServer(config, {
    onAdminKey: (key) => printAdminKey(io, key),
    logDestination: { write: (line: string) => void io.stdout.write(line) },
  });
  writeLine(
    io.stdout,
    `Launch is listening on ${server.url} (auth: ${config.auth}, data: ${config.dataDir}, roles: ${config.roles.join(",")})`,
  );
  await stopRequested(io.signal);
  writeLine(io.stdout, "Stopping: finishing requests in flight...");
  await server.close();
  writeLine(io.stdout, "Stopped.");
}

/** Resolves on the first SIGINT or SIGTERM, or when `signal` aborts; removes its listeners afterwards. */
function stopRequested(signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const stop = (): void => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      signal?.removeEventListener("abort", stop);
      resolve();
    };
    if (signal?.aborted) return stop();
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
    signal?.addEventListener("abort", stop, { once: true });
  });
}

function printAdminKey(io: CliIo, key: string): void {
  const lines = [
    `Admin API key (shown once, only its hash is kept): ${key}`,
    "Use it with:   export LAUNCH_API_KEY=<the key above>",
    "Create keys:   launch keys create --user U --team T",
  ];
  const width = Math.max(...lines.map((line) => line.length));
  const border = `+${"-".repeat(width + 2)}+`;
  io.stdout.write(`${[border, ...lines.map((line) => `| ${line.padEnd(width)} |`), border].join("\n")}\n`);
}
