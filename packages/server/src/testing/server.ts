/**
 * A real Launch server for tests: a fresh temporary data directory, port 0 on 127.0.0.1, silent logs
 * (set `LAUNCH_TEST_LOG=debug` to see them), and helpers to make keys and call routes. It runs no workers
 * (`orchestration: "none"`) unless the test asks for `overrides: { orchestration: "local" }`.
 *
 * @example
 * const server = await startTestServer();
 * const key = await server.createKey("alice", "ml");
 * const res = await fetch(`${server.url}/v2/model-bundles`, { headers: { authorization: basicAuth(key) } });
 * await server.close();
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../config/load.js";
import { type ConfigOverrides, type LaunchConfig, SETTINGS } from "../config/schema.js";
import type { TaskQueue } from "../queue/port.js";
import { type RunningServer, startServer } from "../server.js";
import { createKey } from "../services/keys.js";
import type { KeyRole, Store } from "../store/port.js";
import { createTestSchema, type TestSchema } from "../store/postgres/test-database.js";

export interface TestServer {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  dataDir: string;
  config: LaunchConfig;
  /** The store the server runs on (a new instance after `restart()`). */
  store: Store;
  /** The task queue the server runs on (a new instance after `restart()`); lease from it to play a worker. */
  queue: TaskQueue;
  /** The admin key created on first start in `keys` mode; undefined in `open` mode. */
  adminKey: string | undefined;
  /** JSON log lines written so far, when started with `captureLogs`; empty otherwise. */
  logs: string[];
  /** Creates an API key for user/team (role "user" unless given) and returns the key text. */
  createKey(userId: string, teamId: string, role?: "admin" | "user"): Promise<string>;
  /**
   * Calls a route with JSON and returns the status, headers and parsed body (text when not JSON).
   * `key` is sent as Basic auth.
   */
  request(method: string, path: string, init?: TestRequestInit): Promise<TestResponse>;
  /** Closes and starts again on the same data dir and port (the store survives). */
  restart(): Promise<void>;
  /** Closes the server and removes the data directory. */
  close(): Promise<void>;
}

export interface TestRequestInit {
  key?: string;
  /** Sent as JSON unless it is a string or bytes. */
  body?: unknown;
  headers?: Record<string, string>;
}

export interface TestResponse {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: test bodies are read freely.
  body: any;
}

export interface StartTestServerOptions {
  auth?: "keys" | "open";
  overrides?: ConfigOverrides;
  /** Collect log lines into `logs` (at level `info` unless `overrides.logLevel` says otherwise). */
  captureLogs?: boolean;
  /**
   * `sqlite` (default): the embedded store in the data directory. `postgres`: a fresh schema in the test
   * database (`store/postgres/test-database.ts`), dropped by `close()`; `restart()` keeps it.
   */
  store?: "sqlite" | "postgres";
}

/** `LAUNCH_TEST_LOG` is the one test-only switch (a log level, e.g. `debug`); it is read here only. */
function testLogLevel(): LaunchConfig["logLevel"] {
  const level = process.env.LAUNCH_TEST_LOG;
  if (!level) return "silent";
  return (SETTINGS.logLevel.values ?? []).includes(level) ? (level as LaunchConfig["logLevel"]) : "debug";
}

/**
 * Starts a real server on a fresh temporary data directory. Environment `LAUNCH_*` variables are not
 * read, so a developer's settings never leak into tests.
 */
export async function startTestServer(options: StartTestServerOptions = {}): Promise<TestServer> {
  const dataDir = await mkdtemp(join(tmpdir(), "launch-test-"));
  let schema: TestSchema | undefined;
  const removeData = async (): Promise<void> => {
    await rm(dataDir, { recursive: true, force: true });
    await schema?.drop();
  };
  if (options.store === "postgres") {
    try {
      schema = await createTestSchema("launch_server");
    } catch (error) {
      await removeData();
      throw error;
    }
  }
  const logs: string[] = [];
  const echo = process.env.LAUNCH_TEST_LOG !== undefined && process.env.LAUNCH_TEST_LOG !== "";
  const logDestination = options.captureLogs
    ? {
        write(line: string) {
          logs.push(line.trimEnd());
          if (echo) process.stdout.write(line);
        },
      }
    : undefined;
  const baseLevel = options.captureLogs && !echo ? "info" : testLogLevel();
  const makeConfig = (port: number): LaunchConfig =>
    loadConfig({
      env: {},
      overrides: {
        host: "127.0.0.1",
        logLevel: baseLevel,
        auth: options.auth ?? "keys",
        // Control-plane tests use bundles that do not run; tests of real workers pass `orchestration: "local"`.
        orchestration: "none",
        ...options.overrides,
        ...(schema ? { store: "postgres", databaseUrl: schema.url } : {}),
        dataDir,
        port,
      },
    });

  let adminKey: string | undefined;
  const start = (config: LaunchConfig): Promise<RunningServer> =>
    startServer(config, {
      onAdminKey: (key) => {
        adminKey = key;
      },
      logDestination,
    });

  let running: RunningServer;
  try {
    running = await start(makeConfig(options.overrides?.port ?? 0));
  } catch (error) {
    await removeData();
    throw error;
  }
  let closed = false;

  const server: TestServer = {
    get url() {
      return running.url;
    },
    dataDir,
    get config() {
      return running.config;
    },
    get store() {
      return running.store;
    },
    get queue() {
      return running.queue;
    },
    get adminKey() {
      return adminKey;
    },
    logs,
    async createKey(userId, teamId, role: KeyRole = "user") {
      const { key } = await createKey(running.store, { userId, teamId, role });
      return key;
    },
    async request(method, path, init = {}) {
      const headers: Record<string, string> = { ...init.headers };
      if (init.key !== undefined) headers.authorization = basicAuth(init.key);
      let body: string | Uint8Array | undefined;
      if (typeof init.body === "string" || init.body instanceof Uint8Array) body = init.body;
      else if (init.body !== undefined) {
        body = JSON.stringify(init.body);
        headers["content-type"] ??= "application/json";
      }
      const response = await fetch(`${running.url}${path}`, { method, headers, body });
      const text = await response.text();
      let parsed: unknown = text;
      if ((response.headers.get("content-type") ?? "").includes("json") && text !== "") {
        parsed = JSON.parse(text);
      }
      return { status: response.status, headers: response.headers, body: parsed };
    },
    async restart() {
      const port = running.config.port;
      await running.close();
      running = await start(makeConfig(port));
    },
    async close() {
      if (closed) return;
      closed = true;
      try {
        await running.close();
      } finally {
        await removeData();
      }
    },
  };
  return server;
}

/** The Authorization header for a key: `Basic base64("<key>:")` (key as username, empty password). */
export function basicAuth(key: string): string {
  return `Basic ${Buffer.from(`${key}:`).toString("base64")}`;
}
