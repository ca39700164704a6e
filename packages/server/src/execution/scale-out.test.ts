/**
 * The scaled-out topology end to end (`docs/operations.md`), with real processes: PostgreSQL for the
 * store, Redis for the queue and coordination, two gateway processes, a controller, a separate
 * dispatcher, two controllers and external `launch-worker --endpoint` processes that know both gateways.
 * The document's flow runs through it (bundle, async endpoint with a basic-auth callback, tasks), and
 * killing one gateway and the acting controller, then the worker, in the middle loses nothing: every task
 * completes once with its own result and every callback arrives.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestReceiver } from "../callbacks/testing-receiver.js";
import { redisTestUrl, requireRedis } from "../coordination/testing-redis.js";
import { createTestSchema, probeTestDatabase, type TestSchema } from "../store/postgres/test-database.js";
import {
  createEndpoint,
  createFixtureImageBundle,
  submitTask,
  waitForEndpoint,
  waitForTask,
} from "../testing/bundles.js";
import { routeCaller } from "../testing/http.js";

const here = dirname(fileURLToPath(import.meta.url));
const serverBin = join(here, "../../dist/bin.js");
const workerBin = join(here, "../../../worker/dist/bin.js");
const built = existsSync(serverBin) && existsSync(workerBin);
if (!built) console.warn("scale-out test skipped: run `npm run build` first (npm test does)");

const KEY = "scale-out-key";

/**
 * SIGKILLs a process and its direct children (a runnable image's model program runs in its own process
 * group), as systemd or Kubernetes do when they kill a worker's cgroup or container.
 */
function killWithChildren(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null) return;
  let children: number[] = [];
  try {
    children = execFileSync("ps", ["-o", "pid=", "--ppid", String(child.pid)], { encoding: "utf8" })
      .split("\n")
      .map((line) => Number(line.trim()))
      .filter((pid) => pid > 0);
  } catch {
    // No children.
  }
  child.kill("SIGKILL");
  for (const pid of children) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
}

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

async function servicesUp(): Promise<boolean> {
  const redis = await requireRedis();
  const postgres = await probeTestDatabase();
  if (!postgres.reachable) {
    const message = `PostgreSQL is not reachable for the scale-out test: ${postgres.reason}`;
    if (process.env.CI) throw new Error(`${message} (CI runs it)`);
    console.warn(`skipped: ${message}`);
  }
  return redis && postgres.reachable;
}

const services = built || process.env.CI ? await servicesUp() : false;

