/**
 * External workers against a gateway peer: a small in-memory implementation of the external worker API
 * (`/v1/workers/*`, `/v1/artifacts/*`) on real `node:http` servers, sharing one state as stateless
 * gateways share the queue. The workers are real: the doc-model Node bundle (downloaded as a zip) and
 * runnable-image fixtures, run in process by `runExternalWorker` or as the built `launch-worker` bin.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BundleV2, TaskOutcome } from "@launch/protocol";
import { zipFiles } from "@launch/protocol";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { fixturePath } from "../fixtures.js";
import { type ExternalWorkerOptions, type ExternalWorkerRun, runExternalWorker } from "./external-worker.js";
import { workerBinPath } from "./fork.js";
import { advertisedUrl } from "./http-channel.js";
import { imageFlavor, memoryLog, nodeFlavor, testBundle } from "./testing.js";

const API_KEY = "lk_test_secret_key_0123456789";
const ENDPOINT = "end_ext";

type Json = Record<string, unknown>;

interface FakeTask {
  id: string;
  args: unknown;
  state: "queued" | "leased" | "done";
  token?: string;
  leases: number;
  outcome?: TaskOutcome;
  done: (outcome: TaskOutcome) => void;
}

interface Logged {
  server: number;
  method: string;
  path: string;
  status: number;
}

/** The gateways' side of the external worker API, in memory. */
class FakeGateway {
  readonly urls: string[] = [];
  readonly requests: Logged[] = [];
  readonly registrations: Json[] = [];
  readonly heartbeats: { workerId: string; body: Json }[] = [];
  readonly startFailures: Json[] = [];
  readonly deleted: string[] = [];
  readonly workers = new Map<string, Json>();
  readonly artifacts = new Map<string, Uint8Array>();
  artifactDownloads = 0;
  /** The answer to the bootstrap (`status` other than 200 answers that status). */
  bootstrap: { status: number; body: Json };
  private readonly servers: Server[] = [];
  private readonly tasks = new Map<string, FakeTask>();
  private readonly queue: FakeTask[] = [];
  private waiters: (() => void)[] = [];
  private failures: { method: string; path: RegExp; status: number }[] = [];
  private workerCount = 0;
  private tokenCount = 0;

  constructor(bundle: BundleV2, artifact: Uint8Array | null, extra: Json = {}) {
    if (artifact) this.artifacts.set("launch/bundles/ml/model.zip", artifact);
    this.bootstrap = {
      status: 200,
      body: {
        endpoint_id: ENDPOINT,
        endpoint_type: "async",
        bundle,
        artifact: artifact ? { bucket: "launch", key: "bundles/ml/model.zip" } : null,
        concurrency: 2,
        lease_seconds: 30,
        heartbeat_seconds: 5,
        ...extra,
      },
    };
  }

