/**
 * The task routes on a real server (real HTTP, real SQLite queue). No workers run here
 * (`orchestration: none`): a test plays the worker by leasing from the server's own queue and completing
 * or failing the task through the queue port. Forwarding to real worker HTTP ports is tested in
 * `services/worker-forward.test.ts`, and end to end with real workers in `execution/`.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SecretsBox } from "../../domain/secrets-box.js";
import type { LeasedTask } from "../../queue/port.js";
import { openCallbackAuth } from "../../services/callback-auth.js";
import type { TaskPayload } from "../../services/task-payload.js";
import { selfSignedCertificate } from "../../testing/certs.js";
import {
  basicAuth,
  type StartTestServerOptions,
  startTestServer,
  type TestServer,
} from "../../testing/server.js";
import { newTeamEndpoint, newTeam as newTestTeam, type TestTeam } from "../../testing/teams.js";

const PASSWORD = "per-task-s3cret-91ab";
const NO_WORKERS = { orchestration: "none" } as const;

let server: TestServer;

type Team = TestTeam;

/** A fresh team with a key and a bundle, on `on` (the shared server unless given). */
const newTeam = (on: TestServer = server): Promise<Team> => newTestTeam(on);

/** Creates an endpoint of the team (READY at once, no workers) and returns its id. */
const newEndpoint = (
  team: Team,
  overrides: Record<string, unknown> = {},
  on: TestServer = server,
): Promise<string> => newTeamEndpoint(on, team, overrides);

async function submit(team: Team, endpointId: string, body: unknown, on: TestServer = server) {
  return on.request("POST", `/v1/async-tasks?model_endpoint_id=${endpointId}`, { key: team.key, body });
}

async function submitted(team: Team, endpointId: string, body: unknown = { args: { x: 2, y: "hello" } }) {
  const res = await submit(team, endpointId, body);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.task_id as string;
}

/** Plays a worker: leases the endpoint's next task from the server's queue. */
async function lease(endpointId: string, on: TestServer = server): Promise<LeasedTask> {
  const [task] = await on.queue.lease({
    queue: endpointId,
    workerId: "test-worker",
    max: 1,
    leaseMs: 60_000,
  });
  if (!task) throw new Error(`no task to lease on ${endpointId}`);
  return task;
}

beforeAll(async () => {
  server = await startTestServer({ overrides: NO_WORKERS });
});

afterAll(async () => {
  await server?.close();
});

