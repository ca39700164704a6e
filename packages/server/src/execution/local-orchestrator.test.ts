/**
 * The execution path end to end on one machine: a real server with the local orchestrator, real
 * `launch-worker` processes (the built `packages/worker/dist/bin.js`; `npm test` builds first), real
 * model programs, real HTTP.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createEndpoint,
  createFixtureImageBundle,
  createNodeDocBundle,
  readyWith,
  submitTask,
  waitForEndpoint,
  waitForTask,
} from "../testing/bundles.js";
import { startTestServer, type TestServer } from "../testing/server.js";
import { workerBinPath } from "./worker-bin.js";

const built = (() => {
  try {
    return existsSync(workerBinPath());
  } catch {
    return false;
  }
})();
if (!built)
  console.warn(
    "local orchestrator tests skipped: launch-worker is not built; run `npm run build` (npm test does)",
  );

/** Pids of this process's `launch-worker` children (of one endpoint when given). */
function workerPids(endpointId?: string): number[] {
  const out = execFileSync("ps", ["-o", "pid=,args=", "--ppid", String(process.pid)], { encoding: "utf8" });
  return out
    .split("\n")
    .filter(
      (line) =>
        line.includes("worker/dist/bin.js") && (!endpointId || line.includes(`--endpoint ${endpointId}`)),
    )
    .map((line) => Number(line.trim().split(/\s+/)[0]));
}

