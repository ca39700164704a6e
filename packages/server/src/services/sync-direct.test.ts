/**
 * Sync tasks on a runnable image, end to end: a real server with the local orchestrator, a real
 * `launch-worker` and the echo model program. Plain-`args` requests go from the gateway straight to the
 * model's own server (the worker is skipped) and answer exactly what the worker would; `url` requests go
 * through the worker. Stopping the worker process (SIGSTOP) tells the two paths apart.
 */
import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { workerBinPath } from "../execution/worker-bin.js";
import { createEndpoint, createFixtureImageBundle, readyWith, waitForEndpoint } from "../testing/bundles.js";
import { basicAuth, startTestServer, type TestServer } from "../testing/server.js";

const built = (() => {
  try {
    return existsSync(workerBinPath());
  } catch {
    return false;
  }
})();

describe.skipIf(!built && !process.env.CI)("sync tasks straight to a runnable image's model server", () => {
  let server: TestServer;
  let key: string;
  let endpointId: string;
  let workerUrl: string;
  let workerPid: number;

  beforeAll(async () => {
    server = await startTestServer({ overrides: { orchestration: "local", workerDrainSeconds: 2 } });
    key = await server.createKey("alice", "ml");
    const bundleId = await createFixtureImageBundle(server, key, "echo-server.mjs");
    endpointId = await createEndpoint(server, key, { name: "echo-sync", bundleId, type: "sync" });
    await waitForEndpoint(server, key, endpointId, readyWith(1));
    const logs = await server.request("GET", `/v1/model-endpoints/${endpointId}/logs?tail=200`, { key });
    const text = JSON.stringify(logs.body);
    workerUrl = /ready on (http:\/\/127\.0\.0\.1:\d+)/.exec(text)?.[1] ?? "";
    workerPid = Number(/started \(pid (\d+)\)/.exec(text)?.[1]);
    expect(workerUrl).not.toBe("");
    expect(workerPid).toBeGreaterThan(0);
  });

  afterAll(async () => {
    if (workerPid > 0) {
      try {
        process.kill(workerPid, "SIGCONT");
      } catch {
        // Already gone.
      }
    }
    await server?.close();
  });

  async function sync(body: unknown): Promise<{ status: number; text: string }> {
    const res = await fetch(`${server.url}/v1/sync-tasks?model_endpoint_id=${endpointId}`, {
      method: "POST",
      headers: { authorization: basicAuth(key), "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return { status: res.status, text: await res.text() };
  }

  async function throughWorker(body: unknown): Promise<string> {
    const res = await fetch(`${workerUrl}/predict`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return res.text();
  }

  it("answers byte for byte what the worker answers, the model's status included", async () => {
    for (const args of [
      { x: 2, y: "hello" },
      { status_code: 201, nested: { list: [1.5, 2e3, "é"] } },
      [1, 2, 3],
      "text",
    ]) {
      const direct = await sync({ args });
      expect(direct.status).toBe(200);
      expect(direct.text).toBe(await throughWorker({ args }));
    }
    expect(JSON.parse((await sync({ args: { status_code: 201 } })).text)).toEqual({
      status: "SUCCESS",
      result: { result: { status_code: 201 } },
      traceback: null,
      status_code: 201,
    });
  });

  it("skips the worker for args, and goes through it for a url", async () => {
    process.kill(workerPid, "SIGSTOP");
    try {
      const direct = await sync({ args: { x: 2, y: "hello" } });
      expect(JSON.parse(direct.text)).toMatchObject({
        status: "SUCCESS",
        result: { result: { x: 2, y: "hello" } },
      });
      // The stopped worker cannot answer a request that needs it: the deadline passes.
      const viaWorker = await sync({ url: "http://127.0.0.1:9/input.json", timeout_seconds: 1 });
      expect(viaWorker.status).toBe(504);
    } finally {
      process.kill(workerPid, "SIGCONT");
    }
  });
});