describe("POST /v1/async-tasks", () => {
  it("answers 200 {task_id} once the task is queued, PENDING, owned by the caller's team", async () => {
    const team = await newTeam();
    const endpointId = await newEndpoint(team);
    const res = await submit(team, endpointId, { args: { x: 2, y: "hello" }, return_pickled: false });
    expect(res.status).toBe(200);
    expect(Object.keys(res.body)).toEqual(["task_id"]);
    expect(res.body.task_id).toMatch(/^tsk_[0-9a-z]{26}$/);

    const record = await server.queue.get(res.body.task_id);
    expect(record).toMatchObject({
      queue: endpointId,
      owner: team.teamId,
      createdBy: team.userId,
      status: "PENDING",
      attempts: 0,
      maxAttempts: server.config.taskMaxAttempts,
    });
    // No task_expires_seconds on the endpoint: the reference's default of one day.
    expect(record!.expiresAt! - record!.createdAt).toBeGreaterThanOrEqual(86_400_000 - 60_000);
    expect(record!.expiresAt! - record!.createdAt).toBeLessThanOrEqual(86_400_000);
    expect(
      (await server.request("GET", `/v1/model-endpoints/${endpointId}`, { key: team.key })).body,
    ).toMatchObject({ num_queued_items: 1 });

    const leased = await lease(endpointId);
    expect(leased.payload).toEqual({ args: { x: 2, y: "hello" }, returnPickled: false, callback: null });
  });

  it("answers under the /v1/launch prefix too, and takes a url instead of args", async () => {
    const team = await newTeam();
    const endpointId = await newEndpoint(team);
    const res = await server.request("POST", `/v1/launch/v1/async-tasks?model_endpoint_id=${endpointId}`, {
      key: team.key,
      body: { url: "https://example.com/input.json", args: null, callback_url: null, cloudpickle: null },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect((await lease(endpointId)).payload).toEqual({
      url: "https://example.com/input.json",
      returnPickled: false,
      callback: null,
    });
  });

  it("stores a per-task callback with its credentials sealed, and never echoes them", async () => {
    const team = await newTeam();
    const endpointId = await newEndpoint(team, { post_inference_hooks: ["callback"] });
    const { cert, key } = selfSignedCertificate("task-callback");
    const response = await fetch(`${server.url}/v1/async-tasks?model_endpoint_id=${endpointId}`, {
      method: "POST",
      headers: { authorization: basicAuth(team.key), "content-type": "application/json" },
      body: JSON.stringify({
        args: [1, 2],
        callback_url: "https://receiver.example.com/hook",
        callback_auth: { kind: "basic", username: "cb-user", password: PASSWORD },
        callback_events: ["succeeded", "failed", "failed"],
      }),
    });
    const text = await response.text();
    expect(response.status).toBe(200);
    expect(text).not.toContain(PASSWORD);
    const payload = (await lease(endpointId)).payload as TaskPayload;
    expect(payload.callback).toMatchObject({
      url: "https://receiver.example.com/hook",
      auth: { kind: "basic", username: "cb-user" },
      events: ["succeeded", "failed"],
    });
    expect(JSON.stringify(payload)).not.toContain(PASSWORD);
    const box = SecretsBox.fromConfig({ secretsKey: server.config.secretsKey, dataDir: server.dataDir });
    expect(openCallbackAuth(payload.callback!.auth!, box)).toEqual({
      kind: "basic",
      username: "cb-user",
      password: PASSWORD,
    });

    await submitted(team, endpointId, { args: 1, callback_auth: { kind: "mtls", cert, key } });
    const mtls = (await lease(endpointId)).payload as TaskPayload;
    expect(mtls.callback).toMatchObject({ url: null, auth: { kind: "mtls" }, events: null });
    expect(JSON.stringify(mtls)).not.toContain("PRIVATE KEY");
  });

  it("answers 422 naming each missing callback_auth field, and queues nothing", async () => {
    const team = await newTeam();
    const endpointId = await newEndpoint(team);
    const basic = await submit(team, endpointId, {
      args: 1,
      callback_auth: { kind: "basic", username: "u" },
    });
    expect(basic.status).toBe(422);
    expect(basic.body.detail).toEqual([
      {
        loc: ["body", "callback_auth", "password"],
        msg: "callback_auth.password is required for kind 'basic'",
        type: "missing",
      },
    ]);
    const mtls = await submit(team, endpointId, { args: 1, callback_auth: { kind: "mtls" } });
    expect(mtls.status).toBe(422);
    expect(mtls.body.detail.map((d: { loc: string[] }) => d.loc)).toEqual([
      ["body", "callback_auth", "cert"],
      ["body", "callback_auth", "key"],
    ]);
    const kind = await submit(team, endpointId, { args: 1, callback_auth: { kind: "oauth" } });
    expect(kind.status).toBe(422);
    expect(kind.body.detail[0].loc).toEqual(["body", "callback_auth", "kind"]);
    const url = await submit(team, endpointId, { args: 1, callback_url: "ftp://example.com" });
    expect(url.status).toBe(422);
    expect(url.body.detail).toEqual([
      {
        loc: ["body", "callback_url"],
        msg: "callback_url must use http or https (got ftp)",
        type: "value_error",
      },
    ]);
    expect(await server.queue.counts(endpointId)).toEqual({ queued: 0, inFlight: 0 });
  });

  it("answers 422 for a request without input, without the endpoint id, or with a bad url", async () => {
    const team = await newTeam();
    const endpointId = await newEndpoint(team);
    const empty = await submit(team, endpointId, { return_pickled: false });
    expect(empty.status).toBe(422);
    expect(empty.body.detail).toEqual([
      {
        loc: ["body", "args"],
        msg: "The request has no input: give args (any JSON value) or url (a URL of a JSON input)",
        type: "missing",
      },
    ]);
    const pickled = await submit(team, endpointId, { cloudpickle: "gAR9lC4=" });
    expect(pickled.body.detail[0].msg).toContain("cloudpickle inputs are not supported yet");
    const badUrl = await submit(team, endpointId, { url: "not a url" });
    expect(badUrl.status).toBe(422);
    expect(badUrl.body.detail[0].loc).toEqual(["body", "url"]);
    // A file: URL would let a task read the worker host's files.
    const fileUrl = await submit(team, endpointId, { url: "file:///etc/passwd" });
    expect(fileUrl.status).toBe(422);
    expect(fileUrl.body.detail[0].msg).toContain("expected an absolute http or https URL");
    const noEndpoint = await server.request("POST", "/v1/async-tasks", { key: team.key, body: { args: 1 } });
    expect(noEndpoint.status).toBe(422);
    expect(noEndpoint.body.detail[0].loc).toEqual(["query", "model_endpoint_id"]);
    const notObject = await submit(team, endpointId, [1, 2]);
    expect(notObject.status).toBe(422);
    expect(await server.queue.counts(endpointId)).toEqual({ queued: 0, inFlight: 0 });
  });

  it("accepts any JSON value as args, falsy ones included", async () => {
    const team = await newTeam();
    const endpointId = await newEndpoint(team);
    for (const args of [0, false, "", [], {}, "text", [{ nested: { deep: [1, null] } }]]) {
      await submitted(team, endpointId, { args });
      expect((await lease(endpointId)).payload).toMatchObject({ args });
    }
  });

  it("answers 404 for a missing endpoint and for another team's", async () => {
    const mine = await newTeam();
    const theirs = await newTeam();
    const missing = await submit(mine, "end_00000000000000000000000000", { args: 1 });
    expect(missing.status).toBe(404);
    expect(missing.body.detail).toBe("Model endpoint end_00000000000000000000000000 was not found.");
    const foreign = await newEndpoint(theirs);
    const res = await submit(mine, foreign, { args: 1 });
    expect(res.status).toBe(404);
    expect(res.body.detail).toBe(`Model endpoint ${foreign} was not found.`);
  });

  it("answers 400 for an endpoint of another type, naming the route to use", async () => {
    const team = await newTeam();
    const syncEndpoint = await newEndpoint(team, { endpoint_type: "sync" });
    const asyncEndpoint = await newEndpoint(team);
    const streamingEndpoint = await newEndpoint(team, { endpoint_type: "streaming" });

    const asyncOnSync = await submit(team, syncEndpoint, { args: 1 });
    expect(asyncOnSync.status).toBe(400);
    expect(asyncOnSync.body.detail).toBe(
      `Unsupported inference type: model endpoint ${syncEndpoint} is a sync endpoint and does not serve async tasks; send its tasks to POST /v1/sync-tasks.`,
    );
    const syncOnAsync = await server.request("POST", `/v1/sync-tasks?model_endpoint_id=${asyncEndpoint}`, {
      key: team.key,
      body: { args: 1 },
    });
    expect(syncOnAsync.status).toBe(400);
    expect(syncOnAsync.body.detail).toContain("is an async endpoint and does not serve sync tasks");
    expect(syncOnAsync.body.detail).toContain("POST /v1/async-tasks");
    const streamOnSync = await server.request(
      "POST",
      `/v1/streaming-tasks?model_endpoint_id=${syncEndpoint}`,
      { key: team.key, body: { args: 1 } },
    );
    expect(streamOnSync.status).toBe(400);
    expect(streamOnSync.body.detail).toContain(
      "does not serve streaming tasks; send its tasks to POST /v1/sync-tasks",
    );
    const asyncOnStreaming = await submit(team, streamingEndpoint, { args: 1 });
    expect(asyncOnStreaming.status).toBe(400);
    expect(asyncOnStreaming.body.detail).toContain("POST /v1/streaming-tasks");
  });

  it("lets another team submit to a public_inference endpoint, read its own task, but not read the endpoint", async () => {
    const owner = await newTeam();
    const guest = await newTeam();
    const endpointId = await newEndpoint(owner, { public_inference: true });
    const taskId = await submitted(guest, endpointId);
    expect((await server.queue.get(taskId))?.owner).toBe(guest.teamId);
    expect((await server.request("GET", `/v1/async-tasks/${taskId}`, { key: guest.key })).status).toBe(200);
    expect((await server.request("GET", `/v1/async-tasks/${taskId}`, { key: owner.key })).status).toBe(404);
    expect(
      (await server.request("GET", `/v1/model-endpoints/${endpointId}`, { key: guest.key })).status,
    ).toBe(404);
    const edit = await server.request("PUT", `/v1/model-endpoints/${endpointId}`, {
      key: guest.key,
      body: { max_workers: 2 },
    });
    expect(edit.status).toBe(404);
  });

  it("answers 413 naming the limit for a body over it", async () => {
    const small = await startTestServer({ overrides: { ...NO_WORKERS, bodyLimitBytes: 1024 } });
    try {
      const team = await newTeam(small);
      const endpointId = await newEndpoint(team, {}, small);
      const res = await submit(team, endpointId, { args: "x".repeat(2000) }, small);
      expect(res.status).toBe(413);
      expect(res.body.detail).toBe(
        "Request body is larger than the limit of 1024 bytes (LAUNCH_BODY_LIMIT_BYTES).",
      );
      expect(await small.queue.counts(endpointId)).toEqual({ queued: 0, inFlight: 0 });
    } finally {
      await small.close();
    }
  });
});

describe("GET /v1/async-tasks/{task_id}", () => {
  it("shows PENDING and STARTED with null result, traceback and status_code", async () => {
    const team = await newTeam();
    const endpointId = await newEndpoint(team);
    const taskId = await submitted(team, endpointId);
    const pending = await server.request("GET", `/v1/async-tasks/${taskId}`, { key: team.key });
    expect(pending.status).toBe(200);
    expect(pending.body).toEqual({
      task_id: taskId,
      status: "PENDING",
      result: null,
      traceback: null,
      status_code: null,
    });
    await lease(endpointId);
    // Running, it still reads PENDING on the wire (the Python client knows no STARTED).
    const started = await server.request("GET", `/v1/launch/v1/async-tasks/${taskId}`, { key: team.key });
    expect(started.body).toEqual({
      task_id: taskId,
      status: "PENDING",
      result: null,
      traceback: null,
      status_code: null,
    });
  });

  it("shows SUCCESS as {result: {result: <output>}} with the model's status code", async () => {
    const team = await newTeam();
    const endpointId = await newEndpoint(team);
    const taskId = await submitted(team, endpointId);
    const leased = await lease(endpointId);
    expect(await server.queue.complete(taskId, leased.leaseToken, { output: 7, statusCode: 200 })).toBe(true);
    const res = await server.request("GET", `/v1/async-tasks/${taskId}`, { key: team.key });
    expect(res.body).toEqual({
      task_id: taskId,
      status: "SUCCESS",
      result: { result: 7 },
      traceback: null,
      status_code: 200,
    });

    const structured = await submitted(team, endpointId);
    const second = await lease(endpointId);
    await server.queue.complete(structured, second.leaseToken, { output: { y: [1, "é"] }, statusCode: 201 });
    expect((await server.request("GET", `/v1/async-tasks/${structured}`, { key: team.key })).body).toEqual({
      task_id: structured,
      status: "SUCCESS",
      result: { result: { y: [1, "é"] } },
      traceback: null,
      status_code: 201,
    });
  });

  it("shows FAILURE with the message as result, the traceback and the status code", async () => {
    const team = await newTeam();
    const endpointId = await newEndpoint(team);
    const taskId = await submitted(team, endpointId);
    const leased = await lease(endpointId);
    const error = {
      message: "ValueError: boom",
      traceback: "Traceback (most recent call last):\n  ...",
      statusCode: 500,
    };
    expect(await server.queue.fail(taskId, leased.leaseToken, error, { retry: false })).toBe("failed");
    expect((await server.request("GET", `/v1/async-tasks/${taskId}`, { key: team.key })).body).toEqual({
      task_id: taskId,
      status: "FAILURE",
      result: "ValueError: boom",
      traceback: "Traceback (most recent call last):\n  ...",
      status_code: 500,
    });
  });

  it("shows a failed attempt that will be retried as PENDING", async () => {
    const team = await newTeam();
    const endpointId = await newEndpoint(team);
    const taskId = await submitted(team, endpointId);
    const leased = await lease(endpointId);
    const error = { message: "worker lost", traceback: null, statusCode: null };
    expect(await server.queue.fail(taskId, leased.leaseToken, error, { retry: true })).toBe("requeued");
    expect((await server.request("GET", `/v1/async-tasks/${taskId}`, { key: team.key })).body).toEqual({
      task_id: taskId,
      status: "PENDING",
      result: null,
      traceback: null,
      status_code: null,
    });
  });

  it("answers 404 for an unknown task and for another team's", async () => {
    const team = await newTeam();
    const other = await newTeam();
    const endpointId = await newEndpoint(team);
    const taskId = await submitted(team, endpointId);
    const unknown = await server.request("GET", "/v1/async-tasks/tsk_00000000000000000000000000", {
      key: team.key,
    });
    expect(unknown.status).toBe(404);
    expect(unknown.body.detail).toMatch(/^Task not found: tsk_00000000000000000000000000 /);
    const foreign = await server.request("GET", `/v1/async-tasks/${taskId}?wait=30`, { key: other.key });
    expect(foreign.status).toBe(404);
    expect(foreign.body.detail).toBe(unknown.body.detail.replace("tsk_00000000000000000000000000", taskId));
  });

  it("?wait= answers as soon as the task finishes", async () => {
    const team = await newTeam();
    const endpointId = await newEndpoint(team);
    const taskId = await submitted(team, endpointId);
    const leased = await lease(endpointId);
    // Longer than the test's own timeout: only the wake-up can end this request in time.
    const waiting = server.request("GET", `/v1/async-tasks/${taskId}?wait=60`, { key: team.key });
    const timer = setTimeout(() => {
      void server.queue.complete(taskId, leased.leaseToken, { output: 8, statusCode: 200 });
    }, 100);
    try {
      const res = await waiting;
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ status: "SUCCESS", result: { result: 8 } });
    } finally {
      clearTimeout(timer);
    }
  });

  it("?wait= answers with the task as it is when nothing happens, and refuses waits over 60 s", async () => {
    const team = await newTeam();
    const endpointId = await newEndpoint(team);
    const taskId = await submitted(team, endpointId);
    const res = await server.request("GET", `/v1/async-tasks/${taskId}?wait=0.2`, { key: team.key });
    expect(res.body).toEqual({
      task_id: taskId,
      status: "PENDING",
      result: null,
      traceback: null,
      status_code: null,
    });
    const tooLong = await server.request("GET", `/v1/async-tasks/${taskId}?wait=61`, { key: team.key });
    expect(tooLong.status).toBe(422);
    expect(tooLong.body.detail[0].loc).toEqual(["query", "wait"]);
  });

  it("shows a task that expired in the queue (task_expires_seconds) as UNDEFINED with the reason", async () => {
    const team = await newTeam();
    const endpointId = await newEndpoint(team, { task_expires_seconds: 1 });
    const taskId = await submitted(team, endpointId);
    // The sweep records the expiry about a second later and wakes the long poll.
    const res = await server.request("GET", `/v1/async-tasks/${taskId}?wait=20`, { key: team.key });
    expect(res.body).toEqual({
      task_id: taskId,
      status: "UNDEFINED",
      result: "task expired before a worker started it (the endpoint's task_expires_seconds)",
      traceback: null,
      status_code: null,
    });
    expect(await server.queue.counts(endpointId)).toEqual({ queued: 0, inFlight: 0 });
  });
});