describe.skipIf(!services)("scaled out on PostgreSQL and Redis", () => {
  const children: ChildProcess[] = [];
  let schema: TestSchema;
  let root = "";
  let common: Record<string, string>;
  let receiver: TestReceiver;
  const prefix = `launch-e2e-${process.pid}-${Date.now()}`;

  beforeAll(async () => {
    schema = await createTestSchema();
    root = await mkdtemp(join(tmpdir(), "launch-scale-out-"));
    receiver = await TestReceiver.http();
    common = {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
      LAUNCH_AUTH: "open",
      LAUNCH_LOG_LEVEL: "warn",
      LAUNCH_STORE: "postgres",
      LAUNCH_DATABASE_URL: schema.url,
      LAUNCH_QUEUE: "redis",
      LAUNCH_REDIS_URL: redisTestUrl(),
      LAUNCH_REDIS_PREFIX: prefix,
      LAUNCH_SECRETS_KEY: randomBytes(32).toString("base64"),
      LAUNCH_ARTIFACTS_DIR: join(root, "artifacts"),
      LAUNCH_ORCHESTRATION: "external",
      LAUNCH_TASK_LEASE_SECONDS: "3",
      LAUNCH_WORKER_HEARTBEAT_SECONDS: "1",
      LAUNCH_CONTROLLER_LEASE_SECONDS: "3",
      LAUNCH_CALLBACK_ALLOW_PRIVATE_NETWORKS: "true",
    };
  }, 30_000);

  afterAll(async () => {
    for (const child of children) killWithChildren(child);
    await receiver?.close();
    await schema?.drop();
    if (root) await rm(root, { recursive: true, force: true });
    const { Redis } = await import("ioredis");
    const redis = new Redis(redisTestUrl());
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  async function startServer(name: string, roles: string): Promise<{ child: ChildProcess; url: string }> {
    const port = await freePort();
    const child = spawn(process.execPath, [serverBin], {
      env: { ...common, LAUNCH_ROLES: roles, LAUNCH_PORT: String(port), LAUNCH_DATA_DIR: join(root, name) },
      stdio: ["ignore", "ignore", "inherit"],
    });
    children.push(child);
    const url = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 300; i++) {
      try {
        if ((await fetch(`${url}/healthz`)).ok) return { child, url };
      } catch {}
      if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`${name} did not start`);
  }

  function startWorker(endpointId: string, servers: string[]): ChildProcess {
    const child = spawn(process.execPath, [workerBin, "--endpoint", endpointId], {
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "",
        LAUNCH_SERVER_URL: servers.join(","),
        LAUNCH_API_KEY: KEY,
        LAUNCH_WORKER_CACHE_DIR: join(root, `worker-cache-${children.length}`),
      },
      stdio: ["ignore", "ignore", "inherit"],
    });
    children.push(child);
    return child;
  }

  it("runs the document's flow; a gateway, the acting controller and a worker killed in the middle lose nothing", async () => {
    const gatewayA = await startServer("gateway-a", "gateway");
    const gatewayB = await startServer("gateway-b", "gateway");
    // Two controllers: the first holds the lease; the second stands by and must take over when it dies.
    const controller = await startServer("controller-1", "controller");
    await startServer("controller-2", "controller");
    const dispatcher = await startServer("dispatcher", "dispatcher");
    // A process without the gateway role serves health and metrics only.
    expect((await fetch(`${dispatcher.url}/metrics`)).status).toBe(200);
    expect(
      (await fetch(`${dispatcher.url}/v1/model-endpoints`, { headers: { authorization: "Basic eDo=" } }))
        .status,
    ).toBe(404);
    const a = routeCaller(gatewayA.url);
    const b = routeCaller(gatewayB.url);

    // The bundle is uploaded through A; B and the worker read it from the shared store and artifacts.
    const bundleId = await createFixtureImageBundle(a, KEY, "echo-server.mjs", { name: "echo" });
    const endpointId = await createEndpoint(b, KEY, {
      name: "scaled",
      bundleId,
      perWorker: 4,
      post_inference_hooks: ["callback"],
      default_callback_url: receiver.url("/done"),
      default_callback_auth: { kind: "basic", username: "user", password: "s3cret-pass" },
    });
    let worker = startWorker(endpointId, [gatewayA.url, gatewayB.url]);
    await waitForEndpoint(a, KEY, endpointId, (e) => e.deployment_state.available_workers >= 1, 60_000);

    const submitted: { id: string; n: number }[] = [];
    const submit = async (api: typeof a, n: number) =>
      submitted.push({ id: await submitTask(api, KEY, endpointId, { args: { n, delay: 0.2 } }), n });
    for (let n = 0; n < 10; n++) await submit(n % 2 === 0 ? a : b, n);

    // Gateway A dies with tasks in flight; the worker fails over to B.
    await waitForTask(b, KEY, submitted[0]!.id, 30_000);
    gatewayA.child.kill("SIGKILL");
    controller.child.kill("SIGKILL");
    for (let n = 10; n < 20; n++) await submit(b, n);

    // The worker dies in the middle of tasks; a new one (still told of both gateways) takes them over.
    // Its leased tasks come back only through a sweep, which only the standby controller, now acting,
    // can do.
    await new Promise((r) => setTimeout(r, 300));
    killWithChildren(worker);
    for (let n = 20; n < 25; n++) await submit(b, n);
    worker = startWorker(endpointId, [gatewayA.url, gatewayB.url]);

    const results = await Promise.all(submitted.map(({ id }) => waitForTask(b, KEY, id, 90_000)));
    expect(results.map((r) => r.status)).toEqual(submitted.map(() => "SUCCESS"));
    expect(results.map((r) => r.result.result.n)).toEqual(submitted.map(({ n }) => n));

    // Every task's callback arrives (the separate dispatcher sends them), with the endpoint's basic auth.
    const deadline = Date.now() + 30_000;
    const delivered = () => new Set(receiver.received.map((r) => JSON.parse(r.body).task_id as string));
    while (delivered().size < submitted.length && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    expect([...delivered()].sort()).toEqual(submitted.map(({ id }) => id).sort());
    const auth = `Basic ${Buffer.from("user:s3cret-pass").toString("base64")}`;
    expect(receiver.received.every((r) => r.headers.authorization === auth)).toBe(true);
    const body = JSON.parse(
      receiver.received.find((r) => JSON.parse(r.body).task_id === submitted[3]!.id)!.body,
    );
    expect(body).toEqual({ task_id: submitted[3]!.id, result: { n: 3, delay: 0.2 } });
  }, 180_000);
});
