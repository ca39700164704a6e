import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BundleV2, WorkerInit, WorkerMessage, WorkerTask } from "@launch/protocol";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { fixturePath } from "../fixtures.js";
import { memoryChannelPair } from "./ipc.js";
import {
  imageFlavor,
  MessageRecorder,
  memoryLog,
  nodeFlavor,
  streamingImageFlavor,
  testBundle,
  testInit,
} from "./testing.js";
import { runWorker } from "./worker.js";

const node = process.execPath;
let dir: string;
const running: { stop(): Promise<void> }[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "launch-worker-"));
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((worker) => worker.stop()));
  rmSync(dir, { recursive: true, force: true });
});

/** Runs a worker in process over an in-memory channel, as the controller would drive it. */
function startWorker(init: WorkerInit | undefined, options: { initTimeoutMs?: number } = {}) {
  const { worker, controller } = memoryChannelPair();
  const messages = new MessageRecorder<WorkerMessage>();
  controller.onMessage(messages.push);
  const log = memoryLog();
  const run = runWorker(worker, { log, stopGraceMs: 500, ...options });
  let exitCode: number | undefined;
  void run.exited.then((code) => {
    exitCode = code;
  });
  running.push({
    async stop() {
      controller.disconnect();
      await run.exited;
    },
  });
  if (init) controller.send(init);
  return {
    run,
    controller,
    messages,
    log,
    exitCode: () => exitCode,
    tasks: (tasks: WorkerTask[]) => controller.send({ t: "tasks", tasks }),
  };
}

function task(id: string, args: unknown): WorkerTask {
  return { id, token: `lease-${id}`, args, attempt: 1 };
}

const docModel = () =>
  testInit(testBundle(nodeFlavor()), { artifactPath: fixturePath("doc-model"), cacheDir: dir });
const docImage = (overrides: Partial<WorkerInit> = {}) =>
  testInit(testBundle(imageFlavor([node, fixturePath("doc-model-server.mjs")])), overrides);
const echoImage = (overrides: Partial<WorkerInit> = {}) =>
  testInit(testBundle(imageFlavor([node, fixturePath("echo-server.mjs")])), overrides);

/** A Node bundle directory with `model.mjs` holding `source`, as a bundle whose flavor loads it. */
function customBundle(source: string): { bundle: BundleV2; artifactPath: string } {
  const bundleDir = join(dir, "bundle");
  mkdirSync(bundleDir);
  writeFileSync(join(bundleDir, "model.mjs"), source);
  return { bundle: testBundle(nodeFlavor(), "bun_custom"), artifactPath: bundleDir };
}

/** Dead: kill(pid, 0) fails with ESRCH, or only a zombie is left. Waits a little for the exit to land. */
async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    try {
      process.kill(pid, 0);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ESRCH") return true;
    }
    try {
      if (/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"))) return true;
    } catch {
      return true;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}

async function eventually(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`Still not true: ${what}`);
}

describe("start", () => {
  it("answers init with ready, then credit for its concurrency", async () => {
    const w = startWorker({ ...docModel(), concurrency: 3 });
    const ready = await w.messages.next("ready");
    expect(ready.httpPort).toBeGreaterThan(0);
    expect(ready.pid).toBe(process.pid);
    expect(ready.runtimePid).toBeNull();
    // The model runs in process: there is no model server to call directly.
    expect(ready.modelUrl).toBeNull();
    expect(ready.modelPredictRoute).toBeNull();
    expect(await w.messages.next("credit")).toEqual({ t: "credit", n: 3 });
    expect(w.messages.messages.map((m) => m.t)).toEqual(["ready", "credit"]);
    expect(w.log.text()).toContain(`ready on http://127.0.0.1:${ready.httpPort}`);
  });

  it("reports start_failed with the stderr tail of a model that exits, and exits 1", async () => {
    const w = startWorker(testInit(testBundle(imageFlavor([node, fixturePath("crash.mjs")]))));
    const failed = await w.messages.next("start_failed");
    expect(failed.reason).toContain("exited with code 3");
    expect(failed.reason).toContain("FileNotFoundError: weights.bin is missing");
    expect(await w.run.exited).toBe(1);
    expect(w.messages.all("ready")).toEqual([]);
  });

  it("reports start_failed for a missing artifact", async () => {
    const w = startWorker({ ...docModel(), artifactPath: join(dir, "missing.zip") });
    const failed = await w.messages.next("start_failed");
    expect(failed.reason).toContain(`the artifact file ${join(dir, "missing.zip")} does not exist`);
    expect(await w.run.exited).toBe(1);
  });

  it("reports start_failed naming the field of an invalid init", async () => {
    const w = startWorker({ ...docModel(), concurrency: 0 });
    const failed = await w.messages.next("start_failed");
    expect(failed.reason).toContain("concurrency must be an integer of at least 1 (got 0)");
    expect(await w.run.exited).toBe(1);
  });

  it("exits 1 when no init arrives in time", async () => {
    const w = startWorker(undefined, { initTimeoutMs: 50 });
    expect(await w.run.exited).toBe(1);
    expect(w.log.lines).toContainEqual({
      kind: "error",
      text: expect.stringContaining("no init message from the controller within 50 ms"),
    });
  });
});

