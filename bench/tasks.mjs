// Execution benchmark (issue: execution). Run after `npm run build`:
//   node bench/tasks.mjs [asyncTasks=20000] [concurrency=128]
// Prints: idle server RSS; async throughput end to end (first submit to last result) and submit-to-result
// latency at light load, for a trivial Node bundle; sync latency and throughput through the gateway
// against calling the same model's HTTP server directly, measured in the same run, with the ratios; and the
// CPU the server and its workers and models spent per task (from /proc: less noisy than wall time when
// other work shares the machine). `bench/sync-hops.mjs` splits a sync request's cost by hop.
import { spawn } from "node:child_process";
import { Agent, Pool, request } from "undici";
import {
  auth,
  cpuMeter,
  endpoint,
  fixture,
  fmt,
  freePort,
  imageBundle,
  nodeDocBundle,
  rssMiB,
  sleep,
  startServer,
  summary,
} from "./lib.mjs";

const TASKS = Number(process.argv[2] ?? 20_000);
const CONCURRENCY = Number(process.argv[3] ?? 128);

const server = await startServer();
const agent = new Agent({ connections: CONCURRENCY, pipelining: 1, keepAliveTimeout: 30_000 });
const post = async (path, body) => {
  const res = await request(`${server.url}${path}`, {
    method: "POST",
    headers: auth,
    body: JSON.stringify(body),
    dispatcher: agent,
  });
  return res.body.json();
};
const get = async (path) => {
  const res = await request(`${server.url}${path}`, { headers: auth, dispatcher: agent });
  return res.body.json();
};

try {
  await sleep(1000);
  const idleRss = rssMiB(server.pid);
  console.log(`idle server RSS: ${fmt(idleRss, 1)} MiB (target < 150)`);

  // ---- async --------------------------------------------------------------------------------------
  const bundle = await nodeDocBundle(server.url);
  const asyncId = await endpoint(server.url, "bench-async", bundle, "async", {
    min: 1,
    max: 1,
    perWorker: 256,
  });
  const args = { x: 2, y: "hello" };

  // Light load: one task at a time, submit then long-poll its result.
  for (let i = 0; i < 50; i++)
    await get(
      `/v1/async-tasks/${(await post(`/v1/async-tasks?model_endpoint_id=${asyncId}`, { args })).task_id}?wait=10`,
    );
  const light = [];
  for (let i = 0; i < 500; i++) {
    const t0 = performance.now();
    const { task_id } = await post(`/v1/async-tasks?model_endpoint_id=${asyncId}`, { args });
    const done = await get(`/v1/async-tasks/${task_id}?wait=10`);
    light.push(performance.now() - t0);
    if (done.status !== "SUCCESS" || done.result.result !== 7)
      throw new Error(`unexpected ${JSON.stringify(done)}`);
  }
  const lat = summary(light);
  console.log(
    `async submit-to-result at light load: p50 ${fmt(lat.p50, 3)} ms, p99 ${fmt(lat.p99, 3)} ms (target p50 < 5 ms)`,
  );

  // Throughput: CONCURRENCY clients each submit then long-poll, until TASKS results are in.
  let next = 0;
  let failures = 0;
  const asyncCpu = cpuMeter(server.pid);
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < TASKS) {
        next++;
        const { task_id } = await post(`/v1/async-tasks?model_endpoint_id=${asyncId}`, { args });
        const done = await get(`/v1/async-tasks/${task_id}?wait=30`);
        if (done.status !== "SUCCESS") failures++;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `async throughput: ${TASKS} tasks in ${fmt(seconds)} s = ${fmt(TASKS / seconds, 0)} tasks/s end to end (target >= 5000), ${failures} failed`,
  );
  console.log(`async CPU per task: ${asyncCpu.stop(TASKS)}`);
  console.log(`server RSS after async load: ${fmt(rssMiB(server.pid), 1)} MiB`);

  // ---- sync ---------------------------------------------------------------------------------------
  const syncBundle = await imageBundle(server.url, "bench-doc-image", "doc-model-server.mjs");
  const syncId = await endpoint(server.url, "bench-sync", syncBundle, "sync", {
    min: 1,
    max: 1,
    perWorker: 64,
  });
  const directPort = await freePort();
  const direct = spawn(process.execPath, [fixture("doc-model-server.mjs")], {
    env: { ...process.env, PORT: String(directPort) },
    stdio: "ignore",
  });
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${directPort}/readyz`)).ok) break;
    } catch {}
    await sleep(50);
  }
  const directPool = new Pool(`http://127.0.0.1:${directPort}`, { connections: 32 });
  const callDirect = async () => {
    const res = await directPool.request({
      path: "/predict",
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(args),
    });
    return res.body.json();
  };
  const callGateway = () => post(`/v1/sync-tasks?model_endpoint_id=${syncId}`, { args });

  const sequential = async (fn, n) => {
    const samples = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      await fn();
      samples.push(performance.now() - t0);
    }
    return summary(samples);
  };
  const parallel = async (fn, n, c) => {
    let left = n;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: c }, async () => {
        while (left-- > 0) await fn();
      }),
    );
    return n / ((performance.now() - t0) / 1000);
  };
  await sequential(callDirect, 300);
  await sequential(callGateway, 300);
  const d = await sequential(callDirect, 3000);
  const g = await sequential(callGateway, 3000);
  console.log(
    `sync latency p50: direct ${fmt(d.p50, 3)} ms, through Launch ${fmt(g.p50, 3)} ms, added ${fmt(g.p50 - d.p50, 3)} ms (target <= 0.3); p99 direct ${fmt(d.p99, 3)} / Launch ${fmt(g.p99, 3)} ms`,
  );
  const dt = await parallel(callDirect, 20_000, 16);
  const syncCpu = cpuMeter(server.pid);
  const gt = await parallel(callGateway, 20_000, 16);
  const syncCpuLine = syncCpu.stop(20_000);
  console.log(
    `sync throughput (16 clients): direct ${fmt(dt, 0)} req/s, through Launch ${fmt(gt, 0)} req/s, ratio ${fmt(gt / dt)} (target >= 0.70)`,
  );
  console.log(`sync CPU per request through Launch: ${syncCpuLine}`);
  await directPool.close();
  direct.kill();
} finally {
  await agent.close();
  await server.stop();
}
