/**
 * Durability across a server crash: a real `launch-server` process (the built bin) with tasks queued and
 * running is killed with SIGKILL and started again on the same data directory. Every accepted task must
 * complete, each with its own result, and the crashed server's workers must not outlive it.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { TestReceiver } from "../callbacks/testing-receiver.js";
import {
  createEndpoint,
  createFixtureImageBundle,
  readyWith,
  submitTask,
  waitForEndpoint,
  waitForTask,
} from "../testing/bundles.js";
import { routeCaller } from "../testing/http.js";

const serverBin = join(dirname(fileURLToPath(import.meta.url)), "../../dist/bin.js");
const workerBin = join(dirname(fileURLToPath(import.meta.url)), "../../../worker/dist/bin.js");
const built = existsSync(serverBin) && existsSync(workerBin);
if (!built) console.warn("server crash test skipped: run `npm run build` first (npm test does)");

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
    probe.on("error", reject);
  });
}

/** Pids of live processes whose command line mentions `text`. */
function pidsMatching(text: string): number[] {
  const out = execFileSync("ps", ["-eo", "pid=,args="], { encoding: "utf8" });
  return out
    .split("\n")
    .filter((line) => line.includes(text) && !line.includes("ps -eo"))
    .map((line) => Number(line.trim().split(/\s+/)[0]));
}

describe.skipIf(!built && !process.env.CI)("a server killed with SIGKILL", () => {
  const children: ChildProcess[] = [];
  let dataDir = "";
  afterAll(async () => {
    for (const child of children) child.kill("SIGKILL");
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  async function startServerProcess(
    port: number,
    extraEnv: Record<string, string> = {},
  ): Promise<ChildProcess> {
    const child = spawn(process.execPath, [serverBin], {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        LAUNCH_PORT: String(port),
        LAUNCH_DATA_DIR: dataDir,
        LAUNCH_AUTH: "open",
        LAUNCH_LOG_LEVEL: "warn",
        LAUNCH_TASK_LEASE_SECONDS: "2",
        ...extraEnv,
      },
      stdio: ["ignore", "ignore", "inherit"],
    });
    children.push(child);
    for (let i = 0; i < 200; i++) {
      try {
        if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) return child;
      } catch {}
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error("launch-server did not start");
  }

  it("loses no accepted task: after a restart every task completes once, with its own result", async () => {
    dataDir = await mkdtemp(join(tmpdir(), "launch-crash-"));
    const port = await freePort();
    const api = routeCaller(`http://127.0.0.1:${port}`);
    const key = "crash-test";

    const first = await startServerProcess(port);
    const bundleId = await createFixtureImageBundle(api, key, "echo-server.mjs", { name: "echo-crash" });
    const id = await createEndpoint(api, key, { name: "echo-crash", bundleId, min: 1, perWorker: 2 });
    await waitForEndpoint(api, key, id, readyWith(1));

    const taskIds = await Promise.all(
      Array.from({ length: 20 }, (_, i) => submitTask(api, key, id, { args: { delay: 0.2, n: i } })),
    );
    // Let the first task finish (the wire shows running tasks as PENDING), so that others are running
    // or queued, then kill the server outright.
    for (;;) {
      const res = await api.request("GET", `/v1/async-tasks/${taskIds[0]}`, { key });
      if (res.body.status !== "PENDING") break;
      await new Promise((r) => setTimeout(r, 10));
    }
    const workersBefore = pidsMatching(`--endpoint ${id}`);
    expect(workersBefore.length).toBeGreaterThan(0);
    first.kill("SIGKILL");
    await new Promise((r) => first.once("exit", r));

    // The crashed server's workers notice and exit; they must not linger.
    for (let i = 0; i < 100 && pidsMatching(`--endpoint ${id}`).length > 0; i++)
      await new Promise((r) => setTimeout(r, 50));
    expect(pidsMatching(`--endpoint ${id}`)).toEqual([]);

    await startServerProcess(port);
    await waitForEndpoint(api, key, id, readyWith(1));
    const results = await Promise.all(taskIds.map((taskId) => waitForTask(api, key, taskId, 60_000)));
    expect(results.map((r) => r.status)).toEqual(Array(20).fill("SUCCESS"));
    expect(results.map((r) => r.result.result.n)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    // Asking again gives the same single result.
    const again = await api.request("GET", `/v1/async-tasks/${taskIds[0]}`, { key });
    expect(again.body).toEqual(results[0]);
  }, 90_000);

  it("resumes a callback's retry schedule after a restart and delivers it once", async () => {
    await rm(dataDir, { recursive: true, force: true });
    dataDir = await mkdtemp(join(tmpdir(), "launch-crash-"));
    const port = await freePort();
    const api = routeCaller(`http://127.0.0.1:${port}`);
    const key = "crash-callbacks";
    // The receiver is down (503) until told otherwise.
    let up = false;
    const receiver = await TestReceiver.http((_req, res) => res.writeHead(up ? 200 : 503).end());
    const env = { LAUNCH_CALLBACK_RETRY_SCHEDULE: "1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1" };
    try {
      const first = await startServerProcess(port, env);
      const bundleId = await createFixtureImageBundle(api, key, "echo-server.mjs", { name: "echo-callback" });
      const id = await createEndpoint(api, key, {
        name: "echo-callback",
        bundleId,
        post_inference_hooks: ["callback"],
        default_callback_url: receiver.url("/hook"),
      });
      await waitForEndpoint(api, key, id, readyWith(1));
      const taskId = await submitTask(api, key, id, { args: { value: "kept" } });
      expect((await waitForTask(api, key, taskId)).status).toBe("SUCCESS");
      // Two refused attempts, then the server dies in the middle of the schedule.
      while (receiver.received.length < 2) await new Promise((r) => setTimeout(r, 20));
      first.kill("SIGKILL");
      await new Promise((r) => first.once("exit", r));
      const refused = receiver.received.length;

      up = true;
      await startServerProcess(port, env);
      let deliveries: { status: string; attempts: { outcome: string }[] }[] = [];
      for (let i = 0; i < 300; i++) {
        deliveries = (await api.request("GET", `/v1/async-tasks/${taskId}/callbacks`, { key })).body
          .callbacks;
        if (deliveries[0]?.status === "delivered") break;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(deliveries).toHaveLength(1);
      expect(deliveries[0]?.status).toBe("delivered");
      const outcomes = deliveries[0]?.attempts.map((a) => a.outcome) ?? [];
      expect(outcomes.at(-1)).toBe("delivered");
      expect(outcomes.filter((o) => o === "delivered")).toHaveLength(1);
      // Every request the receiver saw carried the same body and the same webhook-id.
      expect(receiver.received.length).toBeGreaterThan(refused);
      expect(new Set(receiver.received.map((r) => r.headers["webhook-id"])).size).toBe(1);
      expect(new Set(receiver.received.map((r) => r.body)).size).toBe(1);
      expect(JSON.parse(receiver.received[0]!.body)).toEqual({ task_id: taskId, result: { value: "kept" } });
      expect(receiver.received.filter((_, i) => i >= refused)).toHaveLength(1);
    } finally {
      await receiver.close();
    }
  }, 90_000);
});
