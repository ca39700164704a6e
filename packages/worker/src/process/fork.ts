/**
 * How a controller starts a worker: `forkWorker()` forks the built `launch-worker` bin with an IPC
 * channel, piped stdout and stderr (the endpoint's logs), no inherited `execArgv`, and a minimal
 * environment so that server secrets never reach model code (Node bundles run inside the worker).
 */
import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";

/** The environment variables a worker inherits by default. */
export const WORKER_ENV_KEYS = ["PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR"] as const;

/**
 * The absolute path of the built bin, `packages/worker/dist/bin.js` (the same from the sources and from
 * the build, so tests running on sources can fork it after `tsc -b`).
 */
export function workerBinPath(): string {
  return fileURLToPath(new URL("../../dist/bin.js", import.meta.url));
}

export interface ForkWorkerOptions {
  /** The worker's environment. Default: `WORKER_ENV_KEYS` of this process, nothing else. */
  env?: Record<string, string | undefined>;
  /** Node flags for the worker. Default none (the parent's are not inherited). */
  execArgv?: string[];
  /** Working directory. Default: this process's. */
  cwd?: string;
}

/**
 * Forks a worker. Send it `init` at once; read its `ready`, and keep its stdout and stderr as logs.
 *
 * @example const child = forkWorker(); child.send(init); child.on("message", (m: WorkerMessage) => …);
 */
export function forkWorker(options: ForkWorkerOptions = {}): ChildProcess {
  const env = options.env ?? Object.fromEntries(WORKER_ENV_KEYS.map((key) => [key, process.env[key]]));
  return fork(workerBinPath(), [], {
    env: Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined)),
    execArgv: options.execArgv ?? [],
    stdio: ["ignore", "pipe", "pipe", "ipc"],
    serialization: "json",
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
  });
}
