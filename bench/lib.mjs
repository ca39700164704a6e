// Shared helpers for the benchmarks: start a built server as a child process, make bundles, measure.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { zipFiles } from "../packages/protocol/dist/index.js";

export const root = fileURLToPath(new URL("..", import.meta.url));
export const fixture = (name) => join(root, "packages/worker/fixtures", name);

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

/** Starts `launch serve` (built) on a temp data dir in open auth mode; resolves when it answers. */
export async function startServer(env = {}) {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), "launch-bench-"));
  const child = spawn(
    process.execPath,
    [
      join(root, "packages/cli/dist/bin.js"),
      "serve",
      "--port",
      String(port),
      "--data-dir",
      dataDir,
      "--auth",
      "open",
    ],
    { env: { ...process.env, LAUNCH_LOG_LEVEL: "warn", ...env }, stdio: ["ignore", "ignore", "inherit"] },
  );
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) break;
    } catch {}
    await sleep(50);
  }
  return {
    url,
    pid: child.pid,
    async stop() {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const auth = {
  authorization: `Basic ${Buffer.from("bench:").toString("base64")}`,
  "content-type": "application/json",
};

export async function call(url, method, path, body) {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: auth,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

export async function nodeDocBundle(url, name = "bench-node") {
  const grant = await call(url, "POST", "/v1/hosted_inference/model_bundle_upload", {});
  const zip = zipFiles([{ path: "model.mjs", data: readFileSync(fixture("doc-model/model.mjs")) }]);
  await fetch(grant.signedUrl, { method: "PUT", body: zip });
  const location = `s3://${grant.bucket}/${grant.key}`;
  const { model_bundle_id } = await call(url, "POST", "/v2/model-bundles", {
    name,
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

export async function imageBundle(url, name, program) {
  const { model_bundle_id } = await call(url, "POST", "/v2/model-bundles", {
    name,
    schema_location: "s3://launch/none",
    flavor: {
      flavor: "runnable_image",
      repository: "local",
      tag: "bench",
      command: [process.execPath, fixture(program)],
    },
  });
  return model_bundle_id;
}

export async function endpoint(url, name, bundleId, type, { min = 1, max = 1, perWorker = 64 } = {}) {
  const { endpoint_creation_task_id: id } = await call(url, "POST", "/v1/model-endpoints", {
    name,
    model_bundle_id: bundleId,
    endpoint_type: type,
    metadata: {},
    cpus: 1,
    gpus: 0,
    memory: "2Gi",
    storage: "1Gi",
    min_workers: min,
    max_workers: max,
    per_worker: perWorker,
    labels: {},
  });
  for (;;) {
    const view = await call(url, "GET", `/v1/model-endpoints/${id}`);
    if (view.status === "READY" && view.deployment_state.available_workers >= min) return id;
    if (view.status === "UPDATE_FAILED") throw new Error(`endpoint ${name} failed: ${view.status_reason}`);
    await sleep(50);
  }
}

export function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export function summary(samplesMs) {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), n: sorted.length };
}

export function rssMiB(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

export const fmt = (n, d = 2) => (typeof n === "number" ? n.toFixed(d) : String(n));

const TICK_US = 1e6 / 100; // USER_HZ

/** CPU time (user + system) a process has used so far, in microseconds. */
export function cpuUs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) * TICK_US;
}

/** The pids of a process's children. */
export function childPids(pid) {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8")
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/**
 * CPU used by the server and by all its descendants (workers, model programs) from now until `stop()`,
 * per item: less noisy than wall time on a shared machine.
 */
export function cpuMeter(serverPid) {
  const all = () => {
    const out = [];
    const walk = (pid) => {
      out.push(pid);
      for (const child of childPids(pid)) walk(child);
    };
    walk(serverPid);
    return out;
  };
  const read = () => {
    let server = 0;
    let others = 0;
    for (const pid of all()) {
      try {
        if (pid === serverPid) server += cpuUs(pid);
        else others += cpuUs(pid);
      } catch {}
    }
    return { server, others };
  };
  const start = read();
  return {
    /** `server µs/item, workers+models µs/item` for `items` items. */
    stop(items) {
      const end = read();
      return `server ${fmt((end.server - start.server) / items, 0)} µs, workers+models ${fmt((end.others - start.others) / items, 0)} µs`;
    },
  };
}
