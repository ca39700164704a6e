import { existsSync } from "node:fs";
import { LaunchError } from "@launch/protocol";
import { workerBinPath as builtWorkerBin, WORKER_ENV_KEYS } from "@launch/worker";

/**
 * The path of the built `launch-worker` program, which the local orchestrator forks. Throws a clear
 * error when the worker package is not built.
 */
export function workerBinPath(): string {
  const bin = builtWorkerBin();
  if (!existsSync(bin)) {
    throw new LaunchError(
      "internal",
      `launch-worker is not built (${bin} is missing); run \`npm run build\``,
    );
  }
  return bin;
}

/**
 * A worker's environment: only what a process needs to run (`PATH`, `HOME`, locale, `TMPDIR`), so the
 * server's settings and secrets never reach model code (Node bundles run inside the worker).
 */
export function workerEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const key of WORKER_ENV_KEYS) if (process.env[key] !== undefined) env[key] = process.env[key];
  return env;
}
