// Throughput of the Redis task queue adapter (enqueue → lease → complete) against raw BullMQ adding and
// processing the same jobs with a trivial processor, on the same Redis, in the same run. Prints both
// jobs/s figures and the ratio (target: the adapter at 50% of raw BullMQ or better).
//
//   npx tsc -b               # the bench imports the built adapter from packages/server/dist
//   node bench/queue-redis.mjs [tasks=20000] [leaseBatch=64] [workers=4] [redisUrl=redis://127.0.0.1:6379]
//
// Both sides keep 1,000 enqueues in flight (concurrent HTTP submissions, say). The adapter is drained the
// way the controller feeds workers: each of `workers` consumers leases up to `leaseBatch` tasks, completes
// them all, and waits for work when the queue is empty. BullMQ runs one Worker with concurrency
// `workers × leaseBatch` (the same number of tasks in flight) and a processor that returns at once.
// Keys go under a fresh prefix, deleted at the end.
import { randomBytes } from "node:crypto";
import { createRequire } from "node:module";
import { Queue, Worker } from "bullmq";
import { Redis } from "ioredis";
import { RedisTaskQueue } from "../packages/server/dist/queue/redis/redis-queue.js";

const require = createRequire(new URL("../packages/server/package.json", import.meta.url));

const N = Number(process.argv[2] ?? 20_000);
const LEASE_BATCH = Number(process.argv[3] ?? 64);
const WORKERS = Number(process.argv[4] ?? 4);
const REDIS_URL = process.argv[5] ?? "redis://127.0.0.1:6379";
const BURST = 1_000;
const QUEUE = "end_bench";
const payload = { args: { x: 2, y: "hello" }, return_pickled: false, callback_url: null, url: null };
const prefix = `launch-bench:${process.pid}:${randomBytes(4).toString("hex")}`;

const rate = (n, ms) => Math.round((n / ms) * 1000);
const fmt = (n) => n.toLocaleString("en-US");
const now = () => performance.now();
let idNo = 0;
const newTaskId = () => `tsk_bench${String(idNo++).padStart(12, "0")}`;

/** Runs `make(i)` for i in [0, n) with BURST calls in flight. */
async function inBursts(n, make) {
  for (let i = 0; i < n; i += BURST) {
    const burst = [];
    for (let j = i; j < Math.min(n, i + BURST); j++) burst.push(make(j));
    await Promise.all(burst);
  }
}

async function adapter(n, run) {
  const queue = new RedisTaskQueue({
    url: REDIS_URL,
    prefix: `${prefix}:ours${run}`,
    resultRetentionMs: 86_400_000,
  });
  await queue.ready();
  const t0 = now();
  await inBursts(n, () =>
    queue.enqueue({
      id: newTaskId(),
      queue: QUEUE,
      owner: "team_bench",
      createdBy: "user_bench",
      payload,
      maxAttempts: 3,
      expiresAt: null,
    }),
  );
  const t1 = now();
  let done = 0;
  const consumer = async (name) => {
    while (done < n) {
      const tasks = await queue.lease({ queue: QUEUE, workerId: name, max: LEASE_BATCH, leaseMs: 30_000 });
      if (tasks.length === 0) {
        if (done < n) await queue.waitForWork(QUEUE, 50);
        continue;
      }
      const oks = await Promise.all(
        tasks.map((t) => queue.complete(t.id, t.leaseToken, { output: 7, statusCode: 200 })),
      );
      done += oks.filter(Boolean).length;
    }
  };
  await Promise.all(Array.from({ length: WORKERS }, (_, i) => consumer(`w${i}`)));
  const t2 = now();
  await queue.close();
  return { enqueueMs: t1 - t0, drainMs: t2 - t1, totalMs: t2 - t0 };
}

async function bullmq(n, run) {
  const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const name = QUEUE;
  const queue = new Queue(name, { connection, prefix: `${prefix}:bull${run}` });
  const t0 = now();
  await inBursts(n, (i) => queue.add("task", payload, { jobId: `job${run}_${i}` }));
  const t1 = now();
  let done = 0;
  let finished;
  const allDone = new Promise((resolve) => {
    finished = resolve;
  });
  const workerConnection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const worker = new Worker(name, async () => 7, {
    connection: workerConnection,
    prefix: `${prefix}:bull${run}`,
    concurrency: WORKERS * LEASE_BATCH,
    autorun: false,
  });
  worker.on("completed", () => {
    if (++done === n) finished();
  });
  worker.run();
  await allDone;
  const t2 = now();
  await worker.close();
  await queue.close();
  connection.disconnect();
  workerConnection.disconnect();
  return { enqueueMs: t1 - t0, drainMs: t2 - t1, totalMs: t2 - t0 };
}

async function deleteKeys() {
  const redis = new Redis(REDIS_URL);
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== "0");
  redis.disconnect();
}

const info = new Redis(REDIS_URL);
const version = /redis_version:(\S+)/.exec(await info.info("server"))?.[1];
info.disconnect();
console.log(
  `Redis task queue: ${fmt(N)} tasks, ${BURST} enqueues in flight, ${WORKERS} consumers × lease batch ${LEASE_BATCH}`,
);
console.log(
  `node ${process.version}, Redis ${version}, ioredis ${require("ioredis/package.json").version}, ` +
    `bullmq ${require("bullmq/package.json").version}\n`,
);

try {
  // Warm up (JIT, script cache, connections) on a small run of each, then measure; alternate the order.
  await adapter(Math.min(2_000, N), 0);
  await bullmq(Math.min(2_000, N), 0);
  const ours = await adapter(N, 1);
  const raw = await bullmq(N, 1);
  const row = (label, a, b) =>
    console.log(
      `${label.padEnd(30)} adapter ${fmt(a).padStart(8)} /s   raw BullMQ ${fmt(b).padStart(8)} /s   ratio ${(a / b).toFixed(2)}`,
    );
  row("enqueue (add)", rate(N, ours.enqueueMs), rate(N, raw.enqueueMs));
  row("lease + complete (process)", rate(N, ours.drainMs), rate(N, raw.drainMs));
  row("end to end", rate(N, ours.totalMs), rate(N, raw.totalMs));
} finally {
  await deleteKeys();
}
