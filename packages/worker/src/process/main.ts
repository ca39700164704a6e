/**
 * The `launch-worker` process: runs `runWorker` over the IPC channel, drains on the first SIGTERM or
 * SIGINT, stops at once on the second, and exits with the worker's code.
 */
import { processChannel } from "./ipc.js";
import { consoleLog, WORKER_LOG_PREFIX } from "./log.js";
import { runWorker } from "./worker.js";

/** What a worker started by hand says before exiting. */
export const NO_IPC_MESSAGE =
  "launch-worker must be started by a Launch controller (no IPC channel); external workers arrive with scale-out";

const SIGNAL_NUMBERS: Record<string, number> = { SIGINT: 2, SIGTERM: 15 };

/** Runs this process as a worker. Resolves never: the process exits when the worker stops. */
export async function main(): Promise<void> {
  const channel = processChannel();
  if (!channel) {
    process.stderr.write(`${WORKER_LOG_PREFIX} ${NO_IPC_MESSAGE}\n`);
    process.exit(2);
  }
  const run = runWorker(channel, { log: consoleLog() });
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (!signalled) {
      signalled = true;
      run.drain(`received ${signal}`);
      return;
    }
    run.kill(128 + (SIGNAL_NUMBERS[signal] ?? 15), `received ${signal} while stopping`);
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  const code = await run.exited;
  process.exit(code);
}
