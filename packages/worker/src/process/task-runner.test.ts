import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { WorkerMessage, WorkerTask } from "@launch/protocol";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { NodeRuntime } from "../runtimes/node.js";
import type { Runtime } from "../runtimes/port.js";
import { TaskRunner } from "./task-runner.js";
import { MessageRecorder, memoryLog, nodeFlavor } from "./testing.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "launch-task-runner-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A model whose predict waits `wait` ms (if given) and answers `x`. */
async function slowModel(): Promise<NodeRuntime> {
  writeFileSync(
    join(dir, "model.mjs"),
    `export const loadModel = () => null;
     export const loadPredictFn = () => async ({ x, wait }) => {
       if (wait) await new Promise((resolve) => setTimeout(resolve, wait));
       return x;
     };`,
  );
  const runtime = new NodeRuntime({ directory: dir, flavor: nodeFlavor() });
  await runtime.start();
  return runtime;
}

function setup(runtime: Pick<Runtime, "predict">, concurrency: number) {
  const messages = new MessageRecorder<WorkerMessage>();
  const log = memoryLog();
  const runner = new TaskRunner({ runtime, concurrency, send: messages.push, log });
  return { runner, messages, log };
}

const task = (id: string, args: unknown): WorkerTask => ({ id, token: `tok-${id}`, args, attempt: 1 });

describe("TaskRunner", () => {
  it("releases tasks beyond its free slots and says so on stderr", async () => {
    const { runner, messages, log } = setup(await slowModel(), 1);
    runner.accept([task("a", { x: 1, wait: 20 }), task("b", { x: 2 })]);
    expect(messages.all("release")).toEqual([{ t: "release", items: [{ id: "b", token: "tok-b" }] }]);
    expect(log.lines).toContainEqual({
      kind: "error",
      text: "protocol error: task b arrived with all 1 slots busy (no credit was granted for it); releasing it",
    });
    expect((await messages.next("results")).items).toEqual([
      { id: "a", token: "tok-a", outcome: { ok: true, output: 1, statusCode: 200 } },
    ]);
    expect(await messages.next("credit")).toEqual({ t: "credit", n: 1 });
  });

  it("ignores a second copy of a running task", async () => {
    const { runner, messages, log } = setup(await slowModel(), 4);
    runner.accept([task("a", { x: 1, wait: 10 }), task("a", { x: 1 })]);
    expect(runner.inFlight).toBe(1);
    expect(log.text()).toContain("task a is already running here");
    expect((await messages.next("results")).items).toHaveLength(1);
  });

  it("turns an exception escaping the runtime into a failed outcome", async () => {
    // Real runtimes never throw from predict (their contract); this one breaks it on purpose.
    const broken: Pick<Runtime, "predict"> = {
      predict: (input) => {
        if ((input.args as { sync?: boolean }).sync) throw new TypeError("runtime bug (sync)");
        return Promise.reject(new Error("runtime bug (async)"));
      },
    };
    const { runner, messages } = setup(broken, 2);
    runner.accept([task("s", { sync: true }), task("a", {})]);
    const { items } = await messages.next("results");
    expect(items.map((item) => item.outcome)).toEqual([
      {
        ok: false,
        error: "runtime bug (sync)",
        traceback: expect.stringContaining("TypeError"),
        statusCode: null,
      },
      {
        ok: false,
        error: "runtime bug (async)",
        traceback: expect.stringMatching(/\n\s+at /),
        statusCode: null,
      },
    ]);
  });

  it("on release, sends finished results first, then the tokens of the running tasks, and ignores their late outcomes", async () => {
    const { runner, messages } = setup(await slowModel(), 2);
    runner.accept([task("quick", { x: 1 }), task("stuck", { x: 2, wait: 50 })]);
    // Let "quick" finish within this turn, before its result is flushed.
    while (runner.inFlight === 2) await Promise.resolve();
    expect(runner.releaseRunning()).toBe(1);
    expect(messages.messages.map((m) => m.t)).toEqual(["results", "release"]);
    expect(messages.all("release")).toEqual([{ t: "release", items: [{ id: "stuck", token: "tok-stuck" }] }]);
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(messages.all("results").flatMap((m) => m.items.map((item) => item.id))).toEqual(["quick"]);
    expect(runner.inFlight).toBe(0);
  });
});
