/**
 * The delivery log routes and the callback snapshot rules on a real server (real HTTP, real SQLite queue
 * and outbox, the real dispatcher) sending to a real HTTP receiver started by the test. No workers run
 * (`orchestration: none`): the test plays the worker by leasing from the server's queue and completing
 * or failing the task through the queue port, as `tasks.test.ts` does.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestReceiver } from "../../callbacks/testing-receiver.js";
import { selfSignedCertificate } from "../../testing/certs.js";
import { basicAuth, startTestServer, type TestServer } from "../../testing/server.js";
import { newTeamEndpoint, newTeam as newTestTeam, type TestTeam } from "../../testing/teams.js";

const PASSWORD = "cb-s3cret-password-5c1e";
const TASK_PASSWORD = "per-task-pass-77d0";
const { cert: CERT, key: KEY } = selfSignedCertificate("callback-client");
const DEADLINE_MS = 20_000;

let server: TestServer;
let receiver: TestReceiver;
/** Paths under `/reject` answer 400 until they are put in here. */
const fixed = new Set<string>();
/** The raw text of every delivery-log response, searched for credentials at the end. */
const responseTexts: string[] = [];

type Team = TestTeam;

const newTeam = (): Promise<Team> => newTestTeam(server);

const newEndpoint = (team: Team, overrides: Record<string, unknown> = {}): Promise<string> =>
  newTeamEndpoint(server, team, overrides);

