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

describe.skipIf(!built)("a server killed with SIGKILL", () => {
  const children: ChildProcess[] = [];
  let dataDir = "";
  afterAll(async () => {
    for (const child of children) child.kill("SIGKILL");
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  async function startServerProcess(port: number): Promise<ChildProcess> {
    const child = spawn(process.execPath, [serverBin], {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        LAUNCH_PORT: String(port),
        LAUNCH_DATA_DIR: dataDir,
        LAUNCH_AUTH: "open",
        LAUNCH_LOG_LEVEL: "warn",
        LAUNCH_TASK_LEASE_SECONDS: "2",
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
    // Let a couple of tasks start, then kill the server outright.
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
});
