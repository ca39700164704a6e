// Callback benchmark (issue: callbacks). Run after `npm run build`:
//   node bench/callbacks.mjs [deliveries=10000] [concurrency=64]
// 1. Deliveries per second from the dispatcher (embedded outbox, signing, the full attempt log) to a
//    local keep-alive receiver, against a bare undici loop POSTing the same bodies to the same receiver
//    with the same concurrency, measured in the same run (baseline, dispatcher, baseline again). Also the
//    CPU time this process spent per delivery on each side: steadier than the rates on a shared machine,
//    and it says where the gap is (the receiver, in its own process, is the same for both).
// 2. Submit-to-callback-received latency at light load: a real server, a Node bundle, one task at a time.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Pool } from "undici";
import { newId } from "../packages/protocol/dist/index.js";
import { CallbackDispatcher } from "../packages/server/dist/callbacks/dispatcher.js";
import { SecretsBox } from "../packages/server/dist/domain/secrets-box.js";
import { EmbeddedTaskQueue } from "../packages/server/dist/queue/embedded/embedded-queue.js";
import { auth, call, endpoint, fmt, nodeDocBundle, sleep, startServer, summary } from "./lib.mjs";

const N = Number(process.argv[2] ?? 10_000);
const CONCURRENCY = Number(process.argv[3] ?? 64);

// ---- the receiver, in its own process so both sides of the comparison share it equally -------------
const receiverSource = `
  const { createServer } = require("node:http");
  let count = 0;
  const server = createServer((req, res) => { req.resume(); req.on("end", () => { count++; res.writeHead(204).end(); }); });
  server.keepAliveTimeout = 60000;
  server.listen(0, "127.0.0.1", () => process.send({ port: server.address().port }));
  process.on("message", (m) => { if (m === "count") process.send({ count }); });
`;
const dir = mkdtempSync(join(tmpdir(), "launch-bench-callbacks-"));
const receiver = spawn(process.execPath, ["-e", receiverSource], {
  stdio: ["inherit", "inherit", "inherit", "ipc"],
});
const receiverPort = await new Promise((resolve) => receiver.once("message", (m) => resolve(m.port)));
const receiverUrl = `http://127.0.0.1:${receiverPort}/hook`;
const body = JSON.stringify({ task_id: "tsk_bench", result: 7 });

/** CPU microseconds this process spent per delivery since `since` (a `process.cpuUsage()`). */
const cpuPerDelivery = (since) => {
  const { user, system } = process.cpuUsage(since);
  return (user + system) / N;
};

async function bareLoop() {
  const pool = new Pool(`http://127.0.0.1:${receiverPort}`, { connections: CONCURRENCY });
  let left = N;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (left-- > 0) {
        const res = await pool.request({
          path: "/hook",
          method: "POST",
          headers: { "content-type": "application/json" },
          body,
        });
        await res.body.dump();
        if (res.statusCode !== 204) throw new Error(`receiver answered ${res.statusCode}`);
      }
    }),
  );
  const rate = N / ((performance.now() - t0) / 1000);
  const cpuUs = cpuPerDelivery(cpu0);
  await pool.close();
  return { rate, cpuUs };
}

async function dispatcherRun(round) {
  const queue = new EmbeddedTaskQueue({
    file: join(dir, `queue-${round}.db`),
    resultRetentionMs: 86_400_000,
  });
  await queue.ready();
  const secrets = new SecretsBox(Buffer.alloc(32, 7));
  const secret = `whsec_${Buffer.alloc(32, 9).toString("base64")}`;
  const now = Date.now();
  await Promise.all(
    Array.from({ length: N }, () =>
      queue.addDelivery({
        id: newId("delivery"),
        taskId: null,
        endpointId: "end_bench",
        owner: "bench",
        event: "succeeded",
        url: receiverUrl,
        auth: null,
        body,
        status: "pending",
        createdAt: now,
      }),
    ),
  );
  const dispatcher = new CallbackDispatcher({
    outbox: queue,
    secrets,
    signingKeys: { secretsFor: async () => [secret] },
    concurrency: CONCURRENCY,
    perOriginConcurrency: CONCURRENCY,
  });
  // The run ends when the N-th final attempt has been recorded (committed). Counted here rather than by
  // polling `listDeliveries` every few ms, which put extra queries on the dispatcher's thread and added
  // up to one poll interval to the measured time (the bare loop has neither).
  let finished = 0;
  let allFinished;
  const done = new Promise((resolve) => {
    allFinished = resolve;
  });
  const recordAttempt = queue.recordAttempt.bind(queue);
  queue.recordAttempt = async (deliveryId, claimToken, attempt) => {
    const recorded = await recordAttempt(deliveryId, claimToken, attempt);
    if (recorded && attempt.outcome !== "retry" && ++finished === N) allFinished();
    return recorded;
  };
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  dispatcher.start();
  await done;
  const rate = N / ((performance.now() - t0) / 1000);
  const cpuUs = cpuPerDelivery(cpu0);
  await dispatcher.stop();
  const pending = await queue.listDeliveries({ endpointId: "end_bench", status: "pending", limit: 1 });
  if (pending.length > 0) throw new Error("a delivery is still pending");
  const failed = await queue.listDeliveries({ endpointId: "end_bench", status: "failed", limit: 1 });
  if (failed.length > 0) throw new Error(`a delivery failed: ${failed[0].lastError}`);
  await queue.close();
  return { rate, cpuUs };
}