async function submit(team: Team, endpointId: string, body: Record<string, unknown> = {}): Promise<string> {
  const res = await server.request("POST", `/v1/async-tasks?model_endpoint_id=${endpointId}`, {
    key: team.key,
    body: { args: { x: 2, y: "hello" }, ...body },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.task_id;
}

/** Plays a worker: leases the endpoint's next task and completes it with `output`. */
async function runNext(endpointId: string, output: unknown = 7): Promise<string> {
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

/** Plays a worker whose model fails for good. */
async function failNext(endpointId: string, message: string): Promise<string> {
  const [task] = await server.queue.lease({
    queue: endpointId,
    workerId: "test-worker",
    max: 1,
    leaseMs: 60_000,
  });
  if (!task) throw new Error(`no task to lease on ${endpointId}`);
  const error = { message, traceback: `Traceback:\n  ${message}`, statusCode: 500 };
  expect(await server.queue.fail(task.id, task.leaseToken, error, { retry: false })).toBe("failed");
  return task.id;
}

/** Calls a route, keeps its raw text for the credential search, and parses it. */
async function call(method: string, path: string, key: string | undefined) {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: key === undefined ? {} : { authorization: basicAuth(key) },
  });
  const text = await response.text();
  responseTexts.push(text);
  return { status: response.status, body: text === "" ? undefined : JSON.parse(text) };
}

// biome-ignore lint/suspicious/noExplicitAny: delivery views are asserted field by field.
type View = any;

async function taskCallbacks(team: Team, taskId: string): Promise<View[]> {
  const res = await call("GET", `/v1/async-tasks/${taskId}/callbacks`, team.key);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.callbacks;
}

async function endpointCallbacks(team: Team, endpointId: string, query = ""): Promise<View[]> {
  const res = await call("GET", `/v1/model-endpoints/${endpointId}/callbacks${query}`, team.key);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.callbacks;
}

/** Polls a task's deliveries until `until` holds (the dispatcher works in the background). */
async function waitForCallbacks(
  team: Team,
  taskId: string,
  until: (callbacks: View[]) => boolean,
): Promise<View[]> {
  const deadline = Date.now() + DEADLINE_MS;
  for (;;) {
    const callbacks = await taskCallbacks(team, taskId);
    if (until(callbacks)) return callbacks;
    if (Date.now() > deadline)
      throw new Error(`callbacks of ${taskId} never matched: ${JSON.stringify(callbacks)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const settled = (status: string) => (callbacks: View[]) =>
  callbacks.length === 1 && callbacks[0].status === status;

const receivedAt = (path: string) => receiver.received.filter((r) => r.path === path);

const basic = (username: string, password: string) =>
  `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;

const uniquePath = (prefix = "/hook") => `${prefix}/${Math.random().toString(36).slice(2, 10)}`;

beforeAll(async () => {
  receiver = await TestReceiver.http((request, res) => {
    const rejecting = request.path.startsWith("/reject") && !fixed.has(request.path);
    res.writeHead(rejecting ? 400 : 200, { "content-type": "text/plain" }).end(rejecting ? "no" : "ok");
  });
  server = await startTestServer({ overrides: { orchestration: "none" } });
});

afterAll(async () => {
  await server?.close();
  await receiver?.close();
});

describe("GET /v1/async-tasks/{task_id}/callbacks", () => {
  it("shows the delivered callback with its attempt, its body and only the kind of its credentials", async () => {
    const team = await newTeam();
    const path = uniquePath();
    const endpointId = await newEndpoint(team, {
      post_inference_hooks: ["callback"],
      default_callback_url: receiver.url(path),
      default_callback_auth: { kind: "basic", username: "user", password: PASSWORD },
    });
    const submittedAt = Date.now();
    const taskId = await submit(team, endpointId);
    await runNext(endpointId, 7);
    const [delivery] = await waitForCallbacks(team, taskId, settled("delivered"));

    expect(delivery).toEqual({
      id: expect.stringMatching(/^dlv_[0-9a-z]{26}$/),
      task_id: taskId,
      endpoint_id: endpointId,
      event: "succeeded",
      url: receiver.url(path),
      auth_kind: "basic",
      status: "delivered",
      attempts: [
        {
          n: 1,
          started_at: expect.any(String),
          url: receiver.url(path),
          status_code: 200,
          error_class: null,
          error_message: null,
          latency_ms: expect.any(Number),
          outcome: "delivered",
          next_attempt_at: null,
        },
      ],
      next_attempt_at: null,
      last_error: null,
      last_status_code: 200,
      created_at: expect.any(String),
      delivered_at: expect.any(String),
      body: { task_id: taskId, result: 7 },
    });
    expect(Date.parse(delivery.created_at)).toBeGreaterThanOrEqual(submittedAt - 1000);
    expect(Date.parse(delivery.delivered_at)).toBeGreaterThanOrEqual(Date.parse(delivery.created_at));
    expect(new Date(delivery.attempts[0].started_at).toISOString()).toBe(delivery.attempts[0].started_at);

    // What the receiver got: the seed's body, the endpoint's basic credentials, the delivery's id.
    const [got] = receivedAt(path);
    expect(got?.body).toBe(`{"task_id":"${taskId}","result":7}`);
    expect(got?.headers.authorization).toBe(basic("user", PASSWORD));
    expect(got?.headers["webhook-id"]).toBe(delivery.id);
  });

  it("records a failure callback when the events ask for it, with the error and traceback", async () => {
    const team = await newTeam();
    const path = uniquePath();
    const endpointId = await newEndpoint(team, {
      post_inference_hooks: ["callback"],
      default_callback_url: receiver.url(path),
      callback_events: ["succeeded", "failed"],
    });
    const taskId = await submit(team, endpointId);
    await failNext(endpointId, "ValueError: boom");
    const [delivery] = await waitForCallbacks(team, taskId, settled("delivered"));
    expect(delivery).toMatchObject({ event: "failed", auth_kind: null });
    expect(delivery.body).toEqual({
      task_id: taskId,
      status: "FAILURE",
      result: null,
      error: "ValueError: boom",
      traceback: "Traceback:\n  ValueError: boom",
    });
    expect(JSON.parse(receivedAt(path)[0]!.body)).toEqual(delivery.body);
  });

  it("answers 404 for another team's task and an unknown one, 401 without a key", async () => {
    const owner = await newTeam();
    const other = await newTeam();
    const endpointId = await newEndpoint(owner, {
      post_inference_hooks: ["callback"],
      default_callback_url: receiver.url(uniquePath()),
    });
    const taskId = await submit(owner, endpointId);
    await runNext(endpointId);
    await waitForCallbacks(owner, taskId, settled("delivered"));
    expect((await call("GET", `/v1/async-tasks/${taskId}/callbacks`, other.key)).status).toBe(404);
    expect((await call("GET", "/v1/async-tasks/tsk_unknown/callbacks", owner.key)).status).toBe(404);
    expect((await call("GET", `/v1/async-tasks/${taskId}/callbacks`, undefined)).status).toBe(401);
  });
});

describe("the callback a task records, fixed at submit", () => {
  it("none without the callback hook, even with a default and a per-task URL", async () => {
    const team = await newTeam();
    const path = uniquePath();
    const endpointId = await newEndpoint(team, { default_callback_url: receiver.url(path) });
    const taskId = await submit(team, endpointId, { callback_url: receiver.url(`${path}/task`) });
    await runNext(endpointId);
    expect((await server.queue.get(taskId))?.status).toBe("SUCCESS");
    expect(await taskCallbacks(team, taskId)).toEqual([]);
    expect(await endpointCallbacks(team, endpointId)).toEqual([]);
    expect(receiver.received.filter((r) => r.path.startsWith(path))).toEqual([]);
  });

  it("a skipped delivery saying 'no callback URL' with the hook but no URL", async () => {
    const team = await newTeam();
    const endpointId = await newEndpoint(team, { post_inference_hooks: ["callback"] });
    const taskId = await submit(team, endpointId);
    await runNext(endpointId);
    const [delivery] = await waitForCallbacks(team, taskId, settled("skipped"));
    expect(delivery).toMatchObject({
      task_id: taskId,
      url: null,
      status: "skipped",
      attempts: [],
      next_attempt_at: null,
      last_error: "no callback URL",
      delivered_at: null,
    });
  });

  it("the per-task URL over the default", async () => {
    const team = await newTeam();
    const defaultPath = uniquePath();
    const taskPath = uniquePath();
    const endpointId = await newEndpoint(team, {
      post_inference_hooks: ["callback"],
      default_callback_url: receiver.url(defaultPath),
    });
    const taskId = await submit(team, endpointId, {
      args: { x: 3, y: "hello" },
      callback_url: receiver.url(taskPath),
    });
    await runNext(endpointId, 8);
    const [delivery] = await waitForCallbacks(team, taskId, settled("delivered"));
    expect(delivery.url).toBe(receiver.url(taskPath));
    expect(receivedAt(taskPath).map((r) => r.body)).toEqual([`{"task_id":"${taskId}","result":8}`]);
    expect(receivedAt(defaultPath)).toEqual([]);
  });

  it("the per-task credentials over the default, across kinds", async () => {
    const team = await newTeam();
    const basicDefaultPath = uniquePath();
    const basicDefault = await newEndpoint(team, {
      post_inference_hooks: ["callback"],
      default_callback_url: receiver.url(basicDefaultPath),
      default_callback_auth: { kind: "basic", username: "user", password: PASSWORD },
    });
    const mtlsTask = await submit(team, basicDefault, {
      callback_auth: { kind: "mtls", cert: CERT, key: KEY },
    });
    await runNext(basicDefault);
    const [overMtls] = await waitForCallbacks(team, mtlsTask, settled("delivered"));
    expect(overMtls.auth_kind).toBe("mtls");
    // Plain HTTP carries no client certificate, and the basic default was not used instead.
    expect(receivedAt(basicDefaultPath)[0]?.headers.authorization).toBeUndefined();

    const mtlsDefaultPath = uniquePath();
    const mtlsDefault = await newEndpoint(team, {
      post_inference_hooks: ["callback"],
      default_callback_url: receiver.url(mtlsDefaultPath),
      default_callback_auth: { kind: "mtls", cert: CERT, key: KEY },
    });
    const basicTask = await submit(team, mtlsDefault, {
      callback_auth: { kind: "basic", username: "user", password: TASK_PASSWORD },
    });
    await runNext(mtlsDefault);
    const [overBasic] = await waitForCallbacks(team, basicTask, settled("delivered"));
    expect(overBasic.auth_kind).toBe("basic");
    expect(receivedAt(mtlsDefaultPath)[0]?.headers.authorization).toBe(basic("user", TASK_PASSWORD));
  });

  it("an edit of the defaults applies to tasks submitted after it, not before", async () => {
    const team = await newTeam();
    const before = uniquePath();
    const after = uniquePath();
    const endpointId = await newEndpoint(team, {
      post_inference_hooks: ["callback"],
      default_callback_url: receiver.url(before),
      default_callback_auth: { kind: "basic", username: "user", password: PASSWORD },
    });
    const first = await submit(team, endpointId);
    const edit = await server.request("PUT", `/v1/model-endpoints/${endpointId}`, {
      key: team.key,
      body: {
        default_callback_url: receiver.url(after),
        default_callback_auth: { kind: "basic", username: "user", password: "pass" },
        callback_events: ["failed"],
      },
    });
    expect(edit.status, JSON.stringify(edit.body)).toBe(200);
    const second = await submit(team, endpointId);
    const third = await submit(team, endpointId);
    expect(await runNext(endpointId)).toBe(first);
    expect(await runNext(endpointId)).toBe(second);
    expect(await failNext(endpointId, "boom")).toBe(third);

    const [old] = await waitForCallbacks(team, first, settled("delivered"));
    expect(old.url).toBe(receiver.url(before));
    expect(receivedAt(before)[0]?.headers.authorization).toBe(basic("user", PASSWORD));
    // After the edit: only failures call back, to the new URL with the new credentials.
    expect(await taskCallbacks(team, second)).toEqual([]);
    const [edited] = await waitForCallbacks(team, third, settled("delivered"));
    expect(edited).toMatchObject({ url: receiver.url(after), event: "failed" });
    expect(receivedAt(after)[0]?.headers.authorization).toBe(basic("user", "pass"));
  });
});

describe("GET /v1/model-endpoints/{id}/callbacks", () => {
  it("lists newest first, filters by status, and pages with limit and before", async () => {
    const team = await newTeam();
    const good = uniquePath();
    const endpointId = await newEndpoint(team, {
      post_inference_hooks: ["callback"],
      default_callback_url: receiver.url(good),
    });
    const tasks: string[] = [];
    for (let i = 0; i < 3; i++) tasks.push(await submit(team, endpointId));
    const rejected = await submit(team, endpointId, { callback_url: receiver.url(uniquePath("/reject")) });
    for (let i = 0; i < 4; i++) await runNext(endpointId);
    for (const taskId of tasks) await waitForCallbacks(team, taskId, settled("delivered"));
    const [dead] = await waitForCallbacks(team, rejected, settled("failed"));
    expect(dead).toMatchObject({ last_status_code: 400, next_attempt_at: null });
    expect(dead.attempts).toHaveLength(1);
    expect(dead.attempts[0]).toMatchObject({ n: 1, status_code: 400, outcome: "failed" });

    const all = await endpointCallbacks(team, endpointId);
    expect(all.map((d) => d.task_id)).toEqual([rejected, ...[...tasks].reverse()]);
    expect(all[0].attempts).toHaveLength(1);
    expect((await endpointCallbacks(team, endpointId, "?status=failed")).map((d) => d.id)).toEqual([dead.id]);
    expect(await endpointCallbacks(team, endpointId, "?status=pending")).toEqual([]);
    expect(await endpointCallbacks(team, endpointId, "?status=delivered")).toHaveLength(3);

    const page1 = await endpointCallbacks(team, endpointId, "?limit=2");
    expect(page1.map((d) => d.id)).toEqual(all.slice(0, 2).map((d) => d.id));
    const page2 = await endpointCallbacks(team, endpointId, `?limit=2&before=${page1[1].id}`);
    expect(page2.map((d) => d.id)).toEqual(all.slice(2, 4).map((d) => d.id));
  });

  it("answers 422 naming a bad status or limit, 404 for another team's endpoint", async () => {
    const owner = await newTeam();
    const other = await newTeam();
    const endpointId = await newEndpoint(owner, { post_inference_hooks: ["callback"] });
    const status = await call("GET", `/v1/model-endpoints/${endpointId}/callbacks?status=lost`, owner.key);
    expect(status.status).toBe(422);
    expect(status.body.detail[0].loc).toEqual(["query", "status"]);
    const limit = await call("GET", `/v1/model-endpoints/${endpointId}/callbacks?limit=0`, owner.key);
    expect(limit.status).toBe(422);
    expect(limit.body.detail[0].loc).toEqual(["query", "limit"]);
    expect((await call("GET", `/v1/model-endpoints/${endpointId}/callbacks`, other.key)).status).toBe(404);
    expect((await call("GET", "/v1/model-endpoints/end_unknown/callbacks", owner.key)).status).toBe(404);
  });
});

describe("replays", () => {
  it("POST /v1/callbacks/{id}/replay sends a dead letter again, same id and body, once the receiver is fixed", async () => {
    const owner = await newTeam();
    const other = await newTeam();
    const path = uniquePath("/reject");
    const endpointId = await newEndpoint(owner, {
      post_inference_hooks: ["callback"],
      default_callback_url: receiver.url(path),
    });
    const taskId = await submit(owner, endpointId);
    await runNext(endpointId);
    const [dead] = await waitForCallbacks(owner, taskId, settled("failed"));

    expect((await call("POST", `/v1/callbacks/${dead.id}/replay`, other.key)).status).toBe(404);
    expect((await call("POST", "/v1/callbacks/dlv_unknown/replay", owner.key)).status).toBe(404);
    expect(receivedAt(path)).toHaveLength(1);

    // GET /v1/callbacks/{id}: the dead letter with its attempt, for its team only.
    const one = await call("GET", `/v1/callbacks/${dead.id}`, owner.key);
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ id: dead.id, task_id: taskId, status: "failed" });
    expect(one.body.attempts.map((a: View) => a.status_code)).toEqual([400]);
    expect((await call("GET", `/v1/callbacks/${dead.id}`, other.key)).status).toBe(404);

    fixed.add(path);
    const replayed = await call("POST", `/v1/callbacks/${dead.id}/replay`, owner.key);
    expect(replayed.status).toBe(200);
    expect(replayed.body).toMatchObject({ id: dead.id, task_id: taskId });
    expect(["pending", "delivered"]).toContain(replayed.body.status);
    const [delivered] = await waitForCallbacks(owner, taskId, settled("delivered"));
    expect(delivered.attempts.map((a: View) => [a.n, a.status_code, a.outcome])).toEqual([
      [1, 400, "failed"],
      [2, 200, "delivered"],
    ]);
    const got = receivedAt(path);
    expect(got).toHaveLength(2);
    expect(got[1]?.body).toBe(got[0]?.body);
    expect(got.map((r) => r.headers["webhook-id"])).toEqual([dead.id, dead.id]);
  });

  it("POST /v1/model-endpoints/{id}/callbacks/replay-failed replays every dead letter of the endpoint", async () => {
    const owner = await newTeam();
    const other = await newTeam();
    const endpointId = await newEndpoint(owner, { post_inference_hooks: ["callback"] });
    const paths = [uniquePath("/reject"), uniquePath("/reject")];
    const taskIds: string[] = [];
    for (const path of paths)
      taskIds.push(await submit(owner, endpointId, { callback_url: receiver.url(path) }));
    for (const _ of paths) await runNext(endpointId);
    for (const taskId of taskIds) await waitForCallbacks(owner, taskId, settled("failed"));

    expect(
      (await call("POST", `/v1/model-endpoints/${endpointId}/callbacks/replay-failed`, other.key)).status,
    ).toBe(404);
    for (const path of paths) fixed.add(path);
    const res = await call("POST", `/v1/model-endpoints/${endpointId}/callbacks/replay-failed`, owner.key);
    expect(res).toEqual({ status: 200, body: { replayed: 2 } });
    for (const taskId of taskIds) await waitForCallbacks(owner, taskId, settled("delivered"));
    expect(await endpointCallbacks(owner, endpointId, "?status=failed")).toEqual([]);
    const again = await call("POST", `/v1/model-endpoints/${endpointId}/callbacks/replay-failed`, owner.key);
    expect(again.body).toEqual({ replayed: 0 });
  });

  it("answers 400 for a skipped delivery (it has no URL)", async () => {
    const team = await newTeam();
    const endpointId = await newEndpoint(team, { post_inference_hooks: ["callback"] });
    const taskId = await submit(team, endpointId);
    await runNext(endpointId);
    const [skipped] = await waitForCallbacks(team, taskId, settled("skipped"));
    const res = await call("POST", `/v1/callbacks/${skipped.id}/replay`, team.key);
    expect(res.status).toBe(400);
    expect(res.body.detail).toContain("skipped");
  });
});

describe("credentials", () => {
  it("never appear in a delivery-log response", async () => {
    const team = await newTeam();
    const endpointId = await newEndpoint(team, {
      post_inference_hooks: ["callback"],
      default_callback_url: receiver.url(uniquePath("/reject")),
      default_callback_auth: { kind: "basic", username: "user", password: PASSWORD },
    });
    const basicTask = await submit(team, endpointId, {
      callback_auth: { kind: "basic", username: "task-user", password: TASK_PASSWORD },
    });
    const mtlsTask = await submit(team, endpointId, {
      callback_auth: { kind: "mtls", cert: CERT, key: KEY },
    });
    await runNext(endpointId);
    await runNext(endpointId);
    const [dead] = await waitForCallbacks(team, basicTask, settled("failed"));
    await waitForCallbacks(team, mtlsTask, settled("failed"));
    await endpointCallbacks(team, endpointId);
    await call("POST", `/v1/callbacks/${dead.id}/replay`, team.key);
    await call("POST", `/v1/model-endpoints/${endpointId}/callbacks/replay-failed`, team.key);
    await endpointCallbacks(team, endpointId, "?status=pending");

    // This test's responses, and those of every test above in this file.
    const all = responseTexts.join("\n");
    expect(all).toContain(basicTask);
    expect(all).not.toContain(PASSWORD);
    expect(all).not.toContain(TASK_PASSWORD);
    expect(all).not.toContain("PRIVATE KEY");
    expect(all).not.toContain("BEGIN CERTIFICATE");
    expect(all).not.toContain(KEY.split("\n")[1]!);
    // Nor their sealed form.
    expect(all).not.toMatch(/"sealed"|v1\.[A-Za-z0-9_-]{8}\./);
  });
});