describe("async tasks", () => {
  it("runs the documentation's Node bundle: 7 and 8", async () => {
    const w = startWorker(docModel());
    await w.messages.next("credit");
    w.tasks([task("tsk_a", { x: 2, y: "hello" }), task("tsk_b", { x: 3, y: "hello" })]);
    const results = await w.messages.next("results");
    expect(results.items).toEqual([
      { id: "tsk_a", token: "lease-tsk_a", outcome: { ok: true, output: 7, statusCode: 200 } },
      { id: "tsk_b", token: "lease-tsk_b", outcome: { ok: true, output: 8, statusCode: 200 } },
    ]);
    expect(await w.messages.next("credit")).toEqual({ t: "credit", n: 2 });
  });

  it("runs the documentation's runnable image: 7, and forwards the model's output", async () => {
    const w = startWorker(docImage());
    const ready = await w.messages.next("ready");
    expect(ready.runtimePid).toEqual(expect.any(Number));
    // The model's own server, reachable directly for sync predictions, answers like the worker's runtime.
    expect(ready.modelUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(ready.modelPredictRoute).toBe("/predict");
    const direct = await fetch(`${ready.modelUrl}${ready.modelPredictRoute}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ x: 2, y: "hello" }),
    });
    expect(await direct.json()).toBe(7);
    w.tasks([task("tsk_a", { x: 2, y: "hello" })]);
    const results = await w.messages.next("results");
    expect(results.items[0]?.outcome).toEqual({ ok: true, output: 7, statusCode: 200 });
    expect(w.log.lines).toContainEqual({
      kind: "stdout",
      text: expect.stringMatching(/^doc model listening on port \d+$/),
    });
  });

  it("batches the results of tasks that finish together", async () => {
    const w = startWorker({ ...docModel(), concurrency: 50 });
    await w.messages.next("credit");
    const tasks = Array.from({ length: 50 }, (_, i) => task(`tsk_${i}`, { x: i, y: "ab" }));
    // Half in one message, half one per message: IPC delivers what is waiting in one read.
    w.tasks(tasks.slice(0, 25));
    for (const one of tasks.slice(25)) w.tasks([one]);
    const outputs = new Map<string, unknown>();
    while (outputs.size < 50) {
      const results = await w.messages.next("results");
      for (const item of results.items)
        outputs.set(item.id, item.outcome.ok ? item.outcome.output : item.outcome);
    }
    expect(outputs.get("tsk_49")).toBe(51);
    const resultMessages = w.messages.all("results").length;
    expect(resultMessages).toBeLessThanOrEqual(5);
    // One credit message per results message, giving back every slot.
    for (let i = 0; i < resultMessages; i++) await w.messages.next("credit");
    const credits = w.messages.all("credit");
    expect(credits[0]).toEqual({ t: "credit", n: 50 });
    expect(credits.slice(1)).toHaveLength(resultMessages);
    expect(credits.slice(1).reduce((sum, credit) => sum + credit.n, 0)).toBe(50);
  });

  it("fails a task whose predict throws with its message and stack, logging the id but not the args", async () => {
    const { bundle, artifactPath } = customBundle(
      `export const loadModel = () => null;
       export const loadPredictFn = () => (args) => { throw new Error("boom: the model broke"); };`,
    );
    const w = startWorker(testInit(bundle, { artifactPath, cacheDir: join(dir, "cache") }));
    await w.messages.next("credit");
    w.tasks([task("tsk_bad", { secret: "s3cret-value" })]);
    const [item] = (await w.messages.next("results")).items;
    expect(item?.outcome).toMatchObject({ ok: false, error: "boom: the model broke", statusCode: 500 });
    const outcome = item?.outcome as { traceback: string };
    expect(outcome.traceback).toContain("Error: boom: the model broke");
    expect(outcome.traceback).toMatch(/\n\s+at /);
    expect(w.log.lines).toContainEqual({ kind: "error", text: "task tsk_bad failed: boom: the model broke" });
    expect(w.log.text()).not.toContain("s3cret-value");
  });

  it("sends a heartbeat with the work in flight", async () => {
    const w = startWorker({ ...docModel(), heartbeatMs: 20 });
    expect(await w.messages.next("heartbeat")).toEqual({ t: "heartbeat", inFlight: 0 });
  });
});

describe("stopping", () => {
  it("drains: a task that finishes within the grace is reported, nothing is released, exit 0", async () => {
    const w = startWorker(echoImage({ drainGraceMs: 20_000 }));
    const ready = await w.messages.next("ready");
    await w.messages.next("credit");
    w.tasks([task("tsk_slow", { delay: 0.3 })]);
    await eventually(() => w.run.inFlight === 1, "the task is running");
    w.controller.send({ t: "drain" });
    const results = await w.messages.next("results");
    expect(results.items[0]).toMatchObject({ id: "tsk_slow", outcome: { ok: true, output: { delay: 0.3 } } });
    expect(await w.run.exited).toBe(0);
    expect(w.messages.all("release")).toEqual([]);
    // No credit once draining.
    expect(w.messages.all("credit")).toHaveLength(1);
    expect(await gone(ready.runtimePid!)).toBe(true);
    expect(w.log.text()).toContain("draining (the controller asked to drain): 1 task(s)");
  });

  it("drains: a task slower than the grace is released with its token", async () => {
    const w = startWorker(echoImage({ drainGraceMs: 200 }));
    const ready = await w.messages.next("ready");
    await w.messages.next("credit");
    w.tasks([task("tsk_fast", { delay: 0 }), task("tsk_stuck", { delay: 30 })]);
    await w.messages.next("results");
    w.run.drain("received SIGTERM");
    const released = await w.messages.next("release");
    expect(released.items).toEqual([{ id: "tsk_stuck", token: "lease-tsk_stuck" }]);
    expect(await w.run.exited).toBe(0);
    expect(w.messages.all("results")).toHaveLength(1);
    expect(await gone(ready.runtimePid!)).toBe(true);
  });

  it("releases tasks that arrive while draining", async () => {
    const w = startWorker(echoImage({ drainGraceMs: 5_000 }));
    await w.messages.next("credit");
    w.tasks([task("tsk_1", { delay: 0.3 })]);
    await eventually(() => w.run.inFlight === 1, "the task is running");
    w.run.drain("received SIGTERM");
    w.tasks([task("tsk_late", { x: 1 })]);
    expect((await w.messages.next("release")).items).toEqual([{ id: "tsk_late", token: "lease-tsk_late" }]);
    expect((await w.messages.next("results")).items[0]?.id).toBe("tsk_1");
    expect(await w.run.exited).toBe(0);
  });

  it("stops the model and exits when the controller goes away", async () => {
    const w = startWorker(docImage());
    const ready = await w.messages.next("ready");
    w.controller.disconnect();
    expect(await w.run.exited).toBe(0);
    expect(await gone(ready.runtimePid!)).toBe(true);
  });

  it("reports crashed with the reason when the model process dies, and exits 1", async () => {
    const w = startWorker(docImage());
    const ready = await w.messages.next("ready");
    process.kill(ready.runtimePid!, "SIGKILL");
    const crashed = await w.messages.next("crashed");
    expect(crashed.reason).toContain("The model server was killed by SIGKILL");
    expect(await w.run.exited).toBe(1);
  });
});

describe("sync and streaming requests", () => {
  it("answers POST /predict with the sync response shape", async () => {
    const w = startWorker(docModel());
    const { httpPort } = await w.messages.next("ready");
    const response = await fetch(`http://127.0.0.1:${httpPort}/predict`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ args: { x: 2, y: "hello" }, return_pickled: false }),
    });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe(
      '{"status":"SUCCESS","result":{"result":7},"traceback":null,"status_code":200}',
    );
  });

  it("streams a runnable image's events as they come, and aborts when the client leaves", async () => {
    const w = startWorker(
      testInit(testBundle(streamingImageFlavor([node, fixturePath("doc-model-server.mjs")])), {
        endpointType: "streaming",
      }),
    );
    const { httpPort } = await w.messages.next("ready");
    const modelPort = Number(/on port (\d+) \(pid/.exec(w.log.text())?.[1]);
    const url = `http://127.0.0.1:${httpPort}/stream`;
    const body = JSON.stringify({ args: { x: 2, y: "hello", hold: true } });

    // The model holds the stream after the characters: they arrive before it ends.
    const response = await fetch(url, { method: "POST", body });
    expect(response.headers.get("content-type")).toBe("text/event-stream");
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let text = "";
    while (text.split("\n\n").length - 1 < 5) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the stream ended early: ${text}`);
      text += decoder.decode(value, { stream: true });
    }
    expect(text).toBe(
      [..."hello"]
        .map(
          (c) =>
            `data: {"status":"SUCCESS","result":{"result":"${c}"},"traceback":null,"status_code":200}\n\n`,
        )
        .join(""),
    );
    await (await fetch(`http://127.0.0.1:${modelPort}/release`, { method: "POST" })).text();
    for (let step = await reader.read(); !step.done; step = await reader.read())
      text += decoder.decode(step.value);
    expect(
      text.endsWith(
        'data: {"status":"SUCCESS","result":{"result":7},"traceback":null,"status_code":200}\n\n',
      ),
    ).toBe(true);

    // A client that leaves mid-stream: the worker stops reading the model's stream.
    const leaving = new AbortController();
    const second = await fetch(url, { method: "POST", body, signal: leaving.signal });
    await second.body!.getReader().read();
    expect(w.run.inFlight).toBe(1);
    leaving.abort();
    await eventually(
      () => w.log.text().includes("a streaming request ended early: the client closed the connection"),
      "the stream was aborted",
    );
    await eventually(() => w.run.inFlight === 0, "no request in flight");
  });
});
