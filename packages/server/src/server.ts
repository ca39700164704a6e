import type { AddressInfo } from "node:net";
import { type Composition, compose, type LogDestination } from "./compose.js";
import type { LaunchConfig } from "./config/schema.js";
import type { TaskQueue } from "./queue/port.js";
import { createKey } from "./services/keys.js";
import type { Store } from "./store/port.js";

/** A gateway listening on its host and port, with the store it serves. */
export interface RunningServer {
  /** Where the gateway listens, e.g. `http://127.0.0.1:5001` (the real port when `port` was 0). */
  url: string;
  /** The configuration it runs with; `port` is the port it really listens on. */
  config: LaunchConfig;
  store: Store;
  /** The task queue it serves (tests lease from it to play a worker). */
  queue: TaskQueue;
  /** Stops accepting requests, lets running ones finish, then closes the store. Safe to call twice. */
  close(): Promise<void>;
}

export interface StartServerOptions {
  /**
   * Receives the admin API key created on the first start in `keys` mode (when the store has no keys).
   * Default: print it to stdout in a box, once.
   */
  onAdminKey?: (key: string) => void;
  /** Where JSON log lines go instead of stdout (tests capture them here). */
  logDestination?: LogDestination;
}

const OPEN_MODE_WARNING =
  "auth mode is open: any key is accepted as its own user and team; use only for local development";

/**
 * Composes the server from `config`, listens on `config.host`:`config.port`, and on the first start in
 * `keys` mode creates an admin key (user `admin`, team `admin`) and reports it once.
 *
 * @example
 * const server = await startServer(loadConfig());
 * console.log(`Launch listening on ${server.url}`);
 * process.on("SIGTERM", () => void server.close());
 */
export async function startServer(
  config: LaunchConfig,
  options: StartServerOptions = {},
): Promise<RunningServer> {
  const composition = await compose(config, { logDestination: options.logDestination });
  const { app, deps } = composition;
  let address: AddressInfo;
  try {
    await app.listen({ host: config.host, port: config.port });
    address = app.server.address() as AddressInfo;
  } catch (error) {
    await composition.close();
    throw error;
  }
  const listening: LaunchConfig = Object.freeze({ ...config, port: address.port });
  const url = `http://${urlHost(address.address)}:${address.port}`;
  app.log.info({ url, auth: config.auth, dataDir: config.dataDir }, "launch gateway listening");

  try {
    if (config.auth === "open") {
      app.log.warn(OPEN_MODE_WARNING);
    } else {
      await ensureAdminKey(composition, options.onAdminKey ?? printAdminKey(url));
    }
  } catch (error) {
    await composition.close();
    throw error;
  }

  return {
    url,
    config: listening,
    store: deps.store,
    queue: deps.queue,
    close: once(() => composition.close()),
  };
}

/** Creates the first admin key when the store has none, and hands it to `report` (it is never shown again). */
async function ensureAdminKey(composition: Composition, report: (key: string) => void): Promise<void> {
  const { store, now } = composition.deps;
  if ((await store.listKeys()).length > 0) return;
  const { key, record } = await createKey(store, { userId: "admin", teamId: "admin", role: "admin" }, now());
  composition.app.log.info({ keyId: record.id, prefix: record.prefix }, "created the first admin API key");
  report(key);
}

function printAdminKey(url: string): (key: string) => void {
  return (key) => {
    const lines = [
      `Admin API key (shown once): ${key}`,
      "",
      "Store it now: only its hash is kept. Use it as the API key, for example:",
      `  export LAUNCH_API_KEY=${key} LAUNCH_ENDPOINT=${url}`,
      `  curl -u ${key}: ${url}/v2/model-bundles`,
      "Create keys for your users with: launch keys create --user U --team T",
    ];
    const width = Math.max(...lines.map((l) => l.length));
    const border = `+${"-".repeat(width + 2)}+`;
    const box = [border, ...lines.map((l) => `| ${l.padEnd(width)} |`), border].join("\n");
    process.stdout.write(`\n${box}\n\n`);
  };
}

function urlHost(address: string): string {
  return address.includes(":") ? `[${address}]` : address;
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  return () => {
    done ??= fn();
    return done;
  };
}