describe("results_as_string", () => {
  let strings: TestServer;
  beforeAll(async () => {
    strings = await startTestServer({ overrides: { ...NO_WORKERS, resultsAsString: true } });
  });
  afterAll(async () => {
    await strings?.close();
  });

  it("returns outputs as Python json.dumps text", async () => {
    const team = await newTeam(strings);
    const endpointId = await newEndpoint(team, {}, strings);
    const outputs: [unknown, string][] = [
      [7, "7"],
      [{ y: 1, z: ["é", 0.5, null] }, '{"y": 1, "z": ["\\u00e9", 0.5, null]}'],
      ["hello", '"hello"'],
    ];
    for (const [output, text] of outputs) {
      const taskId = (await submit(team, endpointId, { args: 1 }, strings)).body.task_id;
      const leased = await lease(endpointId, strings);
      await strings.queue.complete(taskId, leased.leaseToken, { output, statusCode: 200 });
      const res = await strings.request("GET", `/v1/async-tasks/${taskId}`, { key: team.key });
      expect(res.body.result).toEqual({ result: text });
    }
  });
});

describe("sync and streaming tasks without workers", () => {
  it("answer 503 with a clear message when no worker can take the task", async () => {
    const team = await newTeam();
    const syncEndpoint = await newEndpoint(team, { endpoint_type: "sync" });
    const streamingEndpoint = await newEndpoint(team, { endpoint_type: "streaming" });
    const sync = await server.request("POST", `/v1/sync-tasks?model_endpoint_id=${syncEndpoint}`, {
      key: team.key,
      body: { args: { x: 2, y: "hello" }, timeout_seconds: 5, num_retries: 0 },
    });
    expect(sync.status).toBe(503);
    expect(sync.body.detail).toBe(
      `Model endpoint ${syncEndpoint} has no workers: this server runs none (LAUNCH_ORCHESTRATION=none).`,
    );
    const stream = await server.request(
      "POST",
      `/v1/streaming-tasks?model_endpoint_id=${streamingEndpoint}`,
      {
        key: team.key,
        body: { args: 1 },
      },
    );
    expect(stream.status).toBe(503);
    expect(stream.body.detail).toContain("has no workers");
    // A sync task on a streaming endpoint is allowed (as in the reference); it too finds no worker.
    const syncOnStreaming = await server.request(
      "POST",
      `/v1/sync-tasks?model_endpoint_id=${streamingEndpoint}`,
      {
        key: team.key,
        body: { args: 1 },
      },
    );
    expect(syncOnStreaming.status).toBe(503);
  });

  it("check the request like async tasks: 404, 422 for bad timeout_seconds and num_retries", async () => {
    const team = await newTeam();
    const syncEndpoint = await newEndpoint(team, { endpoint_type: "sync" });
    const missing = await server.request("POST", "/v1/sync-tasks?model_endpoint_id=end_nope", {
      key: team.key,
      body: { args: 1 },
    });
    expect(missing.status).toBe(404);
    const bad = await server.request("POST", `/v1/sync-tasks?model_endpoint_id=${syncEndpoint}`, {
      key: team.key,
      body: { args: 1, timeout_seconds: 0, num_retries: -1 },
    });
    expect(bad.status).toBe(422);
    expect(bad.body.detail.map((d: { loc: string[] }) => d.loc)).toEqual([
      ["body", "timeout_seconds"],
      ["body", "num_retries"],
    ]);
    const auth = await server.request("POST", `/v1/sync-tasks?model_endpoint_id=${syncEndpoint}`, {
      key: team.key,
      body: { args: 1, callback_auth: { kind: "basic", password: "p" } },
    });
    expect(auth.status).toBe(422);
    expect(auth.body.detail[0].loc).toEqual(["body", "callback_auth", "username"]);
  });
});

