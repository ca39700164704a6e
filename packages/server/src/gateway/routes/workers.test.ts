/**
 * The external worker routes on a real server with `orchestration: external`. The test plays an
 * external worker over HTTP (a real HTTP server stands for its sync port), so the contract is checked
 * from the worker's side: bootstrap, register, long-poll lease, results, heartbeat, removal.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../../testing/server.js";
import { newTeam, newTeamEndpoint, type TestTeam } from "../../testing/teams.js";

let server: TestServer;
let team: TestTeam;
let fakeWorker: Server;
let fakeWorkerUrl: string;
const SYNC_TOKEN = "sync-token-of-the-test-worker";

beforeAll(async () => {
  server = await startTestServer({
    overrides: { orchestration: "external", workerHeartbeatSeconds: 1, taskLeaseSeconds: 30 },
  });
  team = await newTeam(server);
  // Like a real external worker's sync port, it answers only requests carrying its registered token.
  fakeWorker = createServer((req, res) => {
    if (req.headers["x-launch-worker-token"] !== SYNC_TOKEN) {
      res.writeHead(401).end();
      return;
    }
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = JSON.parse(Buffer.concat(chunks).toString() || "{}") as {
        args?: { x: number; y: string };
      };
      const args = body.args ?? { x: 0, y: "" };
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        `{"status":"SUCCESS","result":{"result":${args.x + args.y.length}},"traceback":null,"status_code":200}`,
      );
    });
  });
  await new Promise<void>((resolve) => fakeWorker.listen(0, "127.0.0.1", resolve));
  fakeWorkerUrl = `http://127.0.0.1:${(fakeWorker.address() as AddressInfo).port}`;
});

afterAll(async () => {
  fakeWorker?.close();
  await server?.close();
});

async function register(endpointId: string, key = team.key): Promise<string> {
  const res = await server.request("POST", "/v1/workers", {
    key,
    body: {
      endpoint_id: endpointId,
      url: fakeWorkerUrl,
      concurrency: 2,
      pid: 123,
      hostname: "host-a",
      sync_token: SYNC_TOKEN,
    },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.worker_id;
}

describe("external worker routes", () => {
  it("bootstraps a worker with the endpoint's bundle and timings", async () => {
    const endpointId = await newTeamEndpoint(server, team, { per_worker: 3 });
    const res = await server.request("GET", `/v1/workers/bootstrap?endpoint_id=${endpointId}`, {
      key: team.key,
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      endpoint_id: endpointId,
      endpoint_type: "async",
      bundle: { id: team.bundleId, flavor: { flavor: "runnable_image" } },
      artifact: null,
      concurrency: 3,
      lease_seconds: 30,
      heartbeat_seconds: 1,
    });
    const other = await newTeam(server);
    const hidden = await server.request("GET", `/v1/workers/bootstrap?endpoint_id=${endpointId}`, {
      key: other.key,
    });
    expect(hidden.status).toBe(404);
  });

  it("counts registered workers in available_workers until they stop heartbeating", async () => {
    const endpointId = await newTeamEndpoint(server, team);
    const before = await server.request("GET", `/v1/model-endpoints/${endpointId}`, { key: team.key });
    expect(before.body).toMatchObject({ status: "READY", deployment_state: { available_workers: 0 } });
    const workerId = await register(endpointId);
    const after = await server.request("GET", `/v1/model-endpoints/${endpointId}`, { key: team.key });
    expect(after.body.deployment_state.available_workers).toBe(1);
    // Heartbeats keep it (TTL is 5 heartbeats = 5 s); without them it is dropped.
    const beat = await server.request("POST", `/v1/workers/${workerId}/heartbeat`, {
      key: team.key,
      body: { in_flight: 0, leases: [] },
    });
    expect(beat.body).toEqual({ ok: true });
    const gone = await server.request("DELETE", `/v1/workers/${workerId}`, { key: team.key });
    expect(gone.body).toEqual({ deleted: true });
    const again = await server.request("POST", `/v1/workers/${workerId}/heartbeat`, {
      key: team.key,
      body: {},
    });
    expect(again.status).toBe(404);
    expect(again.body.detail).toMatch(/is not registered .* register again with POST \/v1\/workers/);
    const last = await server.request("GET", `/v1/model-endpoints/${endpointId}`, { key: team.key });
    expect(last.body.deployment_state.available_workers).toBe(0);
  });

  it("hands queued tasks out through a long-poll lease and records their results", async () => {
    const endpointId = await newTeamEndpoint(server, team);
    const workerId = await register(endpointId);
    const waiting = server.request("POST", `/v1/workers/${workerId}/lease`, {
      key: team.key,
      body: { max: 5, wait_seconds: 10 },
    });
    await new Promise((r) => setTimeout(r, 100));
    const submit = await server.request("POST", `/v1/async-tasks?model_endpoint_id=${endpointId}`, {
      key: team.key,
      body: { args: { x: 2, y: "hello" } },
    });
    const leased = await waiting;
    expect(leased.status).toBe(200);
    expect(leased.body.tasks).toEqual([
      {
        id: submit.body.task_id,
        token: expect.any(String),
        args: { x: 2, y: "hello" },
        url: null,
        returnPickled: false,
        attempt: 1,
      },
    ]);
    const task = leased.body.tasks[0];
    const beat = await server.request("POST", `/v1/workers/${workerId}/heartbeat`, {
      key: team.key,
      body: { in_flight: 1, leases: [{ id: task.id, token: task.token }] },
    });
    expect(beat.status).toBe(200);
    const recorded = await server.request("POST", `/v1/workers/${workerId}/results`, {
      key: team.key,
      body: {
        items: [{ id: task.id, token: task.token, outcome: { ok: true, output: 7, statusCode: 200 } }],
      },
    });
    expect(recorded.body).toEqual({ recorded: 1 });
    const again = await server.request("POST", `/v1/workers/${workerId}/results`, {
      key: team.key,
      body: {
        items: [{ id: task.id, token: task.token, outcome: { ok: true, output: 8, statusCode: 200 } }],
      },
    });
    expect(again.body).toEqual({ recorded: 0 });
    const view = await server.request("GET", `/v1/async-tasks/${task.id}`, { key: team.key });
    expect(view.body).toMatchObject({ status: "SUCCESS", result: { result: 7 } });
  });

  it("answers an empty lease after the wait, and takes released tasks back", async () => {
    const endpointId = await newTeamEndpoint(server, team);
    const workerId = await register(endpointId);
    const empty = await server.request("POST", `/v1/workers/${workerId}/lease`, {
      key: team.key,
      body: { max: 1, wait_seconds: 0.2 },
    });
    expect(empty.body).toEqual({ tasks: [] });
    await server.request("POST", `/v1/async-tasks?model_endpoint_id=${endpointId}`, {
      key: team.key,
      body: { args: { x: 1, y: "" } },
    });
    const leased = await server.request("POST", `/v1/workers/${workerId}/lease`, {
      key: team.key,
      body: { max: 1 },
    });
    const [task] = leased.body.tasks;
    const released = await server.request("POST", `/v1/workers/${workerId}/release`, {
      key: team.key,
      body: { items: [{ id: task.id, token: task.token }] },
    });
    expect(released.body).toEqual({ released: 1 });
    const view = await server.request("GET", `/v1/async-tasks/${task.id}`, { key: team.key });
    expect(view.body.status).toBe("PENDING");
  });

  it("sends sync requests to a registered worker's URL, with its token", async () => {
    const endpointId = await newTeamEndpoint(server, team, { endpoint_type: "sync" });
    await register(endpointId);
    const res = await server.request("POST", `/v1/sync-tasks?model_endpoint_id=${endpointId}`, {
      key: team.key,
      body: { args: { x: 3, y: "hello" } },
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: "SUCCESS", result: { result: 8 }, traceback: null, status_code: 200 });
  });

  it("fails the endpoint with the reason when a worker cannot start its model and none is alive", async () => {
    const endpointId = await newTeamEndpoint(server, team);
    const res = await server.request("POST", "/v1/workers/start-failed", {
      key: team.key,
      body: { endpoint_id: endpointId, reason: "Command not found: serve", hostname: "host-b" },
    });
    expect(res.body).toEqual({ recorded: true });
    const view = await server.request("GET", `/v1/model-endpoints/${endpointId}`, { key: team.key });
    expect(view.body).toMatchObject({
      status: "UPDATE_FAILED",
      status_reason: "A worker on host-b could not start the model: Command not found: serve",
    });
  });

  it("refuses bad registrations with the field named", async () => {
    const endpointId = await newTeamEndpoint(server, team);
    const res = await server.request("POST", "/v1/workers", {
      key: team.key,
      body: { endpoint_id: endpointId, url: "ftp://x", concurrency: 0 },
    });
    expect(res.status).toBe(422);
    expect(JSON.stringify(res.body)).toContain("url");
    expect(JSON.stringify(res.body)).toContain("concurrency");
  });
});

describe("external worker routes on a server that runs its own workers", () => {
  it("answer 409 naming LAUNCH_ORCHESTRATION", async () => {
    const local = await startTestServer({ overrides: { orchestration: "none" } });
    try {
      const other = await newTeam(local);
      const endpointId = await newTeamEndpoint(local, other);
      const res = await local.request("GET", `/v1/workers/bootstrap?endpoint_id=${endpointId}`, {
        key: other.key,
      });
      expect(res.status).toBe(409);
      expect(res.body.detail).toMatch(/LAUNCH_ORCHESTRATION=external/);
    } finally {
      await local.close();
    }
  });
});
