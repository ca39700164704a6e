#!/usr/bin/env node
/**
 * `launch-server`: starts the Launch server from the environment (`LAUNCH_*`) and `LAUNCH_CONFIG_FILE`,
 * prints its URL, and closes gracefully on SIGINT or SIGTERM (a second signal exits at once).
 */
import { isLaunchError } from "@launch/protocol";
import { loadConfig } from "./config/load.js";
import { startServer } from "./server.js";

async function main(): Promise<void> {
  const config = loadConfig();
  const server = await startServer(config);
  process.stdout.write(`Launch server listening on ${server.url} (auth: ${config.auth})\n`);
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      process.stderr.write(`${signal} again: exiting now\n`);
      process.exit(130);
    }
    stopping = true;
    process.stderr.write(`${signal}: closing (finishing requests in flight)\n`);
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`error while closing: ${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

main().catch((error: unknown) => {
  if (isLaunchError(error)) {
    process.stderr.write(`launch-server: ${error.message}\n`);
    for (const issue of error.issues ?? []) process.stderr.write(`  ${issue.loc.join(".")}: ${issue.msg}\n`);
  } else {
    process.stderr.write(
      `launch-server: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
  }
  process.exit(1);
});
