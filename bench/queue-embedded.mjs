// Throughput of the embedded task queue (enqueue → lease → complete) against raw better-sqlite3 doing the
// same row writes on the same schema, in the same run. Prints both figures and the ratio.
//
//   npm run build            # the bench imports the built adapter from packages/server/dist
//   node bench/queue-embedded.mjs [tasks=100000] [leaseBatch=64] [workers=8]
//
// Plain ESM JavaScript on purpose: Node 20 cannot run TypeScript and no TS runner is installed.
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EmbeddedTaskQueue } from "../packages/server/dist/queue/embedded/embedded-queue.js";
import { MIGRATIONS } from "../packages/server/dist/queue/embedded/migrations.js";

const require = createRequire(new URL("../packages/server/package.json", import.meta.url));
const Database = require("better-sqlite3");

const N = Number(process.argv[2] ?? 100_000);
const LEASE_BATCH = Number(process.argv[3] ?? 64);
const WORKERS = Number(process.argv[4] ?? 8);
const BURST = 1_000; // enqueues in flight at once (concurrent HTTP requests, say)
const QUEUE = "end_bench";
const payload = { args: { x: 2, y: "hello" }, return_pickled: false, callback_url: null, url: null };
const dir = mkdtempSync(join(tmpdir(), "launch-bench-queue-"));
let fileNo = 0;
const freshFile = () => join(dir, `q${fileNo++}.db`);
let idNo = 0;
const newTaskId = () => `tsk_bench${String(idNo++).padStart(12, "0")}`;

const rate = (n, ms) => Math.round((n / ms) * 1000);
const fmt = (n) => n.toLocaleString("en-US");
const now = () => performance.now();
/** CPU time (user + system) in ms since `from` (a `process.cpuUsage()`), which load on the machine skews less. */
const cpuMs = (from) => {
  const used = process.cpuUsage(from);
  return (used.user + used.system) / 1000;
};

async function openQueue() {
  const queue = new EmbeddedTaskQueue({ file: freshFile(), resultRetentionMs: 86_400_000 });
  await queue.ready();
  return queue;
}

const newTask = () => ({
  id: newTaskId(),
  queue: QUEUE,
  owner: "team_bench",
  createdBy: "user_bench",
  payload,
  maxAttempts: 3,
  expiresAt: null,
});

/** Phase by phase: enqueue everything (BURST in flight), then drain with lease + complete. */
async function adapterPhases() {
  const queue = await openQueue();
  const c0 = process.cpuUsage();
  const t0 = now();
  for (let i = 0; i < N; i += BURST) {
    const burst = [];
    for (let j = i; j < Math.min(N, i + BURST); j++) burst.push(queue.enqueue(newTask()));
    await Promise.all(burst);
  }
  const t1 = now();
  const enqueueCpu = cpuMs(c0);
  const c1 = process.cpuUsage();
  let done = 0;
  while (done < N) {
    const tasks = await queue.lease({ queue: QUEUE, workerId: "w1", max: LEASE_BATCH, leaseMs: 30_000 });
    const oks = await Promise.all(
      tasks.map((t) => queue.complete(t.id, t.leaseToken, { output: 7, statusCode: 200 })),
    );
    done += oks.filter(Boolean).length;
  }
  const t2 = now();
  const drainCpu = cpuMs(c1);
  await queue.close();
  return { enqueueMs: t1 - t0, drainMs: t2 - t1, totalMs: t2 - t0, enqueueCpu, drainCpu };
}

