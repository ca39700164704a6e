/**
 * Wire compatibility with the Python client `scale-launch`: async task submit and read, without workers.
 * The client's `_async_request` and `_get_async_endpoint_response` are sent exactly (`python-client.ts`);
 * the test plays the worker through the server's own queue (lease, complete, fail), and each answer is
 * read with `EndpointResponseFuture.get`'s rules (`python-models.ts`). Tasks on real workers, sync and
 * streaming are in `python-client-workers.test.ts`.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LeasedTask } from "../queue/port.js";
import { selfSignedCertificate } from "../testing/certs.js";
import { startTestServer, type TestServer } from "../testing/server.js";
import { PythonClientWire } from "./python-client.js";
import { asyncTaskProblems, futureGetStep } from "./python-models.js";

const PASSWORD = "per-task-pa55-c0de";

let server: TestServer;
let teams = 0;

/** A Python client of a fresh team with an async endpoint "demo-endpoint" (READY at once: no workers). */
async function newClient(on: TestServer = server, endpoint: Record<string, unknown> = {}) {
  teams += 1;
  const key = await on.createKey(`py-user-${teams}`, `py-team-${teams}`);
  const client = new PythonClientWire(on.url, key);
  await client.createModelBundleFromCallableV2({ model_bundle_name: "test-bundle" });
  const { created } = await client.createModelEndpoint({
    endpoint_name: "demo-endpoint",
    model_bundle: "test-bundle",
    endpoint_type: "async",
    min_workers: 0,
    ...endpoint,
  });
  client.calls.length = 0;
  return { key, client, endpointId: created?.endpoint_creation_task_id as string };
}

/** Plays a worker: leases the endpoint's next task from the server's queue. */
async function lease(endpointId: string, on: TestServer = server): Promise<LeasedTask> {
  const [task] = await on.queue.lease({
    queue: endpointId,
    workerId: "compat-worker",
    max: 1,
    leaseMs: 60_000,
  });
  if (!task) throw new Error(`no task to lease on ${endpointId}`);
  return task;
}

beforeAll(async () => {
  server = await startTestServer({ overrides: { orchestration: "none" } });
});

afterAll(async () => {
  await server?.close();
});

describe("_async_request", () => {
  it("looks the endpoint up by name, then POSTs {return_pickled: false, args}; answers {task_id}", async () => {
    const { client, endpointId } = await newClient();
    const created = await client.asyncRequest("demo-endpoint", { args: { x: 2, y: "hello" } });
    expect(client.calls.map((c) => `${c.method} ${c.path}`)).toEqual([
      "GET /v1/model-endpoints?name=demo-endpoint",
      `POST /v1/async-tasks?model_endpoint_id=${endpointId}`,
    ]);
    expect(client.calls.at(-1)?.body).toEqual({ return_pickled: false, args: { x: 2, y: "hello" } });
    expect(Object.keys(created)).toEqual(["task_id"]);
    expect(typeof created.task_id).toBe("string");
    expect((await lease(endpointId)).payload).toMatchObject({ args: { x: 2, y: "hello" } });
  });

  it("takes a url instead of args, and the reference tests' {args, url: null}", async () => {
    const { client, endpointId } = await newClient();
    await client.asyncRequest("demo-endpoint", { url: "https://example.com/input.json" });
    expect(client.calls.at(-1)?.body).toEqual({
      return_pickled: false,
      url: "https://example.com/input.json",
    });
    expect((await lease(endpointId)).payload).toMatchObject({ url: "https://example.com/input.json" });
    const reference = await client.api("POST", `/v1/async-tasks?model_endpoint_id=${endpointId}`, {
      args: { y: 1 },
      url: null,
      return_pickled: false,
    });
    expect(Object.keys(reference.json)).toEqual(["task_id"]);
  });

  it("takes per-task callback overrides (EndpointRequest callback_*) and never echoes the password", async () => {
    const { client, endpointId } = await newClient(server, {
      post_inference_hooks: ["callback"],
      default_callback_url: "https://example.com",
    });
    const { cert, key } = selfSignedCertificate("per-task");
    const mtls = await client.asyncRequest("demo-endpoint", {
      args: { x: 3, y: "hello" },
      callback_auth_kind: "mtls",
      callback_auth_cert: cert,
      callback_auth_key: key,
    });
    expect(client.calls.at(-1)?.body).toEqual({
      return_pickled: false,
      args: { x: 3, y: "hello" },
      callback_auth: { kind: "mtls", cert, key },
    });
    const basic = await client.apiRaw("POST", `/v1/async-tasks?model_endpoint_id=${endpointId}`, {
      return_pickled: false,
      args: { x: 3, y: "hello" },
      callback_url: "https://example.com/custom",
      callback_auth: { kind: "basic", username: "user", password: PASSWORD },
    });
    expect(basic.status).toBe(200);
    expect(basic.text).not.toContain(PASSWORD);
    for (const taskId of [mtls.task_id, basic.json.task_id]) {
      const read = await client.getAsyncEndpointResponse(taskId);
      expect(read.text).not.toContain(PASSWORD);
      expect(read.text).not.toContain("PRIVATE KEY");
    }
  });
});

