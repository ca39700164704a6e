/**
 * The controller's handle on one real `launch-worker` process (the built `packages/worker/dist/bin.js`)
 * running the documentation's model as a runnable image: what its `ready` tells, and how a drain waits for
 * the sync requests lent to it, which may be calling its model server directly.
 */
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { WorkerInit } from "@launch/protocol";
import { fixturePath } from "@launch/worker";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LocalWorker, type LocalWorkerEvents } from "./local-worker.js";
import { LogBuffer } from "./log-buffer.js";
import { workerBinPath, workerEnv } from "./worker-bin.js";

const built = (() => {
  try {
    return existsSync(workerBinPath());
  } catch {
    return false;
  }
})();

let dir: string;
const started: LocalWorker[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "launch-local-worker-"));
});

afterEach(async () => {
  for (const worker of started.splice(0)) {
    worker.kill("the test is over");
    await worker.exited;
  }
  await rm(dir, { recursive: true, force: true });
});

/** Starts a worker of the doc model as a runnable image; resolves once it is ready. */
async function startDocImageWorker(): Promise<LocalWorker> {
  let markReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    markReady = resolve;
  });
  const events: LocalWorkerEvents = {
    ready: () => markReady(),
    credit: () => {},
    results: () => {},
    release: () => {},
    exit: () => markReady(),
  };
  const init: Omit<WorkerInit, "t"> = {
    endpointId: "end_local_worker_test",
    endpointType: "sync",
    workerId: `wrk_test_${started.length}`,
    bundle: {
      id: "bun_doc_image",
      name: "doc-image",
      metadata: {},
      created_at: new Date().toISOString(),
      model_artifact_ids: [],
      schema_location: null,
      flavor: {
        flavor: "runnable_image",
        repository: "local",
        tag: "test",
        command: [process.execPath, fixturePath("doc-model-server.mjs")],
        protocol: "http",
        predict_route: "/predict",
        healthcheck_route: "/readyz",
        env: {},
        readiness_initial_delay_seconds: 10,
        extra_routes: [],
        routes: [],
        forwarder_type: null,
        worker_command: null,
        worker_env: null,
      },
    },
    artifactPath: null,
    cacheDir: join(dir, "cache"),
    concurrency: 1,
    httpPort: 0,
    readinessMarginSeconds: 10,
    drainGraceMs: 2_000,
    heartbeatMs: 1_000,
  };
  const worker = new LocalWorker({
    binPath: workerBinPath(),
    init,
    generation: 1,
    env: workerEnv(),
    logs: new LogBuffer(),
    events,
    heartbeatTimeoutMs: 10_000,
  });
  started.push(worker);
  await ready;
  expect(worker.state).toBe("ready");
  return worker;
}

async function predictDirect(worker: LocalWorker): Promise<unknown> {
  const res = await fetch(`${worker.modelUrl}${worker.modelPredictRoute}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ x: 2, y: "hello" }),
  });
  return res.json();
}

describe.skipIf(!built && !process.env.CI)("LocalWorker", () => {
  it("learns from ready where its model server answers predictions", async () => {
    const worker = await startDocImageWorker();
    expect(worker.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(worker.modelUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(worker.modelUrl).not.toBe(worker.url);
    expect(worker.modelPredictRoute).toBe("/predict");
    expect(await predictDirect(worker)).toBe(7);
  });

  it("counts loans, each returned once", async () => {
    const worker = await startDocImageWorker();
    const first = worker.lend();
    const second = worker.lend();
    expect(worker.loans).toBe(2);
    first();
    first();
    expect(worker.loans).toBe(1);
    second();
    expect(worker.loans).toBe(0);
  });

  it("drains only once the loans are back, so the model keeps answering the requests in flight", async () => {
    const worker = await startDocImageWorker();
    const release = worker.lend();
    const exited = worker.drain(10_000);
    expect(worker.state).toBe("draining");
    // Long enough for a worker told to drain (with nothing of its own in flight) to stop its model.
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(await predictDirect(worker)).toBe(7);
    expect(worker.state).toBe("draining");
    release();
    const exit = await exited;
    expect(exit.code).toBe(0);
    await expect(predictDirect(worker)).rejects.toThrow();
  });

  it("drains after the grace period even while a loan is still out", async () => {
    const worker = await startDocImageWorker();
    worker.lend();
    const exit = await worker.drain(300);
    expect(exit.code).toBe(0);
    expect(worker.loans).toBe(1);
  });
});
