/**
 * Callbacks of sync tasks: what a sync answer records (pure), the hook writing to a real outbox (the
 * embedded queue on a temporary SQLite file), and end to end with real workers: a sync endpoint calls
 * back with `task_id: null`, a streaming one never does.
 */
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { newId } from "@launch/protocol";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { TestReceiver } from "../callbacks/testing-receiver.js";
import { workerBinPath } from "../execution/worker-bin.js";
import { EmbeddedTaskQueue } from "../queue/embedded/embedded-queue.js";
import type { EndpointRecord, EndpointSpec, StoredCallbackAuth } from "../store/port.js";
import { createEndpoint, createFixtureImageBundle, readyWith, waitForEndpoint } from "../testing/bundles.js";
import { startTestServer, type TestServer } from "../testing/server.js";
import { NO_CALLBACK_URL, syncCallbackHook, syncDelivery } from "./sync-callbacks.js";
import type { SyncTaskFinished } from "./sync-tasks.js";

const BASIC: StoredCallbackAuth = { kind: "basic", username: "user", sealed: "v1.sealed-password" };
const MTLS: StoredCallbackAuth = { kind: "mtls", sealed: "v1.sealed-pem" };
const SUCCESS = JSON.stringify({
  status: "SUCCESS",
  result: { result: 7 },
  traceback: null,
  status_code: 200,
});
const FAILURE = JSON.stringify({
  status: "FAILURE",
  result: null,
  traceback: "Traceback (most recent call last):\n  ...\nValueError: boom\n",
  status_code: 500,
});

function endpoint(spec: Partial<EndpointSpec>): EndpointRecord {
  return {
    id: newId("endpoint"),
    owner: "team-a",
    createdBy: "u1",
    name: "sync-ep",
    endpointType: "sync",
    status: "READY",
    statusReason: null,
    spec: {
      postInferenceHooks: ["callback"],
      defaultCallbackUrl: "https://receiver.example.com/default",
      defaultCallbackAuth: null,
      callbackEvents: null,
      ...spec,
    } as EndpointSpec,
    version: 1,
    createdAt: "2030-01-01T00:00:00.000Z",
    lastUpdatedAt: "2030-01-01T00:00:00.000Z",
  };
}

function finished(
  record: EndpointRecord,
  response: string,
  callback: SyncTaskFinished["payload"]["callback"] = null,
): SyncTaskFinished {
  return {
    endpoint: record,
    caller: { userId: "u2", teamId: "team-b" },
    payload: { args: { x: 2, y: "hello" }, returnPickled: false, callback },
    response,
  };
}

describe("syncDelivery", () => {
  it("records the success body with task_id null, due at once, owned by the caller's team", () => {
    const record = endpoint({ defaultCallbackAuth: BASIC });
    expect(syncDelivery(finished(record, SUCCESS), 1_000)).toEqual({
      id: expect.stringMatching(/^dlv_/),
      taskId: null,
      endpointId: record.id,
      owner: "team-b",
      event: "succeeded",
      url: "https://receiver.example.com/default",
      auth: BASIC,
      body: '{"task_id":null,"result":7}',
      status: "pending",
      note: null,
      createdAt: 1_000,
    });
  });

  it("records nothing without the callback hook, even with a default and a per-task URL", () => {
    const record = endpoint({ postInferenceHooks: null });
    const override = { url: "https://receiver.example.com/task", auth: null, events: null };
    expect(syncDelivery(finished(record, SUCCESS, override), 1)).toBeUndefined();
    expect(syncDelivery(finished(endpoint({ postInferenceHooks: [] }), SUCCESS), 1)).toBeUndefined();
  });

  it("uses the task's URL, credentials (across kinds) and events over the endpoint's", () => {
    const record = endpoint({ defaultCallbackAuth: BASIC, callbackEvents: ["succeeded"] });
    const override = { url: "https://receiver.example.com/task", auth: MTLS, events: ["failed" as const] };
    expect(syncDelivery(finished(record, SUCCESS, override), 1)).toBeUndefined();
    expect(syncDelivery(finished(record, FAILURE, override), 1)).toMatchObject({
      event: "failed",
      url: "https://receiver.example.com/task",
      auth: MTLS,
      body: JSON.stringify({
        task_id: null,
        status: "FAILURE",
        result: null,
        error: "ValueError: boom",
        traceback: "Traceback (most recent call last):\n  ...\nValueError: boom\n",
      }),
    });
  });

  it("sends no failure callback unless the events ask for it (default: successes only)", () => {
    expect(syncDelivery(finished(endpoint({}), FAILURE), 1)).toBeUndefined();
    expect(syncDelivery(finished(endpoint({ callbackEvents: ["failed"] }), SUCCESS), 1)).toBeUndefined();
  });

  it("records a skipped delivery saying why when no URL was given", () => {
    expect(syncDelivery(finished(endpoint({ defaultCallbackUrl: null }), SUCCESS), 1)).toMatchObject({
      url: null,
      status: "skipped",
      note: NO_CALLBACK_URL,
    });
  });
});

