/**
 * The user's document, end to end through the SDK against a real server with real workers: a Node
 * bundle from `packages/worker/fixtures/doc-model/` (`x + len(y)`), async, sync and streaming endpoints.
 */
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../../server/src/testing/server.js";
import { LaunchClient } from "./client.js";
import { isLaunchClientError } from "./errors.js";
import { EndpointRequest, type EndpointResponse } from "./tasks.js";

const DOC_MODEL = fileURLToPath(new URL("../../worker/fixtures/doc-model/", import.meta.url));
const READY_TIMEOUT_MS = 60_000;

describe("the document's flow through the SDK, with real workers", () => {
  let server: TestServer;
  let client: LaunchClient;

  beforeAll(async () => {
    server = await startTestServer({ overrides: { orchestration: "local" } });
    client = new LaunchClient({ apiKey: await server.createKey("alice", "ml"), endpoint: server.url });
    const fromDir = {
      baseDir: DOC_MODEL,
      loadModelFnModulePath: "model.mjs#loadModel",
      requestSchema: { type: "object", properties: { x: { type: "integer" }, y: { type: "string" } } },
      responseSchema: { type: "integer" },
    };
    await client.createModelBundleFromDirsV2({
      ...fromDir,
      modelBundleName: "test-bundle",
      loadPredictFnModulePath: "model.mjs#loadPredictFn",
    });
    await client.createModelBundleFromDirsV2({
      ...fromDir,
      modelBundleName: "test-bundle-streaming",
      loadPredictFnModulePath: "model.mjs#loadStreamingPredictFn",
    });
  }, 60_000);
  afterAll(async () => {
    await server?.close();
  });

  it("async: READY, then predict gives 7 and 8 through futures", { timeout: 120_000 }, async () => {
    const endpoint = await client.createModelEndpoint({
      endpointName: "demo-endpoint-async",
      modelBundle: "test-bundle",
      endpointType: "async",
      cpus: 1,
      memory: "1Gi",
      minWorkers: 1,
      maxWorkers: 1,
      perWorker: 4,
    });
    const statuses: string[] = [];
    const ready = await endpoint.waitUntilReady({
      timeoutMs: READY_TIMEOUT_MS,
      intervalMs: 50,
      onProgress: (view) => statuses.push(view.status),
    });
    expect(ready.status).toBe("READY");
    expect(ready.deployment_state.available_workers).toBeGreaterThanOrEqual(1);
    expect(statuses.at(-1)).toBe("READY");

    const seven = await endpoint.predict({ request: new EndpointRequest({ args: { x: 2, y: "hello" } }) });
    const eight = await endpoint.predict({ request: { args: { x: 3, y: "hello" } } });
    expect(seven.taskId).toMatch(/^tsk_/);
    const [first, second] = await Promise.all([
      seven.get({ timeoutMs: 60_000 }),
      eight.get({ timeoutMs: 60_000 }),
    ]);
    expect(first).toMatchObject({
      status: "SUCCESS",
      result: 7,
      statusCode: 200,
      traceback: null,
      taskId: seven.taskId,
    });
    expect(second).toMatchObject({ status: "SUCCESS", result: 8 });
    expect(first.raw).toEqual({
      task_id: seven.taskId,
      status: "SUCCESS",
      result: { result: 7 },
      traceback: null,
      status_code: 200,
    });

    // A model error fails the task with its message and traceback.
    const bad = await endpoint.predict({ request: { args: { x: 2 } } });
    const failed = await bad.get({ timeoutMs: 60_000 });
    expect(failed).toMatchObject({ status: "FAILURE", result: null, statusCode: 500 });
    expect(failed.error).toContain("reading 'length'");
    expect(failed.traceback).toContain("model.mjs");

    // The workers' output is readable, and names the worker.
    const { logs } = await endpoint.logs({ tail: 50 });
    expect(logs.length).toBeGreaterThan(0);
    expect(logs[0]).toEqual({
      worker_id: expect.stringMatching(/^wrk_/),
      time: expect.any(String),
      stream: expect.stringMatching(/^std(out|err)$/),
      line: expect.any(String),
    });

    // Unknown task ids are 404s, not PENDING forever.
    const missing = await client
      .asyncTaskFuture("tsk_01jdq9z6v4k3m8n2p5r7s9t1vw")
      .get({ timeoutMs: 1000 })
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(isLaunchClientError(missing, "NotFoundError")).toBe(true);
  });

  it("sync: predict gives 7", { timeout: 120_000 }, async () => {
    const endpoint = await client.createModelEndpoint({
      endpointName: "demo-endpoint-sync",
      modelBundle: "test-bundle",
      endpointType: "sync",
      cpus: 1,
      memory: "1Gi",
      minWorkers: 1,
    });
    await endpoint.waitUntilReady({ timeoutMs: READY_TIMEOUT_MS, intervalMs: 50 });
    const response = await endpoint.predict({
      request: new EndpointRequest({ args: { x: 2, y: "hello" } }),
      timeoutSeconds: 30,
    });
    expect(response).toMatchObject({ status: "SUCCESS", result: 7, statusCode: 200, traceback: null });
    expect(response.raw).toEqual({
      status: "SUCCESS",
      result: { result: 7 },
      traceback: null,
      status_code: 200,
    });
  });

  it("streaming: predict yields each event, then the total", { timeout: 120_000 }, async () => {
    const endpoint = await client.createModelEndpoint({
      endpointName: "demo-endpoint-streaming",
      modelBundle: "test-bundle-streaming",
      endpointType: "streaming",
      cpus: 1,
      memory: "1Gi",
      minWorkers: 1,
    });
    await endpoint.waitUntilReady({ timeoutMs: READY_TIMEOUT_MS, intervalMs: 50 });
    const events: EndpointResponse[] = [];
    for await (const event of endpoint.predict({
      request: { args: { x: 2, y: "hello" } },
      timeoutSeconds: 30,
    })) {
      events.push(event);
    }
    expect(events.map((event) => event.status)).toEqual(Array(6).fill("SUCCESS"));
    expect(events.map((event) => event.result)).toEqual(["h", "e", "l", "l", "o", 7]);
  });
});
