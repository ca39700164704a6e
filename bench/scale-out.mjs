// Scale-out benchmark (issue: scale out). Run after `npm run build`, with PostgreSQL and Redis up:
//   node bench/scale-out.mjs [tasks=5000] [clients=64] [cpuTasks=400] [cpuMs=8]
//
// 1. Async throughput end to end on PostgreSQL + Redis: a server process (all roles, LAUNCH_STORE=postgres,
//    LAUNCH_QUEUE=redis, LAUNCH_ORCHESTRATION=external) and one external `launch-worker` running the
//    document's Node model; `clients` clients each submit a task over HTTP and long-poll its result until
//    `tasks` results are in. Next to it, in the same run, raw BullMQ on the same Redis: add the same
//    number of jobs (the same number in flight) and process them with a trivial processor. Prints both
//    and the ratio (target: Launch ≥ 50% of raw BullMQ).
// 2. A CPU-bound model (each predict spins `cpuMs` ms) with `per_worker: 1`: throughput with one external
//    worker process, then with two, and the ratio (a second worker host should raise it).
//
// PostgreSQL: LAUNCH_BENCH_DATABASE_URL or postgres://postgres@127.0.0.1:5432/test (a fresh schema, dropped
// at the end). Redis: LAUNCH_BENCH_REDIS_URL or redis://127.0.0.1:6379 (a fresh key prefix, deleted).
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Queue, QueueEvents, Worker } from "bullmq";
import { Redis } from "ioredis";
import pg from "pg";
import { Agent, request } from "undici";
import { zipFiles } from "../packages/protocol/dist/index.js";
import { auth, call, endpoint, fmt, nodeDocBundle, root, sleep, startServer } from "./lib.mjs";

const TASKS = Number(process.argv[2] ?? 5_000);
const CLIENTS = Number(process.argv[3] ?? 64);
const CPU_TASKS = Number(process.argv[4] ?? 400);
const CPU_MS = Number(process.argv[5] ?? 8);
const DATABASE_URL = process.env.LAUNCH_BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const REDIS_URL = process.env.LAUNCH_BENCH_REDIS_URL ?? "redis://127.0.0.1:6379";
const tag = `${process.pid}_${randomBytes(3).toString("hex")}`;
const schema = `launch_bench_${tag}`;
const prefix = `launch-bench-${tag}`;

// ---- raw BullMQ ---------------------------------------------------------------------------------------
async function rawBullmq(n, inFlight) {
  const connection = { url: REDIS_URL };
  const name = `raw-${tag}`;
  const queue = new Queue(name, { connection, prefix });
  const events = new QueueEvents(name, { connection, prefix });
  await events.waitUntilReady();
  let done = 0;
  let finished;
  const allDone = new Promise((resolve) => {
    finished = resolve;
  });
  const worker = new Worker(name, async (job) => ({ y: job.data.x + 5 }), {
    connection,
    prefix,
    concurrency: inFlight,
  });
  worker.on("completed", () => {
    if (++done === n) finished();
  });
  await worker.waitUntilReady();
  const t0 = performance.now();
  // The same shape as the clients below: `inFlight` producers, each adding a job as the last one is done.
  let next = 0;
  const waiting = new Map();
  events.on("completed", ({ jobId }) => waiting.get(jobId)?.());
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < n) {
        next++;
        const job = await queue.add("predict", { x: 2, y: "hello" }, { removeOnComplete: true });
        await new Promise((resolve) => {
          waiting.set(job.id, resolve);
        });
        waiting.delete(job.id);
      }
    }),
  );
  await allDone;
  const seconds = (performance.now() - t0) / 1000;
  await worker.close();
  await events.close();
  await queue.obliterate({ force: true });
  await queue.close();
  return n / seconds;
}

// ---- Launch on PostgreSQL + Redis ---------------------------------------------------------------------
function startWorker(serverUrl, endpointId, cacheDir) {
  const child = spawn(
    process.execPath,
    [join(root, "packages/worker/dist/bin.js"), "--endpoint", endpointId],
    {
      env: {
        ...process.env,
        LAUNCH_SERVER_URL: serverUrl,
        LAUNCH_API_KEY: "bench",
        LAUNCH_WORKER_CACHE_DIR: cacheDir,
      },
      stdio: ["ignore", "ignore", "inherit"],
    },
  );
  return child;
}

async function waitWorkers(url, endpointId, count) {
  for (;;) {
    const view = await call(url, "GET", `/v1/model-endpoints/${endpointId}`);
    if (view.deployment_state.available_workers >= count) return;
    await sleep(100);
  }
}

