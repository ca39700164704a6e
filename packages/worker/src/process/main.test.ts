/** The `launch-worker` command line: options from flags and environment, and the usage mistakes. */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { workerBinPath } from "./fork.js";
import { checkInit } from "./init.js";
import { parseWorkerCommand, USAGE } from "./main.js";
import { nodeFlavor, testBundle, testInit } from "./testing.js";

const SERVER = { LAUNCH_SERVER_URL: "http://gw-1:5001" };

function external(argv: string[], env: Record<string, string> = SERVER) {
  const command = parseWorkerCommand(argv, env);
  if (command.kind !== "external") throw new Error(`expected options, got ${JSON.stringify(command)}`);
  return command;
}

function usageError(argv: string[], env: Record<string, string> = SERVER): string {
  const command = parseWorkerCommand(argv, env);
  if (command.kind !== "error") throw new Error(`expected an error, got ${JSON.stringify(command)}`);
  return command.message;
}

describe("parseWorkerCommand", () => {
  it("reads every option from flags", () => {
    const command = external(
      [
        "--endpoint",
        "end_1",
        "--server",
        "http://gw-1:5001/, https://gw-2:5001",
        "--api-key",
        "lk_flag",
        "--listen",
        "0.0.0.0:8080",
        "--advertise-url",
        "http://10.0.0.7:8080/",
        "--concurrency",
        "3",
        "--cache-dir",
        "/var/cache/launch",
        "--python",
        "/opt/py/bin/python",
        "--drain-seconds",
        "45",
      ],
      {},
    );
    expect(command.apiKeyFromFlag).toBe(true);
    expect(command.options).toEqual({
      endpointId: "end_1",
      servers: ["http://gw-1:5001", "https://gw-2:5001"],
      apiKey: "lk_flag",
      httpHost: "0.0.0.0",
      httpPort: 8080,
      advertiseUrl: "http://10.0.0.7:8080",
      concurrency: 3,
      cacheDir: "/var/cache/launch",
      python: "/opt/py/bin/python",
      drainGraceMs: 45_000,
    });
  });

  it("reads the same options from the environment, and a flag wins over its variable", () => {
    const env = {
      LAUNCH_SERVER_URL: "http://gw-1:5001,http://gw-2:5001",
      LAUNCH_API_KEY: "lk_env",
      LAUNCH_WORKER_LISTEN: "[::]:9000",
      LAUNCH_WORKER_ADVERTISE_URL: "http://worker-7:9000",
      LAUNCH_WORKER_CONCURRENCY: "2",
      LAUNCH_WORKER_CACHE_DIR: "/tmp/lw",
      LAUNCH_PYTHON: "python3.11",
      LAUNCH_WORKER_DRAIN_SECONDS: "0.5",
    };
    const fromEnv = external(["--endpoint", "end_1"], env);
    expect(fromEnv.apiKeyFromFlag).toBe(false);
    expect(fromEnv.options).toMatchObject({
      servers: ["http://gw-1:5001", "http://gw-2:5001"],
      apiKey: "lk_env",
      httpHost: "::",
      httpPort: 9000,
      advertiseUrl: "http://worker-7:9000",
      concurrency: 2,
      cacheDir: "/tmp/lw",
      python: "python3.11",
      drainGraceMs: 500,
    });
    expect(external(["--endpoint", "end_1", "--concurrency", "5"], env).options.concurrency).toBe(5);
  });

  it("defaults to 127.0.0.1, any free port, the endpoint's concurrency and the user's cache", () => {
    const { options } = external(["--endpoint", "end_1"], { ...SERVER, XDG_CACHE_HOME: "/home/u/.cache" });
    expect(options).toEqual({
      endpointId: "end_1",
      servers: ["http://gw-1:5001"],
      apiKey: undefined,
      httpHost: "127.0.0.1",
      httpPort: 0,
      cacheDir: "/home/u/.cache/launch-worker",
    });
  });

  it("names the flag or variable and what was expected", () => {
    expect(usageError(["--endpoint", "end_1"], {})).toBe(
      "missing --server or LAUNCH_SERVER_URL (expected the gateway's base URL, e.g. http://launch.internal:5001; several comma separated)",
    );
    expect(usageError(["--endpoint", "end_1", "--server", "gw:5001"])).toContain(
      "--server must be a gateway base URL such as http://launch.internal:5001",
    );
    expect(usageError(["--endpoint", "end_1"], { LAUNCH_SERVER_URL: "http://a:1,ftp://b" })).toContain(
      'LAUNCH_SERVER_URL must be a gateway base URL such as http://launch.internal:5001, without credentials or query (got "ftp://b")',
    );
    expect(usageError(["--endpoint", "end_1", "--listen", "8080"])).toBe(
      '--listen must be host:port, e.g. 0.0.0.0:8080, 127.0.0.1:0 (any free port) or [::]:8080 (got "8080")',
    );
    expect(usageError(["--endpoint", "end_1"], { ...SERVER, LAUNCH_WORKER_CONCURRENCY: "two" })).toBe(
      'LAUNCH_WORKER_CONCURRENCY must be an integer ≥ 1 (got "two")',
    );
    expect(usageError(["--endpoint", "end_1", "--concurrency", "0"])).toBe(
      '--concurrency must be an integer ≥ 1 (got "0")',
    );
    expect(usageError(["--endpoint", "end_1", "--drain-seconds=-1"])).toBe(
      '--drain-seconds must be a number of seconds ≥ 0 (got "-1")',
    );
    expect(usageError(["--endpoint", "end_1", "--advertise-url", "worker-7:8080"])).toContain(
      "--advertise-url must be the URL gateways reach this worker at",
    );
    expect(usageError(["--endpoint", "end_1", "--bogus"])).toContain("Unknown option '--bogus'");
  });

  it("never echoes credentials put in a server URL", () => {
    const message = usageError(["--endpoint", "end_1", "--server", "http://admin:hunter2@gw:5001"]);
    expect(message).toContain("(got a URL with credentials)");
    expect(message).not.toContain("hunter2");
  });

  it("asks for help or says that --endpoint is missing", () => {
    expect(parseWorkerCommand(["--help"], {})).toEqual({ kind: "help" });
    expect(parseWorkerCommand(["-h", "--endpoint", "x"], {})).toEqual({ kind: "help" });
    expect(parseWorkerCommand([], SERVER)).toEqual({ kind: "no-endpoint" });
  });
});