describe("_get_async_endpoint_response, read by EndpointResponseFuture.get", () => {
  it("PENDING: every key present and null; the client polls again", async () => {
    const { client } = await newClient();
    const { task_id } = await client.asyncRequest("demo-endpoint", { args: { x: 2, y: "hello" } });
    const answer = (await client.getAsyncEndpointResponse(task_id)).json;
    expect(asyncTaskProblems(answer)).toEqual([]);
    expect(answer).toEqual({ task_id, status: "PENDING", result: null, traceback: null, status_code: null });
    expect(futureGetStep(answer)).toBe("poll");
  });

  // Known incompatibility, in `services/task-view.ts` (the lead's file): a task a worker has leased shows
  // STARTED, and the client's `EndpointResponseFuture.get` raises `ValueError("Unrecognized status:
  // STARTED")` on anything but PENDING, SUCCESS and FAILURE. The reference never reports STARTED (its
  // Celery apps run with `task_track_started=False`), so a running task reads PENDING there. Remove
  // `.fails` once the v1 view shows a running task as PENDING.
  it("a task a worker is running reads as PENDING, so the client keeps polling", async () => {
    const { client, endpointId } = await newClient();
    const { task_id } = await client.asyncRequest("demo-endpoint", { args: { x: 2, y: "hello" } });
    await lease(endpointId);
    const answer = (await client.getAsyncEndpointResponse(task_id)).json;
    expect(asyncTaskProblems(answer)).toEqual([]);
    expect(futureGetStep(answer)).toBe("poll");
  });

  it("SUCCESS: result is {result: <output>}, an object whatever the output, with traceback null", async () => {
    const { client, endpointId } = await newClient();
    const outputs: unknown[] = [7, { y: [1, "é"] }, "text", null, [1, 2], false];
    for (const output of outputs) {
      const { task_id } = await client.asyncRequest("demo-endpoint", { args: { x: 2, y: "hello" } });
      const leased = await lease(endpointId);
      expect(await server.queue.complete(task_id, leased.leaseToken, { output, statusCode: 200 })).toBe(true);
      const answer = (await client.getAsyncEndpointResponse(task_id)).json;
      expect(asyncTaskProblems(answer)).toEqual([]);
      expect(answer).toEqual({
        task_id,
        status: "SUCCESS",
        result: { result: output },
        traceback: null,
        status_code: 200,
      });
      expect(futureGetStep(answer)).toEqual({
        status: "SUCCESS",
        result: output,
        result_url: null,
        traceback: null,
      });
    }
  });

  it("FAILURE: the client takes the traceback (and never reads result)", async () => {
    const { client, endpointId } = await newClient();
    const { task_id } = await client.asyncRequest("demo-endpoint", { args: { x: 2, y: "hello" } });
    const leased = await lease(endpointId);
    const error = {
      message: "ValueError: boom",
      traceback: "Traceback (most recent call last):\n  ...",
      statusCode: 500,
    };
    expect(await server.queue.fail(task_id, leased.leaseToken, error, { retry: false })).toBe("failed");
    const answer = (await client.getAsyncEndpointResponse(task_id)).json;
    expect(asyncTaskProblems(answer)).toEqual([]);
    expect(answer).toMatchObject({ status: "FAILURE", traceback: error.traceback, status_code: 500 });
    expect(futureGetStep(answer)).toEqual({
      status: "FAILURE",
      result: null,
      result_url: null,
      traceback: error.traceback,
    });
  });

  it("a failed attempt that will be retried reads PENDING, never UNDEFINED", async () => {
    const { client, endpointId } = await newClient();
    const { task_id } = await client.asyncRequest("demo-endpoint", { args: { x: 2, y: "hello" } });
    const leased = await lease(endpointId);
    const error = { message: "worker lost", traceback: null, statusCode: null };
    expect(await server.queue.fail(task_id, leased.leaseToken, error, { retry: true })).toBe("requeued");
    const answer = (await client.getAsyncEndpointResponse(task_id)).json;
    expect(answer.status).toBe("PENDING");
    expect(futureGetStep(answer)).toBe("poll");
  });

  it("an unknown task id answers 404 (the client raises ApiException), as does another team's", async () => {
    const { client } = await newClient();
    const other = await newClient();
    const unknown = await client.apiRaw("GET", "/v1/async-tasks/tsk_00000000000000000000000000");
    expect(unknown.status).toBe(404);
    expect(typeof unknown.json.detail).toBe("string");
    const { task_id } = await other.client.asyncRequest("demo-endpoint", { args: 1 });
    await expect(client.getAsyncEndpointResponse(task_id)).rejects.toMatchObject({ status: 404 });
  });
});

describe("results_as_string (LAUNCH_RESULTS_AS_STRING=true)", () => {
  let strings: TestServer;
  beforeAll(async () => {
    strings = await startTestServer({ overrides: { orchestration: "none", resultsAsString: true } });
  });
  afterAll(async () => {
    await strings?.close();
  });

  it("SUCCESS results are the reference's bytes: Python json.dumps text inside {result: ...}", async () => {
    const { client, endpointId } = await newClient(strings);
    const cases: [unknown, string][] = [
      [7, '"result":{"result":"7"}'],
      [{ y: 1 }, '"result":{"result":"{\\"y\\": 1}"}'],
      [
        { a: [1, 2.5, null, true], b: "é" },
        '"result":{"result":"{\\"a\\": [1, 2.5, null, true], \\"b\\": \\"\\\\u00e9\\"}"}',
      ],
      ["hello", '"result":{"result":"\\"hello\\""}'],
    ];
    for (const [output, bytes] of cases) {
      const { task_id } = await client.asyncRequest("demo-endpoint", { args: { x: 2, y: "hello" } });
      const leased = await lease(endpointId, strings);
      await strings.queue.complete(task_id, leased.leaseToken, { output, statusCode: 200 });
      const answer = await client.getAsyncEndpointResponse(task_id);
      expect(answer.text).toContain(bytes);
      const step = futureGetStep(answer.json);
      expect(step).toMatchObject({ status: "SUCCESS" });
      // What a reference user does with it: json.loads(response.result).
      expect(JSON.parse((step as { result: string }).result)).toEqual(output);
    }
  });
});