describe("syncCallbackHook", () => {
  let dir: string;
  let queue: EmbeddedTaskQueue;

  afterEach(async () => {
    await queue.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("writes the delivery to the outbox without making the caller wait, and logs (without the body) when it cannot", async () => {
    dir = await mkdtemp(join(tmpdir(), "launch-sync-cb-"));
    queue = new EmbeddedTaskQueue({ file: join(dir, "queue.db"), resultRetentionMs: 86_400_000 });
    await queue.ready();
    const errors: { fields: object; message: string }[] = [];
    const hook = syncCallbackHook({
      outbox: queue,
      log: { error: (fields, message) => errors.push({ fields, message }) },
      clock: () => 5_000,
    });
    const record = endpoint({});
    expect(hook(finished(record, SUCCESS))).toBeUndefined();
    let listed = await queue.listDeliveries({ endpointId: record.id });
    for (let i = 0; listed.length === 0 && i < 200; i++) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      listed = await queue.listDeliveries({ endpointId: record.id });
    }
    expect(listed).toMatchObject([
      { taskId: null, status: "pending", body: '{"task_id":null,"result":7}', createdAt: 5_000 },
    ]);

    await queue.close();
    hook(finished(record, SUCCESS));
    for (let i = 0; errors.length === 0 && i < 200; i++) await new Promise((r) => setTimeout(r, 5));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({
      message: "could not record the callback of a sync task",
      fields: { endpointId: record.id },
    });
    expect(JSON.stringify(errors[0]!.fields)).not.toContain("result");
  });
});

const built = (() => {
  try {
    return existsSync(workerBinPath());
  } catch {
    return false;
  }
})();

describe.skipIf(!built && !process.env.CI)("sync and streaming endpoints with real workers", () => {
  let server: TestServer;
  let receiver: TestReceiver;
  let key: string;

  beforeAll(async () => {
    receiver = await TestReceiver.http();
    // `results_as_string` changes the client's answer, not the callback body.
    server = await startTestServer({ overrides: { orchestration: "local", resultsAsString: true } });
    key = await server.createKey("alice", "ml");
  });

  afterAll(async () => {
    await server?.close();
    await receiver?.close();
  });

  it("a sync task calls back with task_id null; a streaming task never does", async () => {
    const bundleId = await createFixtureImageBundle(server, key, "doc-model-server.mjs");
    const syncId = await createEndpoint(server, key, {
      name: "doc-sync-cb",
      bundleId,
      type: "sync",
      post_inference_hooks: ["callback"],
      default_callback_url: receiver.url("/sync"),
      default_callback_auth: { kind: "basic", username: "user", password: "password" },
    });
    const streamBundle = await createFixtureImageBundle(server, key, "doc-model-server.mjs", {
      streaming: true,
      name: "doc-stream-cb",
    });
    const streamId = await createEndpoint(server, key, {
      name: "doc-stream-cb",
      bundleId: streamBundle,
      type: "streaming",
      post_inference_hooks: ["callback"],
      default_callback_url: receiver.url("/stream"),
    });
    await waitForEndpoint(server, key, syncId, readyWith(1));
    await waitForEndpoint(server, key, streamId, readyWith(1));

    const sync = await server.request("POST", `/v1/sync-tasks?model_endpoint_id=${syncId}`, {
      key,
      body: { args: { x: 2, y: "hello" } },
    });
    expect(sync.status).toBe(200);
    expect(sync.body).toMatchObject({ status: "SUCCESS", result: { result: "7" } });
    const stream = await server.request("POST", `/v1/streaming-tasks?model_endpoint_id=${streamId}`, {
      key,
      body: { args: { x: 2, y: "hi" } },
    });
    expect(stream.status).toBe(200);

    const deadline = Date.now() + 20_000;
    let callbacks: { task_id: string | null; status: string; body: unknown }[] = [];
    while (Date.now() < deadline) {
      const res = await server.request("GET", `/v1/model-endpoints/${syncId}/callbacks`, { key });
      callbacks = res.body.callbacks;
      if (callbacks[0]?.status === "delivered") break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(callbacks).toMatchObject([
      { task_id: null, status: "delivered", body: { task_id: null, result: 7 } },
    ]);
    expect(receiver.received.map((r) => [r.path, r.body])).toEqual([
      ["/sync", '{"task_id":null,"result":7}'],
    ]);
    expect(receiver.received[0]?.headers.authorization).toBe(
      `Basic ${Buffer.from("user:password").toString("base64")}`,
    );
    // A streaming callback would have been recorded by now (before the sync one was sent); none was.
    const streamed = await server.request("GET", `/v1/model-endpoints/${streamId}/callbacks`, { key });
    expect(streamed.body).toEqual({ callbacks: [] });
  });
});