describe("checkInit httpHost", () => {
  const init = testInit(testBundle(nodeFlavor()));
  it("accepts no host, an IP address or a host name, and names the field otherwise", () => {
    expect(checkInit(init)).toEqual([]);
    for (const host of ["0.0.0.0", "::", "127.0.0.1", "worker-7.internal"]) {
      expect(checkInit({ ...init, httpHost: host })).toEqual([]);
    }
    expect(checkInit({ ...init, httpHost: "http://x" })).toEqual([
      'httpHost must be an IP address or host name to listen on (default 127.0.0.1) (got "http://x")',
    ]);
  });
});

const built = existsSync(workerBinPath());

describe.skipIf(!built && !process.env.CI)(
  "launch-worker usage (the built bin; skipped when not built)",
  () => {
    async function run(args: string[], env: Record<string, string> = {}) {
      const child = spawn(process.execPath, [workerBinPath(), ...args], {
        env: { PATH: process.env.PATH ?? "", ...env },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
        stdout += chunk;
      });
      child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
        stderr += chunk;
      });
      const [code] = (await once(child, "exit")) as [number | null];
      return { code, stdout, stderr };
    }

    it("prints the usage on --help", async () => {
      expect(await run(["--help"])).toEqual({ code: 0, stdout: USAGE, stderr: "" });
    });

    it("exits 2 naming the missing setting", async () => {
      const result = await run(["--endpoint", "end_1"]);
      expect(result.code).toBe(2);
      expect(result.stderr).toBe(
        "[launch-worker] error: missing --server or LAUNCH_SERVER_URL (expected the gateway's base URL, e.g. http://launch.internal:5001; several comma separated)\n",
      );
    });
  },
);