try {
  await bareLoop(); // warm-up of the receiver and this process
  // Warm-up of the dispatcher's own code (JIT) and SQLite, as the bare loop gets one: without it the first
  // measured dispatcher run paid for compilation that the bare loop's first measured run did not.
  await dispatcherRun(0);
  const bare1 = await bareLoop();
  const disp1 = await dispatcherRun(1);
  const bare2 = await bareLoop();
  const disp2 = await dispatcherRun(2);
  const bare = (bare1.rate + bare2.rate) / 2;
  const disp = (disp1.rate + disp2.rate) / 2;
  console.log(
    `bare undici loop: ${fmt(bare1.rate, 0)} / ${fmt(bare2.rate, 0)} deliveries/s (${N}, ${CONCURRENCY} at once); ` +
      `CPU ${fmt(bare1.cpuUs, 1)} / ${fmt(bare2.cpuUs, 1)} µs per delivery`,
  );
  console.log(
    `dispatcher:       ${fmt(disp1.rate, 0)} / ${fmt(disp2.rate, 0)} deliveries/s (durable outbox, signed, every attempt logged); ` +
      `CPU ${fmt(disp1.cpuUs, 1)} / ${fmt(disp2.cpuUs, 1)} µs per delivery`,
  );
  console.log(`ratio dispatcher / bare: ${fmt(disp / bare)} (target >= 0.80)`);

  // ---- submit to callback received ----------------------------------------------------------------
  const arrivals = new Map();
  const waiters = new Map();
  const local = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const { task_id } = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      arrivals.set(task_id, performance.now());
      waiters.get(task_id)?.();
      res.writeHead(204).end();
    });
  });
  await new Promise((r) => local.listen(0, "127.0.0.1", r));
  const server = await startServer();
  try {
    const bundle = await nodeDocBundle(server.url);
    const id = await endpoint(server.url, "bench-callbacks", bundle, "async", { perWorker: 16 });
    await call(server.url, "PUT", `/v1/model-endpoints/${id}`, {
      post_inference_hooks: ["callback"],
      default_callback_url: `http://127.0.0.1:${local.address().port}/hook`,
    });
    for (;;) {
      const view = await call(server.url, "GET", `/v1/model-endpoints/${id}`);
      if (view.status === "READY" && view.deployment_state.available_workers > 0) break;
      await sleep(20);
    }
    const samples = [];
    for (let i = 0; i < 350; i++) {
      const t0 = performance.now();
      const res = await fetch(`${server.url}/v1/async-tasks?model_endpoint_id=${id}`, {
        method: "POST",
        headers: auth,
        body: JSON.stringify({ args: { x: 2, y: "hello" } }),
      });
      const { task_id } = await res.json();
      if (!arrivals.has(task_id)) await new Promise((r) => waiters.set(task_id, r));
      if (i >= 50) samples.push(arrivals.get(task_id) - t0);
    }
    const s = summary(samples);
    console.log(
      `submit-to-callback-received at light load: p50 ${fmt(s.p50, 3)} ms, p99 ${fmt(s.p99, 3)} ms (target p50 < 5 ms)`,
    );
  } finally {
    await server.stop();
    local.close();
  }
} finally {
  receiver.kill();
  rmSync(dir, { recursive: true, force: true });
}