  /** Starts `count` gateways on the same state. */
  async listen(count = 1): Promise<this> {
    for (let i = 0; i < count; i++) {
      const server = createServer((req, res) => {
        this.handle(i, req, res).catch((error: unknown) => {
          res.writeHead(500).end(JSON.stringify({ detail: String(error) }));
        });
      });
      server.listen(0, "127.0.0.1");
      await once(server, "listening");
      this.servers.push(server);
      this.urls.push(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    }
    return this;
  }

  /** Takes gateway `i` down, cutting its connections (a long poll in flight included). */
  async stop(i: number): Promise<void> {
    const server = this.servers[i]!;
    const closed = new Promise((resolve) => server.close(resolve));
    server.closeAllConnections();
    await closed;
  }

  async close(): Promise<void> {
    for (const wake of this.waiters.splice(0)) wake();
    await Promise.all(
      this.servers.map((server) => (server.listening ? this.stop(this.servers.indexOf(server)) : null)),
    );
  }

  /** The next request matching `method` and `path` answers `status` (once). */
  failNext(method: string, path: RegExp, status: number): void {
    this.failures.push({ method, path, status });
  }

  /** Forgets a worker, as the server does when it prunes one that missed its heartbeats. */
  forget(workerId: string): void {
    this.workers.delete(workerId);
  }

  /** Queues a task; resolves with the outcome a worker reports for it. */
  enqueue(id: string, args: unknown): Promise<TaskOutcome> {
    return new Promise((resolve) => {
      const task: FakeTask = { id, args, state: "queued", leases: 0, done: resolve };
      this.tasks.set(id, task);
      this.queue.push(task);
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  task(id: string): FakeTask | undefined {
    return this.tasks.get(id);
  }

  count(method: string, path: RegExp, status?: number): number {
    return this.requests.filter(
      (r) => r.method === method && path.test(r.path) && (status === undefined || r.status === status),
    ).length;
  }

  private async handle(server: number, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://gateway");
    const path = url.pathname;
    const method = req.method ?? "GET";
    // The client went away (or its connection was cut) before the answer was written.
    let closedEarly = false;
    res.once("close", () => {
      closedEarly = !res.writableFinished;
    });
    const gone = () => closedEarly || !res.socket || res.socket.destroyed;
    const reply = (status: number, body: unknown) => {
      this.requests.push({ server, method, path, status });
      if (gone()) return;
      res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
    };
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = (chunks.length > 0 ? JSON.parse(Buffer.concat(chunks).toString("utf8")) : {}) as Json;

    if (req.headers.authorization !== `Basic ${Buffer.from(`${API_KEY}:`).toString("base64")}`) {
      return reply(401, { detail: "Invalid API key.", code: "unauthorized" });
    }
    const failure = this.failures.find((f) => f.method === method && f.path.test(path));
    if (failure) {
      this.failures.splice(this.failures.indexOf(failure), 1);
      return reply(failure.status, { detail: "injected failure", code: "internal" });
    }
    const artifact = /^\/v1\/artifacts\/([^/]+)\/(.+)$/.exec(path);
    if (method === "GET" && artifact) {
      const bytes = this.artifacts.get(
        `${decodeURIComponent(artifact[1]!)}/${decodeURIComponent(artifact[2]!)}`,
      );
      if (!bytes) return reply(404, { detail: "Not found", code: "not_found" });
      this.artifactDownloads += 1;
      this.requests.push({ server, method, path, status: 200 });
      res.writeHead(200, { "content-type": "application/octet-stream" }).end(bytes);
      return;
    }
    if (method === "GET" && path === "/v1/workers/bootstrap") {
      if (url.searchParams.get("endpoint_id") !== ENDPOINT) {
        return reply(404, { detail: "Endpoint not found", code: "not_found" });
      }
      return reply(this.bootstrap.status, this.bootstrap.body);
    }
    if (method === "POST" && path === "/v1/workers/start-failed") {
      this.startFailures.push(body);
      return reply(200, { recorded: true });
    }
    if (method === "POST" && path === "/v1/workers") {
      this.workerCount += 1;
      const workerId = `wrk_${this.workerCount}`;
      this.workers.set(workerId, body);
      this.registrations.push({ ...body, worker_id: workerId });
      return reply(200, { worker_id: workerId });
    }
    const match = /^\/v1\/workers\/([^/]+)(?:\/(lease|results|release|heartbeat))?$/.exec(path);
    if (!match) return reply(404, { detail: `Not Found: ${method} ${path}`, code: "not_found" });
    const workerId = decodeURIComponent(match[1]!);
    const action = match[2];
    if (!this.workers.has(workerId)) return reply(404, { detail: "Unknown worker", code: "not_found" });
    if (method === "DELETE" && action === undefined) {
      this.workers.delete(workerId);
      this.deleted.push(workerId);
      return reply(200, { deleted: true });
    }
    if (method !== "POST") return reply(405, { detail: "Method not allowed", code: "bad_request" });
    switch (action) {
      case "lease": {
        const max = body.max as number;
        const deadline = Date.now() + (body.wait_seconds as number) * 1000;
        while (this.queue.length === 0 && Date.now() < deadline && !gone()) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, deadline - Date.now());
            this.waiters.push(() => {
              clearTimeout(timer);
              resolve();
            });
            res.once("close", resolve);
          });
        }
        // A client that went away gets nothing leased (else its tasks would wait for lease expiry).
        if (gone()) return reply(499, {});
        // A worker pruned while it waited is told so.
        if (!this.workers.has(workerId)) return reply(404, { detail: "Unknown worker", code: "not_found" });
        const tasks = this.queue.splice(0, max).map((task) => {
          this.tokenCount += 1;
          task.state = "leased";
          task.token = `tok_${this.tokenCount}`;
          task.leases += 1;
          return { id: task.id, token: task.token, args: task.args, attempt: task.leases };
        });
        return reply(200, { tasks });
      }
      case "results": {
        let recorded = 0;
        for (const item of body.items as { id: string; token: string; outcome: TaskOutcome }[]) {
          const task = this.tasks.get(item.id);
          if (task?.state !== "leased" || task.token !== item.token) continue;
          task.state = "done";
          task.outcome = item.outcome;
          task.done(item.outcome);
          recorded += 1;
        }
        return reply(200, { recorded });
      }
      case "release": {
        let released = 0;
        for (const item of body.items as { id: string; token: string }[]) {
          const task = this.tasks.get(item.id);
          if (task?.state !== "leased" || task.token !== item.token) continue;
          task.state = "queued";
          this.queue.push(task);
          released += 1;
        }
        for (const wake of this.waiters.splice(0)) wake();
        return reply(200, { released });
      }
      case "heartbeat":
        this.heartbeats.push({ workerId, body });
        return reply(200, { ok: true });
      default:
        return reply(404, { detail: "Not found", code: "not_found" });
    }
  }
}

