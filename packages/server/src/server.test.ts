import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "./config/load.js";
import { startServer } from "./server.js";
import { basicAuth, startTestServer, type TestServer } from "./testing/server.js";

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "launch-server-test-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function testServer(options?: Parameters<typeof startTestServer>[0]): Promise<TestServer> {
  const server = await startTestServer(options);
  cleanups.push(() => server.close());
  return server;
}

const runnableBundle = {
  name: "kept",
  schema_location: "s3://launch/uploads/ml/schema",
  flavor: { flavor: "runnable_image", repository: "r", tag: "t", command: ["serve"] },
};

describe("startServer", () => {
  it("creates an admin key on first start in keys mode, reports it once, and not on the next start", async () => {
    const dataDir = await tempDir();
    const config = loadConfig({ env: {}, overrides: { dataDir, port: 0, logLevel: "silent" } });
    const reported: string[] = [];
    const first = await startServer(config, { onAdminKey: (key) => reported.push(key) });
    try {
      expect(reported).toHaveLength(1);
      expect(reported[0]).toMatch(/^lk_/);
      const keys = await first.store.listKeys();
      expect(keys).toHaveLength(1);
      expect(keys[0]).toMatchObject({ userId: "admin", teamId: "admin", role: "admin", revokedAt: null });
      const res = await fetch(`${first.url}/v2/model-bundles`, {
        headers: { authorization: basicAuth(reported[0]!) },
      });
      expect(res.status).toBe(200);
      expect(first.config.port).toBeGreaterThan(0);
      expect(first.url).toBe(`http://127.0.0.1:${first.config.port}`);
    } finally {
      await first.close();
    }
    const second = await startServer(config, { onAdminKey: (key) => reported.push(key) });
    await second.close();
    expect(reported).toHaveLength(1);
  });

  it("closes cleanly twice and frees its port", async () => {
    const dataDir = await tempDir();
    const config = loadConfig({ env: {}, overrides: { dataDir, port: 0, logLevel: "silent", auth: "open" } });
    const server = await startServer(config);
    await server.close();
    await server.close();
    await expect(fetch(`${server.url}/healthz`)).rejects.toThrow();
  });

  it("fails to start with a clear error when the port is taken, leaving nothing open", async () => {
    const running = await testServer({ auth: "open" });
    const dataDir = await tempDir();
    const config = loadConfig({
      env: {},
      overrides: { dataDir, port: running.config.port, logLevel: "silent", auth: "open" },
    });
    await expect(startServer(config)).rejects.toThrow(/EADDRINUSE/);
  });

  it("warns at start in open mode", async () => {
    const server = await testServer({ auth: "open", captureLogs: true });
    const warnings = server.logs.map((line) => JSON.parse(line)).filter((entry) => entry.level === 40);
    expect(warnings.map((w) => w.msg)).toContain(
      "auth mode is open: any key is accepted as its own user and team; use only for local development",
    );
  });

  it("never writes API keys, Authorization headers or upload grants to its logs", async () => {
    const server = await testServer({ captureLogs: true, overrides: { logLevel: "debug" } });
    const key = await server.createKey("alice", "ml");
    await server.request("GET", "/v2/model-bundles", { key });
    await server.request("GET", "/v2/model-bundles", { headers: { authorization: `Bearer ${key}` } });
    const upload = await server.request("POST", "/v1/hosted_inference/model_bundle_upload", {
      key,
      body: {},
    });
    await fetch(upload.body.signedUrl, { method: "PUT", body: "bytes" });
    await server.request("GET", "/v2/model-bundles", { key: "lk_wrong_key_text" });
    const text = server.logs.join("\n");
    expect(server.logs.length).toBeGreaterThan(3);
    expect(text).toContain("/v1/uploads/[redacted]");
    for (const secret of [
      key,
      basicAuth(key),
      server.adminKey!,
      "lk_wrong_key_text",
      upload.body.signedUrl.split("/v1/uploads/")[1],
    ]) {
      expect(text).not.toContain(secret);
    }
  });
});

describe("TestServer.restart", () => {
  it("keeps bundles and keys on the same data dir and port", async () => {
    const server = await testServer();
    const key = await server.createKey("alice", "ml");
    const created = await server.request("POST", "/v2/model-bundles", { key, body: runnableBundle });
    const before = await server.request("GET", `/v2/model-bundles/${created.body.model_bundle_id}`, { key });
    const url = server.url;
    await server.restart();
    expect(server.url).toBe(url);
    const after = await server.request("GET", `/v2/model-bundles/${created.body.model_bundle_id}`, { key });
    expect(after.status).toBe(200);
    expect(after.body).toEqual(before.body);
    const adminKey = server.adminKey!;
    expect((await server.request("GET", "/v2/model-bundles", { key: adminKey })).status).toBe(200);
  });
});

const bin = fileURLToPath(new URL("../dist/bin.js", import.meta.url));

/** Runs `launch-server` (the built bin) and collects its output; resolves once it prints its URL. */
async function runBin(dataDir: string): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const child = spawn(process.execPath, [bin], {
    env: { PATH: process.env.PATH, LAUNCH_DATA_DIR: dataDir, LAUNCH_PORT: "0", LAUNCH_LOG_LEVEL: "warn" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await new Promise((resolve) => child.once("exit", resolve));
    }
  });
  let out = "";
  child.stdout?.on("data", (chunk) => {
    out += String(chunk);
  });
  child.stderr?.on("data", (chunk) => {
    out += String(chunk);
  });
  const url = await new Promise<string>((resolve, reject) => {
    const check = () => {
      const match = /listening on (http:\/\/\S+)/.exec(out);
      if (match) resolve(match[1]!);
    };
    child.stdout?.on("data", check);
    child.once("exit", (code) => reject(new Error(`launch-server exited with ${code}:\n${out}`)));
  });
  return { child, url, output: () => out };
}

async function stop(child: ChildProcess): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  child.kill("SIGTERM");
  return exited;
}

describe.skipIf(!existsSync(bin) && !process.env.CI)(
  "launch-server bin (needs `tsc -b`: it runs dist/bin.js)",
  () => {
    it("prints the admin key once in a box, serves, and exits 0 on SIGTERM", async () => {
      const dataDir = await tempDir();
      const first = await runBin(dataDir);
      const match = /Admin API key \(shown once\): (lk_\S+)/.exec(first.output());
      expect(match, first.output()).not.toBeNull();
      expect(first.output()).toContain("launch keys create --user U --team T");
      const res = await fetch(`${first.url}/v2/model-bundles`, {
        headers: { authorization: basicAuth(match![1]!) },
      });
      expect(res.status).toBe(200);
      expect(await stop(first.child)).toBe(0);

      const second = await runBin(dataDir);
      expect(second.output()).not.toContain("Admin API key");
      const again = await fetch(`${second.url}/v2/model-bundles`, {
        headers: { authorization: basicAuth(match![1]!) },
      });
      expect(again.status).toBe(200);
      expect(await stop(second.child)).toBe(0);
    });
  },
);
