/**
 * The `launch-worker` process. Started by a Launch controller (with an IPC channel), it runs `runWorker`
 * over that channel. Started by hand or by any process manager with `--endpoint <id> --server <url>`, it
 * joins the endpoint as an external worker over HTTP (`external-worker.ts`). Either way it drains on the
 * first SIGTERM or SIGINT, stops at once on the second, and exits with the worker's code.
 *
 * The options are read here, once: each flag has an environment variable, and the flag wins when both
 * are set. Usage mistakes print one `error:` line naming the flag and exit 2.
 */
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { type ExternalWorkerOptions, runExternalWorker } from "./external-worker.js";
import { isListenHost } from "./init.js";
import { processChannel } from "./ipc.js";
import { consoleLog, WORKER_LOG_PREFIX, type WorkerLog } from "./log.js";
import { runWorker } from "./worker.js";

/** What a worker started without a controller and without `--endpoint` says before exiting 2. */
export const NO_IPC_MESSAGE =
  "launch-worker was started without a Launch controller (no IPC channel) and without --endpoint: to join an endpoint as an external worker, run launch-worker --endpoint <id> --server <url> (see launch-worker --help)";

/** `launch-worker --help`. */
export const USAGE = `Usage: launch-worker --endpoint <id> --server <url[,url2,...]> [options]

Joins an endpoint as an external worker (the server's orchestration must be "external"): downloads the
endpoint's bundle, starts the model, registers with the gateways, leases tasks and answers sync requests.
Drains on SIGTERM or SIGINT (a second signal stops at once).

Options (each flag can also be set by the environment variable shown; the flag wins):
  --endpoint <id>          the endpoint to join (required)
  --server <urls>          gateway base URLs, comma separated; a failing one is skipped  [LAUNCH_SERVER_URL]
  --api-key <key>          an API key of the team that owns the endpoint; prefer the variable,
                           a flag is visible to every user of the host in ps  [LAUNCH_API_KEY]
  --listen <host:port>     where the sync port listens; use 0.0.0.0:<port> for gateways on other
                           hosts (port 0 = any free port)  [LAUNCH_WORKER_LISTEN, default 127.0.0.1:0]
  --advertise-url <url>    the URL gateways reach the sync port at  [LAUNCH_WORKER_ADVERTISE_URL,
                           default http://<listen host, or this host's name for 0.0.0.0>:<port>]
  --concurrency <n>        tasks run at once  [LAUNCH_WORKER_CONCURRENCY, default: the endpoint's]
  --cache-dir <dir>        downloaded and unpacked bundles  [LAUNCH_WORKER_CACHE_DIR,
                           default $XDG_CACHE_HOME/launch-worker or ~/.cache/launch-worker]
  --python <interpreter>   the interpreter for Python bundles  [LAUNCH_PYTHON, default python3]
  --drain-seconds <s>      how long in-flight tasks may run once draining  [LAUNCH_WORKER_DRAIN_SECONDS,
                           default 30]
  -h, --help               print this help
`;

/** What the command line asks for. */
export type WorkerCommand =
  | { kind: "help" }
  | { kind: "no-endpoint" }
  | { kind: "error"; message: string }
  | { kind: "external"; options: Omit<ExternalWorkerOptions, "log">; apiKeyFromFlag: boolean };