/** Polls `check` until it gives a value (not undefined/false), for up to `timeoutMs`. */
async function until<T>(what: string, check: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > end) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The URL of a port nothing listens on (connections are refused). */
async function unusedUrl(): Promise<string> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  await new Promise((resolve) => server.close(resolve));
  return url;
}

const docZip = () =>
  zipFiles([{ path: "model.mjs", data: readFileSync(join(fixturePath("doc-model"), "model.mjs")) }]);
const docBundle = () => testBundle(nodeFlavor(), "bun_doc");
const echoBundle = () =>
  testBundle(imageFlavor([process.execPath, fixturePath("echo-server.mjs")]), "bun_echo");

let dir: string;
const gateways: FakeGateway[] = [];
const runs: ExternalWorkerRun[] = [];
const children: ChildProcess[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "launch-external-"));
});
afterEach(async () => {
  for (const run of runs.splice(0)) {
    run.kill(137, "test over");
    await run.exited;
  }
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await once(child, "exit");
    }
  }
  await Promise.all(gateways.splice(0).map((gw) => gw.close()));
  rmSync(dir, { recursive: true, force: true });
});

async function gateway(bundle: BundleV2, artifact: Uint8Array | null, extra: Json = {}, count = 1) {
  const gw = await new FakeGateway(bundle, artifact, extra).listen(count);
  gateways.push(gw);
  return gw;
}

function start(servers: string[], overrides: Partial<ExternalWorkerOptions> = {}) {
  const log = memoryLog();
  const run = runExternalWorker({
    servers,
    apiKey: API_KEY,
    endpointId: ENDPOINT,
    cacheDir: join(dir, "cache"),
    log,
    hostname: "test-host",
    retryDelayMs: 20,
    stopGraceMs: 500,
    drainGraceMs: 5_000,
    ...overrides,
  });
  runs.push(run);
  return { run, log };
}

/** Drains and waits for the exit code (the run is then no longer killed after the test). */
async function drained(run: ExternalWorkerRun): Promise<number> {
  run.drain("the test is over");
  const code = await run.exited;
  runs.splice(runs.indexOf(run), 1);
  return code;
}