async function throughput(url, agent, endpointId, n, clients, args) {
  let next = 0;
  let failures = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < n) {
        next++;
        const submitted = await request(`${url}/v1/async-tasks?model_endpoint_id=${endpointId}`, {
          method: "POST",
          headers: auth,
          body: JSON.stringify({ args }),
          dispatcher: agent,
        });
        const { task_id } = await submitted.body.json();
        const res = await request(`${url}/v1/async-tasks/${task_id}?wait=60`, {
          headers: auth,
          dispatcher: agent,
        });
        const done = await res.body.json();
        if (done.status !== "SUCCESS") failures++;
      }
    }),
  );
  if (failures > 0) console.log(`  (${failures} tasks did not succeed)`);
  return n / ((performance.now() - t0) / 1000);
}

async function cpuBundle(url) {
  const source = `export function loadModel() { return null; }
export function loadPredictFn() {
  return ({ ms }) => { const end = performance.now() + ms; let x = 0; while (performance.now() < end) x++; return x > 0; };
}
`;
  const grant = await call(url, "POST", "/v1/hosted_inference/model_bundle_upload", {});
  await fetch(grant.signedUrl, {
    method: "PUT",
    body: zipFiles([{ path: "model.mjs", data: Buffer.from(source) }]),
  });
  const location = `s3://${grant.bucket}/${grant.key}`;
  const { model_bundle_id } = await call(url, "POST", "/v2/model-bundles", {
    name: "bench-cpu",
    schema_location: location,
    flavor: {
      flavor: "zip_artifact",
      requirements: [],
      framework: { framework_type: "node" },
      location,
      load_model_fn_module_path: "model.mjs#loadModel",
      load_predict_fn_module_path: "model.mjs#loadPredictFn",
      app_config: null,
    },
  });
  return model_bundle_id;
}

const db = new pg.Client({ connectionString: DATABASE_URL });
await db.connect();
await db.query(`create schema ${schema}`);
const databaseUrl = `${DATABASE_URL}${DATABASE_URL.includes("?") ? "&" : "?"}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
const scratch = mkdtempSync(join(tmpdir(), "launch-bench-scale-"));
const workers = [];
let server;
try {
  const raw = await rawBullmq(TASKS, CLIENTS);
  console.log(`raw BullMQ: ${fmt(raw, 0)} jobs/s (${TASKS} jobs, ${CLIENTS} in flight, trivial processor)`);

  server = await startServer({
    LAUNCH_STORE: "postgres",
    LAUNCH_DATABASE_URL: databaseUrl,
    LAUNCH_QUEUE: "redis",
    LAUNCH_REDIS_URL: REDIS_URL,
    LAUNCH_REDIS_PREFIX: prefix,
    LAUNCH_ORCHESTRATION: "external",
  });
  const agent = new Agent({ connections: CLIENTS, keepAliveTimeout: 30_000 });
  const docBundle = await nodeDocBundle(server.url);
  const asyncId = await endpoint(server.url, "bench-async", docBundle, "async", {
    min: 0,
    max: 1,
    perWorker: 256,
  });
  workers.push(startWorker(server.url, asyncId, join(scratch, "w1")));
  await waitWorkers(server.url, asyncId, 1);
  await throughput(server.url, agent, asyncId, Math.min(500, TASKS), CLIENTS, { x: 2, y: "hello" }); // warm-up
  const ours = await throughput(server.url, agent, asyncId, TASKS, CLIENTS, { x: 2, y: "hello" });
  console.log(
    `Launch on PostgreSQL + Redis, end to end (HTTP submit + long poll, one external worker): ${fmt(ours, 0)} tasks/s`,
  );
  console.log(`ratio Launch / raw BullMQ: ${fmt(ours / raw)} (target >= 0.50)`);

  // CPU-bound model: one worker process, then two.
  const cpuId = await endpoint(server.url, "bench-cpu", await cpuBundle(server.url), "async", {
    min: 0,
    max: 2,
    perWorker: 1,
  });
  workers.push(startWorker(server.url, cpuId, join(scratch, "w2")));
  await waitWorkers(server.url, cpuId, 1);
  await throughput(server.url, agent, cpuId, 20, 8, { ms: CPU_MS });
  const one = await throughput(server.url, agent, cpuId, CPU_TASKS, 16, { ms: CPU_MS });
  console.log(`CPU-bound model (${CPU_MS} ms per task), 1 worker process: ${fmt(one, 1)} tasks/s`);
  workers.push(startWorker(server.url, cpuId, join(scratch, "w3")));
  await waitWorkers(server.url, cpuId, 2);
  await throughput(server.url, agent, cpuId, 20, 8, { ms: CPU_MS });
  const two = await throughput(server.url, agent, cpuId, CPU_TASKS, 16, { ms: CPU_MS });
  console.log(
    `CPU-bound model, 2 worker processes: ${fmt(two, 1)} tasks/s, ratio ${fmt(two / one)} (> 1 expected)`,
  );
  await agent.close();
} finally {
  for (const worker of workers) worker.kill("SIGTERM");
  await server?.stop();
  await db.query(`drop schema if exists ${schema} cascade`);
  await db.end();
  const redis = new Redis(REDIS_URL);
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
  rmSync(scratch, { recursive: true, force: true });
}