describe("GET /v1/model-endpoints/{id}/logs", () => {
  it("answers the endpoint's recent worker output to its team only", async () => {
    const team = await newTeam();
    const other = await newTeam();
    const endpointId = await newEndpoint(team);
    const res = await server.request("GET", `/v1/model-endpoints/${endpointId}/logs?tail=50`, {
      key: team.key,
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ logs: [] });
    expect(
      (await server.request("GET", `/v1/model-endpoints/${endpointId}/logs`, { key: other.key })).status,
    ).toBe(404);
    const tooMany = await server.request("GET", `/v1/model-endpoints/${endpointId}/logs?tail=2001`, {
      key: team.key,
    });
    expect(tooMany.status).toBe(422);
    expect(tooMany.body.detail[0].loc).toEqual(["query", "tail"]);
  });
});

describe("shutdown", () => {
  it("answers a long poll in progress instead of waiting for it", async () => {
    const options: StartTestServerOptions = { overrides: NO_WORKERS };
    const own = await startTestServer(options);
    const team = await newTeam(own);
    const endpointId = await newEndpoint(team, {}, own);
    const taskId = (await submit(team, endpointId, { args: 1 }, own)).body.task_id;
    let resolveStarted: () => void = () => {};
    const started = new Promise<void>((resolve) => {
      resolveStarted = resolve;
    });
    const waiting = fetch(`${own.url}/v1/async-tasks/${taskId}?wait=60`, {
      headers: { authorization: basicAuth(team.key) },
    }).then(async (response) => ({ status: response.status, body: await response.json() }));
    // The request is in flight once the server has seen it; a short pause lets it reach the wait.
    setTimeout(resolveStarted, 200);
    await started;
    await own.close();
    const res = await waiting;
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ task_id: taskId, status: "PENDING" });
  });
});

describe("the OpenAPI document", () => {
  it("lists the task routes and the logs route with summaries and tags", async () => {
    const res = await server.request("GET", "/openapi.json");
    expect(res.status).toBe(200);
    const paths = res.body.paths as Record<string, Record<string, { summary?: string; tags?: string[] }>>;
    for (const [path, method] of [
      ["/v1/async-tasks", "post"],
      ["/v1/async-tasks/{task_id}", "get"],
      ["/v1/sync-tasks", "post"],
      ["/v1/streaming-tasks", "post"],
      ["/v1/model-endpoints/{model_endpoint_id}/logs", "get"],
    ] as const) {
      const operation = paths[path]?.[method];
      expect(operation, `${method} ${path}`).toBeDefined();
      expect(operation?.summary, `${method} ${path}`).toBeTruthy();
      expect(operation?.tags?.length, `${method} ${path}`).toBeGreaterThan(0);
    }
  });
});