const OPTIONS = {
  endpoint: { type: "string" },
  server: { type: "string" },
  "api-key": { type: "string" },
  listen: { type: "string" },
  "advertise-url": { type: "string" },
  concurrency: { type: "string" },
  "cache-dir": { type: "string" },
  python: { type: "string" },
  "drain-seconds": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

type Flag = Exclude<keyof typeof OPTIONS, "help">;

const ENV: Partial<Record<Flag, string>> = {
  server: "LAUNCH_SERVER_URL",
  "api-key": "LAUNCH_API_KEY",
  listen: "LAUNCH_WORKER_LISTEN",
  "advertise-url": "LAUNCH_WORKER_ADVERTISE_URL",
  concurrency: "LAUNCH_WORKER_CONCURRENCY",
  "cache-dir": "LAUNCH_WORKER_CACHE_DIR",
  python: "LAUNCH_PYTHON",
  "drain-seconds": "LAUNCH_WORKER_DRAIN_SECONDS",
};

class UsageError extends Error {}

/**
 * Reads the command line and the environment into what to run. Pure: nothing is started.
 *
 * @example parseWorkerCommand(["--endpoint", "end_1"], { LAUNCH_SERVER_URL: "http://gw:5001" })
 */
export function parseWorkerCommand(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): WorkerCommand {
  let values: Partial<Record<Flag, string>> & { help?: boolean };
  try {
    values = parseArgs({ args: [...argv], options: OPTIONS, strict: true, allowPositionals: false }).values;
  } catch (error) {
    return { kind: "error", message: `${(error as Error).message} (see launch-worker --help)` };
  }
  if (values.help) return { kind: "help" };
  if (values.endpoint === undefined) return { kind: "no-endpoint" };
  try {
    /** The flag's value, else its variable's; with the name to quote in an error. */
    const read = (flag: Flag): { value: string; name: string } | undefined => {
      const fromFlag = values[flag];
      if (fromFlag !== undefined) return { value: fromFlag.trim(), name: `--${flag}` };
      const variable = ENV[flag];
      const fromEnv = variable === undefined ? undefined : env[variable];
      if (fromEnv === undefined || fromEnv.trim() === "") return undefined;
      return { value: fromEnv.trim(), name: variable! };
    };
    const endpointId = values.endpoint.trim();
    if (endpointId === "")
      throw new UsageError("--endpoint must be an endpoint id such as end_... (got nothing)");

    const server = read("server");
    if (!server) {
      throw new UsageError(
        "missing --server or LAUNCH_SERVER_URL (expected the gateway's base URL, e.g. http://launch.internal:5001; several comma separated)",
      );
    }
    const servers = server.value.split(",").map((url) => url.trim());
    for (const url of servers)
      checkUrl(server.name, url, "a gateway base URL such as http://launch.internal:5001");

    const listenSetting = read("listen");
    const listen = listenSetting
      ? parseListen(listenSetting.name, listenSetting.value)
      : { host: "127.0.0.1", port: 0 };

    const advertise = read("advertise-url");
    if (advertise)
      checkUrl(
        advertise.name,
        advertise.value,
        "the URL gateways reach this worker at, e.g. http://10.0.0.7:8080",
      );

    const concurrencySetting = read("concurrency");
    let concurrency: number | undefined;
    if (concurrencySetting) {
      concurrency = Number(concurrencySetting.value);
      if (!/^\d+$/.test(concurrencySetting.value) || concurrency < 1) {
        throw new UsageError(
          `${concurrencySetting.name} must be an integer ≥ 1 (got ${JSON.stringify(concurrencySetting.value)})`,
        );
      }
    }

    const drainSetting = read("drain-seconds");
    let drainGraceMs: number | undefined;
    if (drainSetting) {
      const seconds = Number(drainSetting.value);
      if (!Number.isFinite(seconds) || seconds < 0 || drainSetting.value === "") {
        throw new UsageError(
          `${drainSetting.name} must be a number of seconds ≥ 0 (got ${JSON.stringify(drainSetting.value)})`,
        );
      }
      drainGraceMs = Math.round(seconds * 1000);
    }

    const cacheDir = read("cache-dir")?.value ?? defaultCacheDir(env);
    const python = read("python")?.value;
    const apiKey = read("api-key");
    return {
      kind: "external",
      apiKeyFromFlag: apiKey?.name === "--api-key",
      options: {
        endpointId,
        servers: servers.map((url) => url.replace(/\/+$/, "")),
        apiKey: apiKey?.value,
        cacheDir: resolve(cacheDir),
        httpHost: listen.host,
        httpPort: listen.port,
        ...(advertise ? { advertiseUrl: advertise.value.replace(/\/+$/, "") } : {}),
        ...(concurrency === undefined ? {} : { concurrency }),
        ...(python === undefined ? {} : { python }),
        ...(drainGraceMs === undefined ? {} : { drainGraceMs }),
      },
    };
  } catch (error) {
    if (error instanceof UsageError) return { kind: "error", message: error.message };
    throw error;
  }
}

/** `host:port` or `[ipv6]:port` → its parts. */
function parseListen(name: string, value: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value);
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  if (!match || !isListenHost(host) || port > 65_535) {
    throw new UsageError(
      `${name} must be host:port, e.g. 0.0.0.0:8080, 127.0.0.1:0 (any free port) or [::]:8080 (got ${JSON.stringify(value)})`,
    );
  }
  return { host: host!, port };
}

function checkUrl(name: string, value: string, expected: string): void {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  const ok =
    url !== undefined &&
    (url.protocol === "http:" || url.protocol === "https:") &&
    url.username === "" &&
    url.password === "" &&
    url.search === "" &&
    url.hash === "";
  if (!ok) {
    // A URL with credentials is not echoed back.
    const shown = url && (url.username || url.password) ? "a URL with credentials" : JSON.stringify(value);
    throw new UsageError(`${name} must be ${expected}, without credentials or query (got ${shown})`);
  }
}

function defaultCacheDir(env: Readonly<Record<string, string | undefined>>): string {
  const base = env.XDG_CACHE_HOME?.trim() || join(homedir(), ".cache");
  return join(base, "launch-worker");
}

const SIGNAL_NUMBERS: Record<string, number> = { SIGINT: 2, SIGTERM: 15 };

/** Drains on the first SIGTERM or SIGINT, stops at once on the second. */
function onSignals(run: { drain(why: string): void; kill(code: number, why: string): void }): void {
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
}

/** Runs this process as a worker. Resolves never: the process exits when the worker stops. */
export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  const log: WorkerLog = consoleLog();
  const channel = processChannel();
  if (channel) {
    const run = runWorker(channel, { log });
    onSignals(run);
    process.exit(await run.exited);
  }
  const command = parseWorkerCommand(argv, process.env);
  switch (command.kind) {
    case "help":
      process.stdout.write(USAGE);
      process.exit(0);
      break;
    case "no-endpoint":
      process.stderr.write(`${WORKER_LOG_PREFIX} ${NO_IPC_MESSAGE}\n`);
      process.exit(2);
      break;
    case "error":
      process.stderr.write(`${WORKER_LOG_PREFIX} error: ${command.message}\n`);
      process.exit(2);
      break;
    case "external": {
      if (command.apiKeyFromFlag) {
        log.info("note: --api-key is visible to every user of this host (ps); prefer LAUNCH_API_KEY");
      }
      const run = runExternalWorker({ ...command.options, log });
      onSignals(run);
      process.exit(await run.exited);
    }
  }
}
