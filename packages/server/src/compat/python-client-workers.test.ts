/**
 * Wire compatibility with the Python client `scale-launch` on real workers (local orchestrator, real
 * `launch-worker` processes, the documentation's model as a runnable image): the client's whole flow from
 * bundle to result for async, sync and streaming endpoints, each answer read with the client's rules
 * (`python-models.ts`). Python bundles (cloudpickle, zip) and `return_pickled` run in the Python runtime,
 * tested with it (`execution/python-bundles.test.ts`).
 */
import { existsSync } from "node:fs";
import { fixturePath } from "@launch/worker";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { workerBinPath } from "../execution/worker-bin.js";
import { createNodeDocBundle } from "../testing/bundles.js";
import { startTestServer, type TestServer } from "../testing/server.js";
import { PythonClientWire } from "./python-client.js";
import {
  asyncTaskProblems,
  futureGetStep,
  modelEndpointProblems,
  streamEvents,
  syncPredict,
  syncTaskProblems,
} from "./python-models.js";

const built = (() => {
  try {
    return existsSync(workerBinPath());
  } catch {
    return false;
  }
})();

/** The documentation's model (`x + len(y)`) as the client's runnable image: node runs the fixture. */
const DOC_MODEL_COMMAND = [process.execPath, fixturePath("doc-model-server.mjs")];

