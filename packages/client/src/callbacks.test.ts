/**
 * The SDK's callback methods against a real server (real HTTP, SQLite queue and outbox, the real
 * dispatcher), delivering to a receiver built with the SDK's own `createCallbackHandler` on a real
 * `http.createServer`. No workers run: the test plays the worker by leasing from the server's queue and
 * completing the task, as the server's route tests do.
 */
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { CallbackDeliveryView } from "@launch/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../../server/src/testing/server.js";
import { LaunchClient } from "./client.js";
import type { AsyncEndpoint } from "./endpoint.js";
import { isLaunchClientError } from "./errors.js";
import { PostInferenceHooks } from "./hooks.js";
import { type CallbackMeta, type CallbackPayload, createCallbackHandler } from "./receiver.js";
import { EndpointRequest } from "./tasks.js";

const DEADLINE_MS = 20_000;

let server: TestServer;
let client: LaunchClient;
let otherTeam: LaunchClient;
let endpoint: AsyncEndpoint;
let receiverServer: Server;
let receiverUrl: string;
/** The receiver's verifying handler; made once the endpoint (and its secret) exists. */
let verifying: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
/** Paths under `/reject` answer 400 until they are put in here. */
const fixed = new Set<string>();
const received: { path: string; payload: CallbackPayload; meta: CallbackMeta }[] = [];

/** Plays a worker: leases the endpoint's next task and completes it with `output`. */
async function runNext(endpointId: string, output: unknown): Promise<string> {
  const [task] = await server.queue.lease({
    queue: endpointId,
    workerId: "test-worker",
    max: 1,
    leaseMs: 60_000,
  });
  if (!task) throw new Error(`no task to lease on ${endpointId}`);
  expect(await server.queue.complete(task.id, task.leaseToken, { output, statusCode: 200 })).toBe(true);
  return task.id;
}