describe("external worker over HTTP", () => {
  it("bootstraps, downloads the zip, registers, leases and reports 7 for {x:2, y:'hello'}", async () => {
    const gw = await gateway(docBundle(), docZip());
    const { run, log } = start(gw.urls);
    const registration = await until("a registration", () => gw.registrations[0]);
    expect(registration).toMatchObject({
      endpoint_id: ENDPOINT,
      url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
      concurrency: 2,
      pid: process.pid,
      hostname: "test-host",
    });
    expect(registration).not.toHaveProperty("model_url");

    expect(await gw.enqueue("tsk_1", { x: 2, y: "hello" })).toEqual({ ok: true, output: 7, statusCode: 200 });
    expect(gw.task("tsk_1")?.leases).toBe(1);

    // The advertised URL is the worker's real sync port; it answers only with the token it registered.
    expect(registration.sync_token).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const sync = await fetch(`${registration.url as string}/predict`, {
      method: "POST",
      headers: { "x-launch-worker-token": registration.sync_token as string },
      body: JSON.stringify({ args: { x: 2, y: "hello" } }),
    });
    expect(await sync.json()).toMatchObject({ status: "SUCCESS", result: { result: 7 } });
    const stranger = await fetch(`${registration.url as string}/predict`, {
      method: "POST",
      body: JSON.stringify({ args: { x: 2, y: "hello" } }),
    });
    expect(stranger.status).toBe(401);

    expect(existsSync(join(dir, "cache", ".artifacts", "bun_doc.zip"))).toBe(true);
    expect(gw.artifactDownloads).toBe(1);
    expect(await drained(run)).toBe(0);
    expect(gw.deleted).toEqual(["wrk_1"]);
    expect(log.text()).not.toContain(API_KEY);

    // A restart reuses the downloaded artifact.
    const again = start(gw.urls);
    await until("a second registration", () => gw.registrations[1]);
    expect(await gw.enqueue("tsk_2", { x: 1, y: "ab" })).toMatchObject({ ok: true, output: 3 });
    expect(gw.artifactDownloads).toBe(1);
    expect(again.log.text()).toContain("using the cached artifact of bundle bun_doc");
    expect(await drained(again.run)).toBe(0);
  });

  it("listens on 0.0.0.0 and advertises the host name, or the URL it is given", async () => {
    const gw = await gateway(docBundle(), docZip());
    start(gw.urls, { httpHost: "0.0.0.0" });
    const first = await until("a registration", () => gw.registrations[0]);
    expect(first.url).toMatch(/^http:\/\/test-host:\d+$/);
    const port = Number(new URL(first.url as string).port);
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);

    start(gw.urls, { advertiseUrl: "https://worker-7.example:8443/" });
    const second = await until("a second registration", () => gw.registrations[1]);
    expect(second.url).toBe("https://worker-7.example:8443");
  });

  it("heartbeats carry the leases the worker holds, and stop carrying them once reported", async () => {
    const gw = await gateway(echoBundle(), null, { heartbeat_seconds: 0.05 });
    start(gw.urls);
    await until("a registration", () => gw.registrations[0]);
    const outcome = gw.enqueue("tsk_slow", { delay: 0.5 });
    const token = await until("the lease", () => gw.task("tsk_slow")?.token);
    const beat = await until("a heartbeat with the lease", () =>
      gw.heartbeats.find((b) => (b.body.leases as unknown[]).length > 0),
    );
    expect(beat.workerId).toBe("wrk_1");
    expect(beat.body).toEqual({ in_flight: 1, leases: [{ id: "tsk_slow", token }] });
    expect(await outcome).toMatchObject({ ok: true, output: { delay: 0.5 } });
    const after = gw.heartbeats.length;
    const later = await until("a heartbeat after the result", () => gw.heartbeats[after]);
    expect(later.body).toEqual({ in_flight: 0, leases: [] });
  });

  it("registers again when the gateway answers 404 to a heartbeat, and goes on leasing", async () => {
    const gw = await gateway(docBundle(), docZip(), { heartbeat_seconds: 0.05 });
    const { log } = start(gw.urls);
    await until("a registration", () => gw.registrations[0]);
    gw.forget("wrk_1");
    const second = await until("a new registration", () => gw.registrations[1]);
    expect(second.worker_id).toBe("wrk_2");
    expect(gw.count("POST", /^\/v1\/workers\/wrk_1\/(heartbeat|lease)$/, 404)).toBeGreaterThan(0);
    expect(await gw.enqueue("tsk_1", { x: 2, y: "hello" })).toMatchObject({ ok: true, output: 7 });
    expect(gw.count("POST", /^\/v1\/workers\/wrk_2\/lease$/)).toBeGreaterThan(0);
    expect(log.text()).toContain("the gateway no longer knows worker wrk_1 (404); registering again");
  });

  it("uses the second server when the first is down, and loses nothing when a gateway dies mid-poll", async () => {
    const deadUrl = await unusedUrl();
    const gw = await gateway(docBundle(), docZip(), {}, 2);
    const { log } = start([deadUrl, gw.urls[0]!, gw.urls[1]!]);
    await until("a registration", () => gw.registrations[0]);
    expect(await gw.enqueue("tsk_1", { x: 2, y: "hello" })).toMatchObject({ ok: true, output: 7 });
    expect(log.text()).toContain(`gateway ${deadUrl} failed (GET /v1/workers/bootstrap`);
    expect(log.text()).toMatch(/ECONNREFUSED/);

    // The worker's long poll is on gateway 0; take it down while the poll waits.
    await until("a lease poll on gateway 0", () =>
      gw.requests.some((r) => r.server === 0 && r.path.endsWith("/lease")),
    );
    await gw.stop(0);
    const outcomes = await Promise.all(
      ["a", "b", "c", "d", "e"].map((y, i) => gw.enqueue(`tsk_${i + 2}`, { x: i, y })),
    );
    expect(outcomes.map((o) => (o.ok ? o.output : o.error))).toEqual([1, 2, 3, 4, 5]);
    expect(gw.requests.filter((r) => r.server === 1 && r.path.endsWith("/results")).length).toBeGreaterThan(
      0,
    );
  });

  it("retries results that a gateway answered 503, until one accepts them", async () => {
    const gw = await gateway(docBundle(), docZip());
    start(gw.urls);
    await until("a registration", () => gw.registrations[0]);
    gw.failNext("POST", /\/results$/, 503);
    expect(await gw.enqueue("tsk_1", { x: 2, y: "hello" })).toMatchObject({ ok: true, output: 7 });
    expect(gw.count("POST", /\/results$/, 503)).toBe(1);
    expect(gw.count("POST", /\/results$/, 200)).toBe(1);
  });

  it("gives results up once their leases have expired while no gateway accepts them", async () => {
    const gw = await gateway(docBundle(), docZip(), { lease_seconds: 0.3, heartbeat_seconds: 0.1 });
    const { run, log } = start(gw.urls);
    await until("a registration", () => gw.registrations[0]);
    for (let i = 0; i < 100; i++) gw.failNext("POST", /\/(results|heartbeat)$/, 503);
    void gw.enqueue("tsk_1", { x: 2, y: "hello" });
    await until("the give-up", () =>
      log.text().includes("gave up the result(s) of 1 task(s): their leases expired"),
    );
    expect(await drained(run)).toBe(0);
  });

  it("reports a start failure and exits 1 without registering", async () => {
    const gw = await gateway(
      testBundle(imageFlavor([process.execPath, fixturePath("crash.mjs")]), "bun_crash"),
      null,
    );
    const { run } = start(gw.urls);
    expect(await run.exited).toBe(1);
    expect(gw.startFailures).toHaveLength(1);
    expect(gw.startFailures[0]).toMatchObject({ endpoint_id: ENDPOINT, hostname: "test-host" });
    expect(gw.startFailures[0]!.reason).toContain("weights.bin is missing");
    expect(gw.registrations).toEqual([]);
  });

  it("says what is wrong when the bootstrap is refused", async () => {
    const gw = await gateway(docBundle(), docZip());
    gw.bootstrap = { status: 409, body: { detail: "orchestration is local", code: "conflict" } };
    const conflict = start(gw.urls);
    expect(await conflict.run.exited).toBe(1);
    expect(conflict.log.text()).toContain("LAUNCH_ORCHESTRATION=external");

    const unknown = start(gw.urls, { endpointId: "end_nope" });
    expect(await unknown.run.exited).toBe(1);
    expect(unknown.log.text()).toContain("Endpoint end_nope was not found (404: Endpoint not found)");

    const badKey = start(gw.urls, { apiKey: "lk_wrong_key" });
    expect(await badKey.run.exited).toBe(1);
    expect(badKey.log.text()).toContain("The gateway refused the API key (401: Invalid API key.)");
    expect(badKey.log.text()).not.toContain("lk_wrong_key");

    const deadUrl = await unusedUrl();
    const nobody = start([deadUrl], { connectTimeoutMs: 300 });
    expect(await nobody.run.exited).toBe(1);
    expect(nobody.log.text()).toContain(`Could not reach a gateway at ${deadUrl} (No gateway answered GET`);
  });
});