describe.skipIf(!built && !process.env.CI)("local orchestrator", () => {
  let server: TestServer;
  let key: string;

  beforeAll(async () => {
    server = await startTestServer({
      overrides: {
        orchestration: "local",
        taskLeaseSeconds: 3,
        workerDrainSeconds: 2,
        workerScaleDownSeconds: 1,
        workerIdleSeconds: 2,
      },
    });
    key = await server.createKey("alice", "ml");
  });
  afterAll(async () => {
    await server?.close();
    expect(workerPids()).toEqual([]);
  });

  it("runs the document's model as a Node bundle: async gives 7 and 8", async () => {
    const bundleId = await createNodeDocBundle(server, key);
    const id = await createEndpoint(server, key, { name: "doc-node", bundleId, min: 1 });
    await waitForEndpoint(server, key, id, readyWith(1));
    const seven = await waitForTask(
      server,
      key,
      await submitTask(server, key, id, { args: { x: 2, y: "hello" } }),
    );
    expect(seven).toMatchObject({
      status: "SUCCESS",
      result: { result: 7 },
      traceback: null,
      status_code: 200,
    });
    const eight = await waitForTask(
      server,
      key,
      await submitTask(server, key, id, { args: { x: 3, y: "hello" } }),
    );
    expect(eight.result).toEqual({ result: 8 });
  });

  it("runs the document's model as a runnable image: async, sync and streaming", async () => {
    const asyncBundle = await createFixtureImageBundle(server, key, "doc-model-server.mjs");
    const asyncId = await createEndpoint(server, key, { name: "doc-image", bundleId: asyncBundle });
    await waitForEndpoint(server, key, asyncId, readyWith(1));
    const task = await waitForTask(
      server,
      key,
      await submitTask(server, key, asyncId, { args: { x: 2, y: "hello" } }),
    );
    expect(task).toMatchObject({ status: "SUCCESS", result: { result: 7 }, status_code: 200 });

    const syncId = await createEndpoint(server, key, {
      name: "doc-sync",
      bundleId: asyncBundle,
      type: "sync",
    });
    await waitForEndpoint(server, key, syncId, readyWith(1));
    const sync = await server.request("POST", `/v1/sync-tasks?model_endpoint_id=${syncId}`, {
      key,
      body: { args: { x: 2, y: "hello" } },
    });
    expect(sync.status).toBe(200);
    expect(sync.body).toMatchObject({
      status: "SUCCESS",
      result: { result: 7 },
      traceback: null,
      status_code: 200,
    });

    const streamBundle = await createFixtureImageBundle(server, key, "doc-model-server.mjs", {
      streaming: true,
      name: "doc-stream",
    });
    const streamId = await createEndpoint(server, key, {
      name: "doc-stream",
      bundleId: streamBundle,
      type: "streaming",
    });
    await waitForEndpoint(server, key, streamId, readyWith(1));
    const stream = await server.request("POST", `/v1/streaming-tasks?model_endpoint_id=${streamId}`, {
      key,
      body: { args: { x: 2, y: "hi" } },
    });
    expect(stream.status).toBe(200);
    const events = String(stream.body)
      .split("\n\n")
      .filter((e) => e.startsWith("data: "))
      .map((e) => JSON.parse(e.slice(6)));
    expect(events.at(-1)).toEqual({
      status: "SUCCESS",
      result: { result: 4 },
      traceback: null,
      status_code: 200,
    });
    expect(events.length).toBeGreaterThan(1);
  });

  it("fails a task whose predict throws, with the message and traceback", async () => {
    const bundleId = await createNodeDocBundle(server, key, { name: "doc-node-2" });
    const id = await createEndpoint(server, key, { name: "doc-node-throws", bundleId });
    await waitForEndpoint(server, key, id, readyWith(1));
    const task = await waitForTask(server, key, await submitTask(server, key, id, { args: { x: 2 } }));
    expect(task.status).toBe("FAILURE");
    expect(typeof task.result).toBe("string");
    expect(task.traceback).toMatch(/length/);
  });

  it("starts a worker for the first task of an endpoint at zero, and never exceeds max_workers", async () => {
    const bundleId = await createFixtureImageBundle(server, key, "echo-server.mjs", { name: "echo" });
    const id = await createEndpoint(server, key, {
      name: "echo-zero",
      bundleId,
      min: 0,
      max: 2,
      perWorker: 1,
    });
    const idle = await waitForEndpoint(server, key, id, (e) => e.status === "READY");
    expect(idle.deployment_state.available_workers).toBe(0);

    const ids = await Promise.all(
      Array.from({ length: 8 }, (_, i) => submitTask(server, key, id, { args: { delay: 0.2, i } })),
    );
    let most = 0;
    let done = false;
    const sampler = (async () => {
      while (!done) {
        const view = await server.request("GET", `/v1/model-endpoints/${id}`, { key });
        const state = view.body.deployment_state;
        most = Math.max(most, state.available_workers + state.unavailable_workers);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const results = await Promise.all(ids.map((taskId) => waitForTask(server, key, taskId)));
    done = true;
    await sampler;
    expect(results.map((r) => r.status)).toEqual(Array(8).fill("SUCCESS"));
    expect(results.map((r) => r.result.result.i).sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(most).toBeGreaterThanOrEqual(1);
    expect(most).toBeLessThanOrEqual(2);
    // Idle again: back to zero after the idle time.
    await waitForEndpoint(
      server,
      key,
      id,
      (e) => e.deployment_state.available_workers + e.deployment_state.unavailable_workers === 0,
      15_000,
    );
  });

  it("completes a task whose worker is killed with SIGKILL in the middle of it", async () => {
    const bundleId = await createFixtureImageBundle(server, key, "echo-server.mjs", { name: "echo-kill" });
    const id = await createEndpoint(server, key, { name: "echo-kill", bundleId, min: 1 });
    await waitForEndpoint(server, key, id, readyWith(1));
    const taskId = await submitTask(server, key, id, { args: { delay: 1.5, value: "survives" } });
    // Wait until the task is running, then kill the worker that has it.
    for (;;) {
      if ((await server.queue.get(taskId))?.status === "STARTED") break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const pids = workerPids(id);
    expect(pids).toHaveLength(1);
    const victim = pids[0]!;
    process.kill(victim, "SIGKILL");
    const task = await waitForTask(server, key, taskId, 30_000);
    expect(task).toMatchObject({ status: "SUCCESS", result: { result: { delay: 1.5, value: "survives" } } });
    expect(workerPids()).not.toContain(victim);
  });

  it("ends in UPDATE_FAILED quoting the failure when the command does not exist or exits at once", async () => {
    const missing = await server.request("POST", "/v2/model-bundles", {
      key,
      body: {
        name: "missing-command",
        schema_location: "s3://launch/none",
        flavor: {
          flavor: "runnable_image",
          repository: "x",
          tag: "1",
          command: ["/nonexistent/model-server"],
        },
      },
    });
    const missingId = await createEndpoint(server, key, {
      name: "missing-cmd",
      bundleId: missing.body.model_bundle_id,
    });
    const failed = await waitForEndpoint(server, key, missingId, (e) => e.status === "UPDATE_FAILED");
    expect(failed.status_reason).toMatch(/nonexistent\/model-server/);

    const crashBundle = await createFixtureImageBundle(server, key, "crash.mjs", { name: "crash" });
    const crashId = await createEndpoint(server, key, { name: "crash", bundleId: crashBundle });
    const crashed = await waitForEndpoint(server, key, crashId, (e) => e.status === "UPDATE_FAILED");
    expect(crashed.status_reason).toMatch(/exit|code 3/i);
    expect(crashed.deployment_state.available_workers).toBe(0);
  });

  it("rolls workers on a bundle change without losing queued tasks", async () => {
    const first = await createFixtureImageBundle(server, key, "echo-server.mjs", { name: "roll-a" });
    const second = await createFixtureImageBundle(server, key, "doc-model-server.mjs", { name: "roll-b" });
    const id = await createEndpoint(server, key, { name: "rolling", bundleId: first, min: 1 });
    await waitForEndpoint(server, key, id, readyWith(1));
    const queued = await Promise.all(
      Array.from({ length: 6 }, () => submitTask(server, key, id, { args: { x: 1, y: "ab", delay: 0.1 } })),
    );
    const edit = await server.request("PUT", `/v1/model-endpoints/${id}`, {
      key,
      body: { model_bundle_id: second },
    });
    expect(edit.status).toBe(200);
    const results = await Promise.all(queued.map((taskId) => waitForTask(server, key, taskId)));
    expect(results.every((r) => r.status === "SUCCESS")).toBe(true);
    await waitForEndpoint(server, key, id, readyWith(1));
    const after = await waitForTask(
      server,
      key,
      await submitTask(server, key, id, { args: { x: 1, y: "ab" } }),
    );
    expect(after.result).toEqual({ result: 3 });
  });

  it("stops every worker when the endpoint is deleted", async () => {
    const bundleId = await createFixtureImageBundle(server, key, "echo-server.mjs", { name: "echo-delete" });
    const id = await createEndpoint(server, key, { name: "echo-delete", bundleId, min: 2, max: 2 });
    await waitForEndpoint(server, key, id, readyWith(2));
    expect(workerPids(id)).toHaveLength(2);
    const res = await server.request("DELETE", `/v1/model-endpoints/${id}`, { key });
    expect(res.status).toBe(200);
    const gone = await server.request("GET", `/v1/model-endpoints/${id}`, { key });
    expect(gone.status).toBe(404);
    expect(workerPids(id)).toEqual([]);
  });
});