/** Steady state: a producer enqueues while WORKERS consumers lease, complete, and wait for work. */
async function adapterPipelined() {
  const queue = await openQueue();
  let done = 0;
  const c0 = process.cpuUsage();
  const t0 = now();
  const producer = (async () => {
    for (let i = 0; i < N; i += BURST) {
      const burst = [];
      for (let j = i; j < Math.min(N, i + BURST); j++) burst.push(queue.enqueue(newTask()));
      await Promise.all(burst);
    }
  })();
  const worker = async (name) => {
    while (done < N) {
      const tasks = await queue.lease({ queue: QUEUE, workerId: name, max: LEASE_BATCH, leaseMs: 30_000 });
      if (tasks.length === 0) {
        await queue.waitForWork(QUEUE, 50);
        continue;
      }
      const oks = await Promise.all(
        tasks.map((t) => queue.complete(t.id, t.leaseToken, { output: 7, statusCode: 200 })),
      );
      done += oks.filter(Boolean).length;
    }
  };
  await Promise.all([producer, ...Array.from({ length: WORKERS }, (_, i) => worker(`w${i}`))]);
  const ms = now() - t0;
  const cpu = cpuMs(c0);
  await queue.close();
  return { ms, cpu };
}

/** One caller, awaiting each call: the latency of a lone write (one commit each). */
async function adapterSequential(n) {
  const queue = await openQueue();
  const t0 = now();
  for (let i = 0; i < n; i++) await queue.enqueue(newTask());
  const t1 = now();
  for (let i = 0; i < n; i++) {
    const [t] = await queue.lease({ queue: QUEUE, workerId: "w1", max: 1, leaseMs: 30_000 });
    await queue.complete(t.id, t.leaseToken, { output: 7, statusCode: 200 });
  }
  const t2 = now();
  await queue.close();
  return { enqueueUs: ((t1 - t0) * 1000) / n, leaseCompleteUs: ((t2 - t1) * 1000) / n };
}

/** Reads and housekeeping on a deep queue. */
async function adapterDeepQueue() {
  const queue = await openQueue();
  const burst = [];
  for (let i = 0; i < N; i++) burst.push(queue.enqueue(newTask()));
  await Promise.all(burst);
  const time = (fn, reps) => async () => {
    const t0 = now();
    for (let i = 0; i < reps; i++) await fn();
    return ((now() - t0) * 1000) / reps;
  };
  const counts = await time(() => queue.counts(QUEUE), 50)();
  const depths = await time(() => queue.depths(), 50)();
  const lease = await time(async () => {
    const [t] = await queue.lease({ queue: QUEUE, workerId: "w", max: 1, leaseMs: 30_000 });
    await queue.complete(t.id, t.leaseToken, { output: 7, statusCode: 200 });
  }, 1_000)();
  const sweepIdle = await time(() => queue.sweep(), 50)();
  const t0 = now();
  const report = await queue.sweep(Date.now() + 2 * 86_400_000); // purges the 1,000 finished tasks
  const sweepPurge = now() - t0;
  await queue.close();
  return { counts, depths, lease, sweepIdle, sweepPurge, purged: report.purged };
}