describe("advertisedUrl", () => {
  it("uses the bind host, the host name for a wildcard, brackets for IPv6, and an explicit URL first", () => {
    expect(advertisedUrl("10.1.2.3", 8080)).toBe("http://10.1.2.3:8080");
    expect(advertisedUrl("0.0.0.0", 8080, { hostname: "gpu-7" })).toBe("http://gpu-7:8080");
    expect(advertisedUrl("::", 8080, { hostname: "gpu-7" })).toBe("http://gpu-7:8080");
    expect(advertisedUrl("::1", 8080)).toBe("http://[::1]:8080");
    expect(advertisedUrl("0.0.0.0", 1, { advertiseUrl: "http://lb:9000/" })).toBe("http://lb:9000");
  });
});

const built = existsSync(workerBinPath());

describe.skipIf(!built && !process.env.CI)(
  "launch-worker --endpoint (the built bin; skipped when not built)",
  () => {
    it("joins over HTTP, finishes its task on SIGTERM, deregisters and exits 0", async () => {
      const gw = await gateway(echoBundle(), null);
      const child = spawn(
        process.execPath,
        [
          workerBinPath(),
          "--endpoint",
          ENDPOINT,
          "--cache-dir",
          join(dir, "cache"),
          "--listen",
          "127.0.0.1:0",
        ],
        {
          env: { PATH: process.env.PATH, LAUNCH_SERVER_URL: gw.urls[0], LAUNCH_API_KEY: API_KEY },
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      children.push(child);
      let output = "";
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
        output += chunk;
      });
      child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
        output += chunk;
      });
      const exited = once(child, "exit");
      const registration = await until("a registration", () => gw.registrations[0]);
      expect(registration.pid).toBe(child.pid);
      const outcome = gw.enqueue("tsk_slow", { delay: 0.3 });
      await until("the lease", () => gw.task("tsk_slow")?.state === "leased");
      child.kill("SIGTERM");
      expect(await outcome).toMatchObject({ ok: true, output: { delay: 0.3 } });
      expect(await exited).toEqual([0, null]);
      expect(gw.deleted).toEqual(["wrk_1"]);
      expect(output).toContain("[launch-worker] draining (received SIGTERM)");
      expect(output).toContain("[launch-worker] deregistered worker wrk_1");
      expect(output).not.toContain(API_KEY);
    });
  },
);
