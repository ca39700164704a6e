// Sync hop costs (issue: execution). Run after `npx tsc -b`: node bench/sync-hops.mjs [requests=10000]
// Calls one sync endpoint's model server directly, its worker's HTTP port, and the gateway, and prints
// per hop: sequential latency (p50, p99), throughput with 16 clients, and the CPU each process spent per
// request (from /proc; less noisy than wall time on a shared machine).
import { Pool } from "undici";
import { auth, call, childPids, cpuUs, endpoint, fmt, imageBundle, startServer, summary } from "./lib.mjs";

const N = Number(process.argv[2] ?? 10_000);

const server = await startServer();
try {
  const b = await imageBundle(server.url, "hops", "doc-model-server.mjs");
  const id = await endpoint(server.url, "hops", b, "sync", { perWorker: 64 });
  const text = JSON.stringify(await call(server.url, "GET", `/v1/model-endpoints/${id}/logs`));
  const workerPort = /ready on http:\/\/127\.0\.0\.1:(\d+)/.exec(text)[1];
  const modelPort = /model server is ready on port (\d+)/.exec(text)[1];
  const workerPid = childPids(server.pid)[0];
  const modelPid = workerPid && childPids(workerPid)[0];
  const pids = { gateway: server.pid, worker: workerPid, model: modelPid };
  const args = { x: 2, y: "hello" };
  const caller = (port, path, body) => {
    const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 32 });
    const payload = JSON.stringify(body);
    return async () => {
      const r = await pool.request({ path, method: "POST", headers: auth, body: payload });
      return r.body.text();
    };
  };
  const hops = {
    model: caller(modelPort, "/predict", args),
    worker: caller(workerPort, "/predict", { args }),
    gateway: caller(new URL(server.url).port, `/v1/sync-tasks?model_endpoint_id=${id}`, { args }),
  };
  for (const [name, fn] of Object.entries(hops)) {
    for (let i = 0; i < 300; i++) await fn();
    const samples = [];
    for (let i = 0; i < 2000; i++) {
      const t = performance.now();
      await fn();
      samples.push(performance.now() - t);
    }
    const s = summary(samples);
    const before = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, pid ? cpuUs(pid) : 0]));
    let left = N;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (left-- > 0) await fn();
      }),
    );
    const rps = N / ((performance.now() - t0) / 1000);
    const cpu = Object.entries(pids)
      .map(([k, pid]) => `${k} ${fmt(pid ? (cpuUs(pid) - before[k]) / N : 0, 0)}`)
      .join(", ");
    console.log(
      `${name.padEnd(8)} p50 ${fmt(s.p50, 3)} ms, p99 ${fmt(s.p99, 3)} ms, ${fmt(rps, 0)} req/s (16 clients); CPU µs/request: ${cpu}`,
    );
  }
} finally {
  await server.stop();
}
