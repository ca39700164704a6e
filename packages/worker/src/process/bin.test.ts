/**
 * The built `launch-worker` bin in real child processes. A forked child cannot load TypeScript on
 * Node 20, so these run on `dist/bin.js` (`npm test` builds first) and are skipped when it is missing.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { WorkerInit, WorkerMessage } from "@launch/protocol";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { fixturePath } from "../fixtures.js";
import { forkWorker, workerBinPath } from "./fork.js";
import { NO_IPC_MESSAGE } from "./main.js";
import { imageFlavor, MessageRecorder, nodeFlavor, testBundle, testInit } from "./testing.js";

const built = existsSync(workerBinPath());
if (!built)
  console.warn(`Skipping the launch-worker bin tests: ${workerBinPath()} is not built (run npx tsc -b).`);

let dir: string;
const children: ChildProcess[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "launch-worker-bin-"));
});
afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await once(child, "exit");
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

function fork(init: WorkerInit) {
  const child = forkWorker();
  children.push(child);
  const messages = new MessageRecorder<WorkerMessage>();
  child.on("message", (message) => messages.push(message as WorkerMessage));
  let stdout = "";
  let stderr = "";
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
  });
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  const exited = once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
  child.send(init);
  return { child, messages, exited, stdout: () => stdout, stderr: () => stderr };
}

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

const docModel = () =>
  testInit(testBundle(nodeFlavor()), {
    artifactPath: fixturePath("doc-model"),
    cacheDir: join(dir, "cache"),
  });
const echoImage = (overrides: Partial<WorkerInit> = {}) =>
  testInit(testBundle(imageFlavor([process.execPath, fixturePath("echo-server.mjs")])), overrides);

describe.skipIf(!built && !process.env.CI)(
  "launch-worker bin (skipped when dist/bin.js is not built)",
  () => {
    it("refuses to run without an IPC channel", async () => {
      const child = spawn(process.execPath, [workerBinPath()], { stdio: ["ignore", "pipe", "pipe"] });
      children.push(child);
      let stderr = "";
      child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
        stderr += chunk;
      });
      const [code] = await once(child, "exit");
      expect(code).toBe(2);
      expect(stderr).toBe(`[launch-worker] ${NO_IPC_MESSAGE}\n`);
    });

    it("starts, runs tasks, and drains on SIGTERM with exit 0", async () => {
      const w = fork(docModel());
      const ready = await w.messages.next("ready");
      expect(ready.pid).toBe(w.child.pid);
      await w.messages.next("credit");
      w.child.send({
        t: "tasks",
        tasks: [{ id: "tsk_1", token: "t1", args: { x: 2, y: "hello" }, attempt: 1 }],
      });
      expect((await w.messages.next("results")).items[0]?.outcome).toEqual({
        ok: true,
        output: 7,
        statusCode: 200,
      });
      w.child.kill("SIGTERM");
      expect(await w.exited).toEqual([0, null]);
      expect(w.stdout()).toContain(`[launch-worker] ready on http://127.0.0.1:${ready.httpPort}`);
      expect(w.stdout()).toContain("[launch-worker] draining (received SIGTERM)");
      expect(w.stdout()).toMatch(/\[launch-worker\] exit 0\n$/);
    });

    it("sends start_failed with the reason and exits 1", async () => {
      const w = fork(testInit(testBundle(imageFlavor([process.execPath, fixturePath("crash.mjs")]))));
      const failed = await w.messages.next("start_failed");
      expect(failed.reason).toContain("FileNotFoundError: weights.bin is missing");
      expect(await w.exited).toEqual([1, null]);
      expect(w.stderr()).toContain("[launch-worker] start failed: The model server exited with code 3");
      // The model's own output is forwarded line by line.
      expect(w.stdout()).toContain("loading weights\n");
    });

    it("exits and leaves no model process when the controller goes away", async () => {
      const w = fork(echoImage());
      const ready = await w.messages.next("ready");
      expect(ready.runtimePid).toEqual(expect.any(Number));
      w.child.disconnect();
      expect((await w.exited)[0]).toBe(0);
      expect(await gone(ready.runtimePid!)).toBe(true);
    });

    it("stops at once on a second SIGTERM, killing the model", async () => {
      const w = fork(echoImage({ drainGraceMs: 60_000 }));
      const ready = await w.messages.next("ready");
      await w.messages.next("credit");
      w.child.send({ t: "tasks", tasks: [{ id: "tsk_1", token: "t1", args: { delay: 60 }, attempt: 1 }] });
      w.child.kill("SIGTERM");
      for (let i = 0; i < 100 && !w.stdout().includes("draining"); i++)
        await new Promise((r) => setTimeout(r, 20));
      w.child.kill("SIGTERM");
      expect(await w.exited).toEqual([143, null]);
      expect(await gone(ready.runtimePid!)).toBe(true);
    });
  },
);