/** Raw better-sqlite3: the same rows, schema and transaction sizes, without the adapter. */
function baseline() {
  const db = new Database(freshFile());
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  for (const m of MIGRATIONS) db.exec(m.sql);
  const insert = db.prepare(
    `INSERT INTO tasks (id, queue, owner, created_by, status, payload, max_attempts, created_at, expires_at)
     VALUES (?, ?, ?, ?, 'PENDING', ?, ?, ?, ?)`,
  );
  const select = db.prepare(
    `SELECT seq, id, payload FROM tasks INDEXED BY tasks_pending WHERE queue = ? AND status = 'PENDING' ORDER BY seq LIMIT ?`,
  );
  const start = db.prepare(
    `UPDATE tasks SET status = 'STARTED', attempts = attempts + 1, lease_token = ?, lease_expires_at = ?, worker_id = ?, started_at = ? WHERE seq = ?`,
  );
  const finish = db.prepare(
    `UPDATE tasks SET status = 'SUCCESS', finished_at = ?, output = ?, status_code = 200, lease_token = NULL, lease_expires_at = NULL WHERE id = ? AND lease_token = ?`,
  );
  // The same work the adapter must do: serialize each payload and output, parse each payload on lease.
  const c0 = process.cpuUsage();
  const t0 = now();
  const insertBurst = db.transaction((from, to) => {
    for (let i = from; i < to; i++) {
      insert.run(
        newTaskId(),
        QUEUE,
        "team_bench",
        "user_bench",
        JSON.stringify(payload),
        3,
        Date.now(),
        null,
      );
    }
  });
  for (let i = 0; i < N; i += BURST) insertBurst.immediate(i, Math.min(N, i + BURST));
  const t1 = now();
  const enqueueCpu = cpuMs(c0);
  const c1 = process.cpuUsage();
  const leaseBatch = db.transaction(() => {
    const rows = select.all(QUEUE, LEASE_BATCH);
    const leased = [];
    for (const row of rows) {
      const token = randomUUID();
      start.run(token, Date.now() + 30_000, "w1", Date.now(), row.seq);
      leased.push({ id: row.id, token, payload: JSON.parse(row.payload) });
    }
    return leased;
  });
  const completeBatch = db.transaction((leased) => {
    for (const l of leased) finish.run(Date.now(), JSON.stringify(7), l.id, l.token);
  });
  let done = 0;
  while (done < N) {
    const leased = leaseBatch.immediate();
    completeBatch.immediate(leased);
    done += leased.length;
  }
  const t2 = now();
  const drainCpu = cpuMs(c1);
  db.close();
  return { enqueueMs: t1 - t0, drainMs: t2 - t1, totalMs: t2 - t0, enqueueCpu, drainCpu };
}

console.log(`embedded task queue: ${fmt(N)} tasks, lease batch ${LEASE_BATCH}, ${BURST} enqueues in flight`);
console.log(`node ${process.version}, better-sqlite3 ${require("better-sqlite3/package.json").version}\n`);

// Warm up the JIT and the page cache on a small run first.
{
  const saved = N;
  await adapterSequential(Math.min(2_000, saved));
}

const raw = baseline();
const phases = await adapterPhases();
const pipelined = await adapterPipelined();
const sequential = await adapterSequential(5_000);
const deep = await adapterDeepQueue();

const us = (ms) => (ms * 1000) / N;
const row = (label, a, b, cpuA, cpuB) =>
  console.log(
    `${label.padEnd(34)} adapter ${fmt(a).padStart(9)} /s   raw SQLite ${fmt(b).padStart(9)} /s   ratio ${(a / b).toFixed(2)}` +
      `   | CPU per task ${us(cpuA).toFixed(1)} µs vs ${us(cpuB).toFixed(1)} µs`,
  );
row("enqueue", rate(N, phases.enqueueMs), rate(N, raw.enqueueMs), phases.enqueueCpu, raw.enqueueCpu);
row("lease + complete", rate(N, phases.drainMs), rate(N, raw.drainMs), phases.drainCpu, raw.drainCpu);
row(
  "end to end (enqueue, then drain)",
  rate(N, phases.totalMs),
  rate(N, raw.totalMs),
  phases.enqueueCpu + phases.drainCpu,
  raw.enqueueCpu + raw.drainCpu,
);
console.log(
  `${"end to end, pipelined".padEnd(34)} adapter ${fmt(rate(N, pipelined.ms)).padStart(9)} /s` +
    `   (1 producer, ${WORKERS} workers using waitForWork; CPU per task ${us(pipelined.cpu).toFixed(1)} µs)`,
);
console.log(
  `\none caller awaiting each call:      enqueue ${sequential.enqueueUs.toFixed(1)} µs, lease + complete ${sequential.leaseCompleteUs.toFixed(1)} µs`,
);
console.log(
  `with ${fmt(N)} queued:  counts ${deep.counts.toFixed(1)} µs, depths ${deep.depths.toFixed(1)} µs, ` +
    `lease+complete ${deep.lease.toFixed(1)} µs, idle sweep ${deep.sweepIdle.toFixed(1)} µs, ` +
    `sweep purging ${fmt(deep.purged)} finished ${deep.sweepPurge.toFixed(1)} ms`,
);

rmSync(dir, { recursive: true, force: true });