/** Polls `endpoint.status()` as a client script does, until READY with a worker available. */
async function waitUntilReady(client: PythonClientWire, name: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const view = await client.getModelEndpoint(name);
    if (view?.status === "READY" && (view.deployment_state?.available_workers ?? 0) > 0) return view;
    if (view?.status === "UPDATE_FAILED") throw new Error(`${name} failed: ${view.status_reason}`);
    if (Date.now() > deadline) throw new Error(`${name} not ready: ${JSON.stringify(view)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** `EndpointResponseFuture.get()`, polling faster than the client's 2 s; returns every status seen too. */
async function futureGet(client: PythonClientWire, taskId: string, timeoutMs = 20_000) {
  const seen: string[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = (await client.getAsyncEndpointResponse(taskId)).json;
    expect(asyncTaskProblems(answer)).toEqual([]);
    seen.push(answer.status);
    // STARTED is skipped here so the flow can finish; `python-client-tasks.test.ts` records that the
    // client itself raises on it.
    if (answer.status !== "PENDING" && answer.status !== "STARTED") {
      return { answer, response: futureGetStep(answer), seen };
    }
    if (Date.now() > deadline) throw new Error(`task ${taskId} unfinished: ${JSON.stringify(answer)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(!built && !process.env.CI)("the Python client's flow on real workers", () => {
  let server: TestServer;
  let client: PythonClientWire;
  let key: string;

  beforeAll(async () => {
    server = await startTestServer({ overrides: { orchestration: "local", workerDrainSeconds: 1 } });
    key = await server.createKey("py-user", "py-team");
    client = new PythonClientWire(server.url, key);
    await client.createModelBundleFromRunnableImageV2({
      model_bundle_name: "test-bundle",
      repository: "local",
      tag: "doc-model",
      command: DOC_MODEL_COMMAND,
      env: {},
      readiness_initial_delay_seconds: 10,
    });
  });

  afterAll(async () => {
    await server?.close();
  });

  it("async: create_model_endpoint, wait for READY, predict, future.get() gives 7", async () => {
    await client.createModelEndpoint({
      endpoint_name: "demo-endpoint-async",
      model_bundle: "test-bundle",
      cpus: 1,
      min_workers: 1,
      endpoint_type: "async",
      update_if_exists: true,
      labels: { team: "MY_TEAM", product: "launch" },
    });
    const view = await waitUntilReady(client, "demo-endpoint-async");
    expect(modelEndpointProblems(view)).toEqual([]);

    const { task_id } = await client.asyncRequest("demo-endpoint-async", { args: { x: 2, y: "hello" } });
    const { answer, response } = await futureGet(client, task_id);
    expect(answer).toEqual({
      task_id,
      status: "SUCCESS",
      result: { result: 7 },
      traceback: null,
      status_code: 200,
    });
    expect(response).toEqual({ status: "SUCCESS", result: 7, result_url: null, traceback: null });
  });

  it("sync: the client's default endpoint type; predict answers {status, result: {result: 7}, ...}", async () => {
    await client.createModelEndpoint({ endpoint_name: "demo-endpoint-sync", model_bundle: "test-bundle" });
    await waitUntilReady(client, "demo-endpoint-sync");
    const answer = await client.syncRequest("demo-endpoint-sync", { args: { x: 3, y: "hello" } });
    expect(syncTaskProblems(answer.json)).toEqual([]);
    expect(answer.json).toEqual({
      status: "SUCCESS",
      result: { result: 8 },
      traceback: null,
      status_code: 200,
    });
    expect(syncPredict(answer.json)).toEqual({
      status: "SUCCESS",
      result: 8,
      result_url: null,
      traceback: null,
    });
  });

  it("sync: a model error is HTTP 200 with status FAILURE, result null and a traceback", async () => {
    // The documentation's model as a Node bundle: predict({x}) without y throws a TypeError.
    await createNodeDocBundle(server, key, { name: "node-doc" });
    await client.createModelEndpoint({ endpoint_name: "failing-sync", model_bundle: "node-doc" });
    await waitUntilReady(client, "failing-sync");
    const answer = await client.syncRequest("failing-sync", { args: { x: 3 } });
    expect(answer.status).toBe(200);
    expect(syncTaskProblems(answer.json)).toEqual([]);
    expect(answer.json).toMatchObject({ status: "FAILURE", result: null, traceback: expect.any(String) });
    expect(syncPredict(answer.json)).toMatchObject({ status: "FAILURE", result: null, result_url: null });
  });

  it("streaming: each event is data: {status, result: {result: <event>}, traceback, status_code}", async () => {
    await client.createModelBundleFromStreamingEnhancedRunnableImageV2({
      model_bundle_name: "test-bundle-streaming",
      repository: "local",
      tag: "doc-model",
      streaming_command: DOC_MODEL_COMMAND,
      env: {},
      readiness_initial_delay_seconds: 10,
    });
    await client.createModelEndpoint({
      endpoint_name: "demo-endpoint-streaming",
      model_bundle: "test-bundle-streaming",
      endpoint_type: "streaming",
    });
    await waitUntilReady(client, "demo-endpoint-streaming");
    const answer = await client.streamingRequest("demo-endpoint-streaming", { args: { x: 2, y: "hi" } });
    expect(answer.status).toBe(200);
    expect(answer.headers.get("content-type")).toMatch(/^text\/event-stream/);
    // Compact JSON, keys in the reference's order.
    expect(answer.text).toContain(
      'data: {"status":"SUCCESS","result":{"result":"h"},"traceback":null,"status_code":200}\n\n',
    );
    const events = streamEvents(answer.text);
    events.forEach((event, i) => {
      expect(syncTaskProblems(event, `event[${i}]`)).toEqual([]);
    });
    expect(events.map((e) => syncPredict(e as Record<string, unknown>).result)).toEqual(["h", "i", 4]);
  });
});

describe.skipIf(!built && !process.env.CI)("results_as_string on real workers", () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({
      overrides: { orchestration: "local", workerDrainSeconds: 1, resultsAsString: true },
    });
  });

  afterAll(async () => {
    await server?.close();
  });

  it('sync and async answers carry the reference\'s bytes: {"result": "7"}', async () => {
    const client = new PythonClientWire(server.url, await server.createKey("py-user", "py-team"));
    await client.createModelBundleFromRunnableImageV2({
      model_bundle_name: "test-bundle",
      repository: "local",
      tag: "doc-model",
      command: DOC_MODEL_COMMAND,
      env: {},
      readiness_initial_delay_seconds: 10,
    });
    await client.createModelEndpoint({ endpoint_name: "strings-sync", model_bundle: "test-bundle" });
    await client.createModelEndpoint({
      endpoint_name: "strings-async",
      model_bundle: "test-bundle",
      endpoint_type: "async",
    });
    await waitUntilReady(client, "strings-sync");
    await waitUntilReady(client, "strings-async");

    const sync = await client.syncRequest("strings-sync", { args: { x: 2, y: "hello" } });
    expect(sync.text).toBe('{"status":"SUCCESS","result":{"result":"7"},"traceback":null,"status_code":200}');
    expect(syncPredict(sync.json).result).toBe("7");

    const { task_id } = await client.asyncRequest("strings-async", { args: { x: 2, y: "hello" } });
    const { answer } = await futureGet(client, task_id);
    expect(answer.result).toEqual({ result: "7" });
  });
});