/** Reads `read()` until `until` holds (the dispatcher delivers in the background). */
async function eventually(
  read: () => Promise<CallbackDeliveryView[]>,
  until: (callbacks: CallbackDeliveryView[]) => boolean,
): Promise<CallbackDeliveryView[]> {
  const deadline = Date.now() + DEADLINE_MS;
  for (;;) {
    const callbacks = await read();
    if (until(callbacks)) return callbacks;
    if (Date.now() > deadline) throw new Error(`callbacks never matched: ${JSON.stringify(callbacks)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const settled = (status: string) => (callbacks: CallbackDeliveryView[]) =>
  callbacks.length === 1 && callbacks[0]?.status === status;

const uniquePath = (prefix = "/hook") => `${prefix}/${Math.random().toString(36).slice(2, 10)}`;

/** Submits a task and plays the worker; returns the future. */
async function finishedTask(args: { x: number; y: string }, callbackUrl?: string) {
  const future = await endpoint.predict({ request: new EndpointRequest({ args, callbackUrl }) });
  await runNext(endpoint.id, args.x + args.y.length);
  return future;
}

beforeAll(async () => {
  receiverServer = createServer((req, res) => {
    const path = req.url ?? "/";
    if (path.startsWith("/reject") && !fixed.has(path)) {
      req.resume();
      res.writeHead(400).end("not yet");
      return;
    }
    if (!verifying) {
      res.writeHead(503).end();
      return;
    }
    verifying(req, res);
  });
  receiverServer.listen(0, "127.0.0.1");
  await once(receiverServer, "listening");
  receiverUrl = `http://127.0.0.1:${(receiverServer.address() as AddressInfo).port}`;

  server = await startTestServer();
  client = new LaunchClient({ apiKey: await server.createKey("alice", "ml"), endpoint: server.url });
  otherTeam = new LaunchClient({ apiKey: await server.createKey("bob", "other"), endpoint: server.url });
  await client.createModelBundleV2({
    modelBundleName: "doc-bundle",
    flavor: { flavor: "runnable_image", repository: "example/model", tag: "1", command: ["serve"] },
  });
  endpoint = await client.createModelEndpoint({
    endpointName: "cb-endpoint",
    modelBundle: "doc-bundle",
    endpointType: "async",
    postInferenceHooks: [PostInferenceHooks.CALLBACK],
    defaultCallbackUrl: `${receiverUrl}/hook`,
  });
  const { secret } = await client.getCallbackSecret("cb-endpoint");
  verifying = createCallbackHandler({
    secret,
    onCallback: (payload, meta) => void received.push({ path: meta.request.url ?? "", payload, meta }),
  });
});

afterAll(async () => {
  await server?.close();
  if (receiverServer) {
    receiverServer.closeAllConnections();
    receiverServer.close();
  }
});

describe("a task's callbacks", () => {
  it("future.callbacks() and getTaskCallbacks show the delivery the verifying receiver accepted", async () => {
    const future = await finishedTask({ x: 2, y: "hello" });
    const [delivery] = await eventually(() => future.callbacks(), settled("delivered"));
    expect(delivery).toMatchObject({
      id: expect.stringMatching(/^dlv_/),
      task_id: future.taskId,
      endpoint_id: endpoint.id,
      event: "succeeded",
      url: `${receiverUrl}/hook`,
      status: "delivered",
      last_status_code: 204,
      body: { task_id: future.taskId, result: 7 },
    });
    expect(delivery?.attempts.map((a) => [a.n, a.status_code, a.outcome])).toEqual([[1, 204, "delivered"]]);
    expect(await client.getTaskCallbacks(future.taskId)).toEqual([delivery]);

    // The receiver verified the signature with the secret from getCallbackSecret.
    const got = received.filter((r) => r.meta.webhookId === delivery?.id);
    expect(got.map((r) => r.payload)).toEqual([{ task_id: future.taskId, result: 7 }]);
  });

  it("is empty before the task finishes", async () => {
    const future = await endpoint.predict({ request: new EndpointRequest({ args: { x: 1, y: "a" } }) });
    expect(await future.callbacks()).toEqual([]);
    await runNext(endpoint.id, 2);
    await eventually(() => future.callbacks(), settled("delivered"));
  });
});

describe("an endpoint's callbacks and replays", () => {
  it("lists by name, id or object, filters by status and pages; replays a dead letter once fixed", async () => {
    const path = uniquePath("/reject");
    const future = await finishedTask({ x: 3, y: "hello" }, `${receiverUrl}${path}`);
    const [dead] = await eventually(() => future.callbacks(), settled("failed"));
    expect(dead).toMatchObject({ status: "failed", last_status_code: 400, next_attempt_at: null });

    const failed = await client.listEndpointCallbacks("cb-endpoint", { status: "failed" });
    expect(failed.map((d) => d.id)).toEqual([dead?.id]);
    expect(await client.listEndpointCallbacks(endpoint.id, { status: "failed" })).toEqual(failed);
    expect(await endpoint.callbacks({ status: "failed" })).toEqual(failed);

    const all = await endpoint.callbacks();
    expect(all[0]?.id).toBe(dead?.id); // newest first
    const [first] = await client.listEndpointCallbacks(endpoint, { limit: 1 });
    expect(first?.id).toBe(all[0]?.id);
    const next = await client.listEndpointCallbacks(endpoint, { limit: 1, before: first?.id });
    expect(next.map((d) => d.id)).toEqual([all[1]?.id]);

    fixed.add(path);
    const replayed = await client.replayCallback(dead?.id ?? "");
    expect(replayed).toMatchObject({ id: dead?.id, task_id: future.taskId });
    const [delivered] = await eventually(() => future.callbacks(), settled("delivered"));
    expect(delivered?.attempts.map((a) => [a.n, a.status_code])).toEqual([
      [1, 400],
      [2, 204],
    ]);
    expect(received.filter((r) => r.meta.webhookId === dead?.id).map((r) => r.payload)).toEqual([
      { task_id: future.taskId, result: 8 },
    ]);
  });

  it("replayFailedCallbacks replays every dead letter of the endpoint", async () => {
    const paths = [uniquePath("/reject"), uniquePath("/reject")];
    const futures = [];
    for (const path of paths) futures.push(await finishedTask({ x: 1, y: "hi" }, `${receiverUrl}${path}`));
    for (const future of futures) await eventually(() => future.callbacks(), settled("failed"));
    for (const path of paths) fixed.add(path);
    expect(await client.replayFailedCallbacks(endpoint)).toEqual({ replayed: 2 });
    for (const future of futures) await eventually(() => future.callbacks(), settled("delivered"));
    expect(await client.replayFailedCallbacks("cb-endpoint")).toEqual({ replayed: 0 });
  });
});

describe("the signing secret", () => {
  it("reads and rotates; a receiver with only the new secret, or only the old one, verifies", async () => {
    const before = await endpoint.callbackSecret();
    expect(before.secret).toMatch(/^whsec_/);
    expect(await client.getCallbackSecret(endpoint.id)).toEqual(before);

    const rotated = await endpoint.rotateCallbackSecret();
    expect(rotated.secret).toMatch(/^whsec_/);
    expect(rotated.secret).not.toBe(before.secret);
    expect(Date.parse(rotated.previous_secret_expires_at ?? "")).toBeGreaterThan(Date.now());
    expect(await client.getCallbackSecret("cb-endpoint")).toEqual(rotated);

    for (const secret of [rotated.secret, before.secret]) {
      const got: CallbackPayload[] = [];
      verifying = createCallbackHandler({ secret, onCallback: (payload) => void got.push(payload) });
      const future = await finishedTask({ x: 2, y: "hello" });
      const [delivery] = await eventually(() => future.callbacks(), settled("delivered"));
      expect(delivery?.last_status_code).toBe(204);
      expect(got).toEqual([{ task_id: future.taskId, result: 7 }]);
    }
    const newest = await client.rotateCallbackSecret(endpoint);
    expect(newest.secret).not.toBe(rotated.secret);
    // The tests after this one verify with the current secret.
    verifying = createCallbackHandler({ secret: newest.secret, onCallback: () => undefined });
  });
});

describe("typed errors", () => {
  it("another team gets NotFoundError for the task, the endpoint, its secret and the delivery", async () => {
    const future = await finishedTask({ x: 2, y: "hello" });
    const [delivery] = await eventually(() => future.callbacks(), settled("delivered"));
    const attempts: [string, () => Promise<unknown>][] = [
      ["getTaskCallbacks", () => otherTeam.getTaskCallbacks(future.taskId)],
      ["listEndpointCallbacks", () => otherTeam.listEndpointCallbacks(endpoint.id)],
      ["replayCallback", () => otherTeam.replayCallback(delivery?.id ?? "")],
      ["replayFailedCallbacks", () => otherTeam.replayFailedCallbacks(endpoint.id)],
      ["getCallbackSecret", () => otherTeam.getCallbackSecret(endpoint.id)],
      ["rotateCallbackSecret", () => otherTeam.rotateCallbackSecret(endpoint.id)],
      // By name, the other team does not even find the endpoint.
      ["getCallbackSecret by name", () => otherTeam.getCallbackSecret("cb-endpoint")],
    ];
    for (const [label, attempt] of attempts) {
      const error = await attempt().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isLaunchClientError(error, "NotFoundError"), `${label}: ${String(error)}`).toBe(true);
    }
    // And the secret did not change.
    expect(await client.getCallbackSecret(endpoint)).toEqual(await endpoint.callbackSecret());
  });

  it("a bad status is a ValidationError naming it; a skipped delivery's replay a BadRequestError", async () => {
    const error = await client
      .listEndpointCallbacks(endpoint, { status: "lost" as "failed" })
      .catch((e: unknown) => e);
    expect(isLaunchClientError(error, "ValidationError")).toBe(true);
    if (isLaunchClientError(error, "ValidationError"))
      expect(error.fields[0]?.loc).toEqual(["query", "status"]);

    const noUrl = await client.createModelEndpoint({
      endpointName: "cb-no-url",
      modelBundle: "doc-bundle",
      endpointType: "async",
      postInferenceHooks: [PostInferenceHooks.CALLBACK],
    });
    const future = await noUrl.predict({ request: new EndpointRequest({ args: { x: 1, y: "" } }) });
    await runNext(noUrl.id, 1);
    const [skipped] = await eventually(() => future.callbacks(), settled("skipped"));
    expect(skipped?.last_error).toBe("no callback URL");
    const replay = await client.replayCallback(skipped?.id ?? "").catch((e: unknown) => e);
    expect(isLaunchClientError(replay, "BadRequestError")).toBe(true);
  });
});
