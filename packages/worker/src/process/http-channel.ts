/**
 * The channel of an external worker (`launch-worker --endpoint <id>`, orchestration `external` on the
 * server): a `WorkerChannel` that plays the controller's part over the gateways' external worker API
 * (`/v1/workers/*`), so that the same `runWorker` logic runs whether a local controller forked the worker
 * or any process manager on any host started it.
 *
 * - `HttpChannel.connect()` fetches the endpoint's bootstrap and downloads its bundle artifact into the
 *   cache directory (once: a later start reuses the file); the channel then delivers the `init`.
 * - `ready` → registers the worker (`POST /v1/workers`) with the URL where gateways reach its sync port.
 * - `credit n` → long-polls `lease` for up to the outstanding credit and delivers the leases as `tasks`.
 * - `results` / `release` → posted, retried on every gateway until accepted or the leases expired.
 * - `heartbeat` → posts the leases the worker holds (handed out and not yet reported), extending them.
 * - a 404 from `lease`, `heartbeat`, `results` or `release` (the server pruned the worker) → registers
 *   again and carries on.
 * - `start_failed` → `POST /v1/workers/start-failed`.
 * - `close()` (the worker stopped) → `DELETE /v1/workers/{id}`.
 */
import { randomBytes } from "node:crypto";
import { stat } from "node:fs/promises";
import { hostname as osHostname } from "node:os";
import { join } from "node:path";
import type {
  BundleV2,
  ControllerMessage,
  EndpointType,
  WorkerInit,
  WorkerMessage,
  WorkerTask,
} from "@launch/protocol";
import {
  detailOf,
  type GatewayAnswer,
  type GatewayClient,
  GatewayUnavailableError,
} from "./gateway-client.js";
import type { WorkerChannel } from "./ipc.js";
import type { WorkerLog } from "./log.js";

export interface HttpChannelOptions {
  gateway: GatewayClient;
  /** The endpoint this worker joins. */
  endpointId: string;
  log: WorkerLog;
  /** Where downloaded artifacts (`.artifacts/`), unpacked bundles and Python environments are kept. */
  cacheDir: string;
  /** The interface of the sync port. Default "127.0.0.1". */
  httpHost?: string;
  /** The sync port; 0 (the default) picks a free one. */
  httpPort?: number;
  /** The base URL gateways use to reach the sync port. Default `http://<host>:<port>` (see `advertisedUrl`). */
  advertiseUrl?: string;
  /** Tasks run at once. Default: the endpoint's, from the bootstrap. */
  concurrency?: number;
  /** The interpreter for Python bundles. Default "python3". */
  python?: string;
  /** How long in-flight tasks may take to finish once draining. Default 30,000 ms. */
  drainGraceMs?: number;
  /** Seconds beyond a runnable image's readiness delay before its start counts as failed. Default 30. */
  readinessMarginSeconds?: number;
  /** How long one lease request waits for a task (≤ 30). Default 20 s. */
  leaseWaitSeconds?: number;
  /** The name this host gives the gateways. Default `os.hostname()`. */
  hostname?: string;
  /** How long the bootstrap is retried while no gateway answers. Default 120,000 ms. */
  connectTimeoutMs?: number;
}

/** What the gateway says about the endpoint a worker joins (`GET /v1/workers/bootstrap`). */
export interface WorkerBootstrap {
  endpointId: string;
  endpointType: EndpointType;
  bundle: BundleV2;
  artifact: { bucket: string; key: string } | null;
  concurrency: number;
  leaseSeconds: number;
  heartbeatSeconds: number;
}

/** A failure that stops an external worker before it runs (bad answer, unknown endpoint, no gateway). */
export class ExternalWorkerError extends Error {
  override readonly name = "ExternalWorkerError";
}

const DEFAULT_DRAIN_GRACE_MS = 30_000;
const DEFAULT_READINESS_MARGIN_SECONDS = 30;
const DEFAULT_LEASE_WAIT_SECONDS = 20;
const DEFAULT_CONNECT_TIMEOUT_MS = 120_000;
/** How long the last messages (start failure, deregistration) are retried while the process exits. */
const LAST_WORDS_MS = 10_000;
/** The pause after a lease answer that is neither tasks nor 404, before asking again. */
const LEASE_ERROR_PAUSE_MS = 5_000;
/** How many times one report re-registers after a 404 before giving up. */
const MAX_REREGISTRATIONS = 3;
const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

type LeaseItem = { id: string; token: string };

/** A lease the worker holds: handed to it and not yet reported (result or release accepted or dropped). */
interface HeldLease {
  token: string;
  /** When the server lets the lease go unless extended (`Date.now()` ms), as this worker knows it. */
  expiresAt: number;
}

/** The worker's channel to the gateways. Create it with `HttpChannel.connect()`. */
export class HttpChannel implements WorkerChannel {
  /** The `init` delivered to the worker. */
  readonly init: WorkerInit;
  private listener: ((message: ControllerMessage) => void) | undefined;
  private stopListener: ((why: string, failed: boolean) => void) | undefined;
  private open = true;
  private leasing = true;
  private workerId: string | undefined;
  private registering: Promise<string | undefined> | undefined;
  private ready: Extract<WorkerMessage, { t: "ready" }> | undefined;
  private url: string | undefined;
  private credit = 0;
  private readonly held = new Map<string, HeldLease>();
  private readonly pending = new Set<Promise<void>>();
  private heartbeatInFlight = false;
  private loop: Promise<void> | undefined;
  private wakeLoop: (() => void) | undefined;
  /** Aborts the lease poll (draining, crashed, closing). */
  private readonly leaseAbort = new AbortController();
  /** Aborts registration and heartbeats (closing). */
  private readonly closing = new AbortController();
  /** Aborts everything, reports included (`abort()`: the worker was killed). */
  private readonly killed = new AbortController();
  private readonly hostname: string;
  private readonly log: WorkerLog;

  private constructor(
    private readonly options: HttpChannelOptions,
    readonly bootstrap: WorkerBootstrap,
    artifactPath: string | null,
  ) {
    this.log = options.log;
    this.hostname = options.hostname ?? osHostname();
    this.init = {
      t: "init",
      endpointId: bootstrap.endpointId,
      endpointType: bootstrap.endpointType,
      workerId: `external-${process.pid}@${this.hostname}`,
      bundle: bootstrap.bundle,
      artifactPath,
      cacheDir: options.cacheDir,
      ...(options.python === undefined ? {} : { python: options.python }),
      concurrency: options.concurrency ?? bootstrap.concurrency,
      httpPort: options.httpPort ?? 0,
      httpHost: options.httpHost ?? "127.0.0.1",
      // Gateways learn it at registration; nobody else can run the model through this worker's port.
      syncToken: randomBytes(24).toString("base64url"),
      readinessMarginSeconds: options.readinessMarginSeconds ?? DEFAULT_READINESS_MARGIN_SECONDS,
      drainGraceMs: options.drainGraceMs ?? DEFAULT_DRAIN_GRACE_MS,
      heartbeatMs: Math.max(1, Math.round(bootstrap.heartbeatSeconds * 1000)),
    };
  }

  /**
   * Fetches the endpoint's bootstrap and its artifact, and returns the channel ready to deliver `init`.
   * Rejects with an `ExternalWorkerError` saying what went wrong, or with the signal's reason.
   *
   * @example const channel = await HttpChannel.connect({ gateway, endpointId, log, cacheDir });
   * const run = runWorker(channel, { log }); const code = await run.exited; await channel.close();
   */
  static async connect(options: HttpChannelOptions, signal?: AbortSignal): Promise<HttpChannel> {
    const deadline = Date.now() + (options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
    const bootstrap = await fetchBootstrap(options, deadline, signal);
    const artifactPath = await fetchArtifact(options, bootstrap, deadline, signal);
    if (bootstrap.heartbeatSeconds >= bootstrap.leaseSeconds) {
      options.log.error(
        `the endpoint's heartbeat_seconds (${bootstrap.heartbeatSeconds}) is not below its lease_seconds (${bootstrap.leaseSeconds}): leases may expire between heartbeats`,
      );
    }
    return new HttpChannel(options, bootstrap, artifactPath);
  }

  get connected(): boolean {
    return this.open;
  }

  /** The id the gateway gave this worker, once registered. */
  get registeredId(): string | undefined {
    return this.workerId;
  }

  /** The leases the worker holds now (id → token). */
  heldLeases(): LeaseItem[] {
    return [...this.held].map(([id, lease]) => ({ id, token: lease.token }));
  }

  onMessage(listener: (message: ControllerMessage) => void): void {
    const first = this.listener === undefined;
    this.listener = listener;
    if (first) setImmediate(() => this.listener?.(this.init));
  }

  /** The channel never "disconnects": the worker stops through `onStop`. */
  onDisconnect(_listener: () => void): void {}

  /**
   * Registers what to do when the channel needs the worker to stop: the endpoint is gone or the gateway
   * refuses the worker (`failed`: the process should exit non-zero).
   */
  onStop(listener: (why: string, failed: boolean) => void): void {
    this.stopListener = listener;
  }

  send(message: WorkerMessage): void {
    if (!this.open) return;
    switch (message.t) {
      case "ready":
        this.ready = message;
        this.url = advertisedUrl(this.init.httpHost ?? "127.0.0.1", message.httpPort, {
          advertiseUrl: this.options.advertiseUrl,
          hostname: this.hostname,
        });
        void this.register();
        this.loop = this.leaseLoop().catch((error: unknown) =>
          this.log.error(`internal error in the lease loop: ${(error as Error).stack ?? String(error)}`),
        );
        return;
      case "credit":
        this.credit += message.n;
        this.wake();
        return;
      case "results":
        this.track(this.report("results", message.items));
        return;
      case "release":
        this.track(this.report("release", message.items));
        return;
      case "heartbeat":
        void this.beat(message.inFlight);
        return;
      case "start_failed":
        this.stopLeasing();
        this.track(this.reportStartFailed(message.reason));
        return;
      case "crashed":
        // The tasks in flight were lost with the model: the server retries them when their leases expire.
        this.stopLeasing();
        return;
    }
  }

  /** Resolves once every result, release and start failure sent so far has been accepted or given up. */
  async flush(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  /** Stops asking for tasks (the worker is draining); a lease poll in flight is abandoned. */
  stopLeasing(): void {
    if (!this.leasing) return;
    this.leasing = false;
    this.leaseAbort.abort(new Error("the worker stopped leasing"));
    this.wake();
  }

  /**
   * Ends the channel once the worker has stopped: stops leasing, waits for the reports in flight, then
   * removes the worker's registration (`DELETE /v1/workers/{id}`).
   */
  async close(): Promise<void> {
    this.stopLeasing();
    await this.loop;
    await this.flush();
    const id = this.workerId;
    this.open = false;
    this.closing.abort(new Error("the channel is closed"));
    if (id === undefined) return;
    try {
      const answer = await this.options.gateway.request("DELETE", `/v1/workers/${encodeURIComponent(id)}`, {
        deadline: Date.now() + LAST_WORDS_MS,
        signal: this.killed.signal,
      });
      if (answer.status === 200 || answer.status === 404) this.log.info(`deregistered worker ${id}`);
      else this.log.error(`could not deregister worker ${id}: ${describe(answer)}`);
    } catch (error) {
      if (!this.killed.signal.aborted) this.log.error(`could not deregister worker ${id}: ${message(error)}`);
    }
  }

  /** Drops everything at once (the worker was killed): nothing more is sent. */
  abort(): void {
    this.open = false;
    this.stopLeasing();
    this.closing.abort(new Error("the channel is closed"));
    this.killed.abort(new Error("the worker was killed"));
  }

  private track(work: Promise<void>): void {
    const tracked = work
      .catch((error: unknown) => this.log.error(`internal error: ${(error as Error).stack ?? String(error)}`))
      .finally(() => this.pending.delete(tracked));
    this.pending.add(tracked);
  }

  private wake(): void {
    const wake = this.wakeLoop;
    this.wakeLoop = undefined;
    wake?.();
  }

  private register(): Promise<string | undefined> {
    this.registering ??= this.registerOnce().finally(() => {
      this.registering = undefined;
    });
    return this.registering;
  }

  private async registerOnce(): Promise<string | undefined> {
    const ready = this.ready!;
    const modelUrl = ready.modelUrl && isLoopbackUrl(this.url!) ? ready.modelUrl : null;
    const body = {
      endpoint_id: this.init.endpointId,
      url: this.url,
      concurrency: this.init.concurrency,
      pid: ready.pid,
      hostname: this.hostname,
      sync_token: this.init.syncToken,
      // The model's own port listens on loopback: only a gateway on this host can use it.
      ...(modelUrl ? { model_url: modelUrl, model_predict_route: ready.modelPredictRoute ?? null } : {}),
    };
    let answer: GatewayAnswer;
    try {
      answer = await this.options.gateway.request("POST", "/v1/workers", {
        body,
        signal: this.closing.signal,
      });
    } catch (error) {
      if (!this.closing.signal.aborted) this.log.error(`could not register: ${message(error)}`);
      return undefined;
    }
    const workerId = (answer.body as { worker_id?: unknown } | undefined)?.worker_id;
    if (answer.status === 200 && typeof workerId === "string" && workerId !== "") {
      this.workerId = workerId;
      this.log.info(`registered as worker ${workerId} of endpoint ${this.init.endpointId} at ${this.url}`);
      this.wake();
      return workerId;
    }
    const why =
      answer.status === 200
        ? "the gateway's answer to POST /v1/workers has no worker_id"
        : `the gateway refused to register this worker: ${describe(answer)}`;
    this.fail(answer.status === 404 ? `${why} (was the endpoint deleted?)` : why);
    return undefined;
  }

  /** Registers again after a 404 for `stale`, once for all the requests that saw it. */
  private reregister(stale: string): Promise<string | undefined> {
    if (this.workerId !== stale) return this.registering ?? Promise.resolve(this.workerId);
    this.log.info(`the gateway no longer knows worker ${stale} (404); registering again`);
    this.workerId = undefined;
    return this.register();
  }

  /** The worker's id, waiting for a registration in progress until `deadline`. */
  private async currentWorkerId(deadline: number): Promise<string | undefined> {
    if (this.workerId !== undefined || this.registering === undefined) return this.workerId;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), Math.max(0, deadline - Date.now()));
    });
    try {
      return await Promise.race([this.registering, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  private fail(why: string): void {
    this.log.error(`${why}; stopping`);
    this.stopLeasing();
    this.stopListener?.(why, true);
  }

  private async leaseLoop(): Promise<void> {
    const gateway = this.options.gateway;
    const wait = Math.min(30, this.options.leaseWaitSeconds ?? DEFAULT_LEASE_WAIT_SECONDS);
    while (this.leasing) {
      const id = this.workerId;
      if (id === undefined || this.credit <= 0) {
        await new Promise<void>((resolve) => {
          this.wakeLoop = resolve;
        });
        continue;
      }
      let answer: GatewayAnswer;
      try {
        answer = await gateway.request("POST", `/v1/workers/${encodeURIComponent(id)}/lease`, {
          body: { max: this.credit, wait_seconds: wait },
          signal: this.leaseAbort.signal,
          timeoutMs: (wait + 15) * 1000,
        });
      } catch (error) {
        if (this.leaseAbort.signal.aborted) return;
        this.log.error(`lease failed: ${message(error)}`);
        continue;
      }
      if (answer.status === 200) {
        const tasks = (answer.body as { tasks?: unknown } | undefined)?.tasks;
        if (!Array.isArray(tasks) || !tasks.every(isTask)) {
          this.log.error("the gateway's lease answer is not {tasks: [{id, token, ...}]}; ignoring it");
          await this.pause(LEASE_ERROR_PAUSE_MS);
          continue;
        }
        if (tasks.length > 0) this.deliver(tasks);
      } else if (answer.status === 404) {
        // Not awaited: the loop waits for the new registration's wake-up, or for stopLeasing().
        void this.reregister(id);
      } else {
        this.log.error(`the gateway refused a lease: ${describe(answer)}`);
        await this.pause(LEASE_ERROR_PAUSE_MS);
      }
    }
  }

  private deliver(tasks: WorkerTask[]): void {
    const expiresAt = Date.now() + this.bootstrap.leaseSeconds * 1000;
    for (const task of tasks) this.held.set(task.id, { token: task.token, expiresAt });
    this.credit -= tasks.length;
    if (!this.leasing) {
      // Leased as the worker stopped leasing: give them back rather than let them wait for expiry.
      this.log.info(`releasing ${tasks.length} task(s) leased while stopping`);
      this.track(
        this.report(
          "release",
          tasks.map(({ id, token }) => ({ id, token })),
        ),
      );
      return;
    }
    this.listener?.({ t: "tasks", tasks });
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const signal = this.leaseAbort.signal;
      function done() {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      }
      signal.addEventListener("abort", done, { once: true });
    });
  }

  /**
   * Posts results or releases until the gateway accepts them, the leases they answer expire (the server
   * then retries those tasks), or the gateway refuses them.
   */
  private async report(kind: "results" | "release", items: readonly LeaseItem[]): Promise<void> {
    if (items.length === 0) return;
    const now = Date.now();
    const deadline = Math.max(
      ...items.map((item) => this.held.get(item.id)?.expiresAt ?? now + this.bootstrap.leaseSeconds * 1000),
    );
    const what = `${kind === "results" ? "result" : "release"}(s) of ${items.length} task(s)`;
    try {
      for (let reregistered = 0; ; reregistered++) {
        const id = await this.currentWorkerId(deadline);
        if (id === undefined) {
          this.log.error(`gave up the ${what}: this worker is not registered; the server retries the tasks`);
          return;
        }
        let answer: GatewayAnswer;
        try {
          answer = await this.options.gateway.request(
            "POST",
            `/v1/workers/${encodeURIComponent(id)}/${kind}`,
            {
              body: { items },
              deadline,
              signal: this.killed.signal,
            },
          );
        } catch (error) {
          if (this.killed.signal.aborted) return;
          const why =
            error instanceof GatewayUnavailableError ? "their leases expired first" : message(error);
          this.log.error(`gave up the ${what}: ${why}; the server retries the tasks`);
          return;
        }
        if (answer.status === 404 && reregistered < MAX_REREGISTRATIONS) {
          await this.reregister(id);
          continue;
        }
        if (answer.status !== 200) {
          this.log.error(
            `the gateway refused the ${what}: ${describe(answer)}; the server retries the tasks`,
          );
          return;
        }
        const counted = (answer.body as { recorded?: unknown; released?: unknown } | undefined)?.[
          kind === "results" ? "recorded" : "released"
        ];
        if (typeof counted === "number" && counted < items.length) {
          this.log.info(
            `the gateway took ${counted} of ${items.length} ${kind === "results" ? "results" : "releases"}: the other leases had expired`,
          );
        }
        return;
      }
    } finally {
      for (const item of items) if (this.held.get(item.id)?.token === item.token) this.held.delete(item.id);
    }
  }

  private async beat(inFlight: number): Promise<void> {
    const id = this.workerId;
    if (id === undefined || this.heartbeatInFlight || !this.open) return;
    this.heartbeatInFlight = true;
    const sentAt = Date.now();
    const leases = this.heldLeases();
    try {
      const answer = await this.options.gateway.request(
        "POST",
        `/v1/workers/${encodeURIComponent(id)}/heartbeat`,
        {
          body: { in_flight: inFlight, leases },
          // The next beat comes soon: one try per gateway is enough.
          attempts: this.options.gateway.servers.length,
          signal: this.closing.signal,
        },
      );
      if (answer.status === 200) {
        const expiresAt = sentAt + this.bootstrap.leaseSeconds * 1000;
        for (const lease of leases) {
          const held = this.held.get(lease.id);
          if (held?.token === lease.token) held.expiresAt = Math.max(held.expiresAt, expiresAt);
        }
      } else if (answer.status === 404) {
        await this.reregister(id);
      } else {
        this.log.error(`the gateway refused a heartbeat: ${describe(answer)}`);
      }
    } catch {
      // Logged by the gateway client when a gateway goes down; the next beat tries again.
    } finally {
      this.heartbeatInFlight = false;
    }
  }

  private async reportStartFailed(reason: string): Promise<void> {
    try {
      const answer = await this.options.gateway.request("POST", "/v1/workers/start-failed", {
        body: { endpoint_id: this.init.endpointId, reason, hostname: this.hostname },
        deadline: Date.now() + LAST_WORDS_MS,
        signal: this.killed.signal,
      });
      if (answer.status !== 200) this.log.error(`the gateway refused the start failure: ${describe(answer)}`);
    } catch (error) {
      if (!this.killed.signal.aborted)
        this.log.error(`could not report the start failure: ${message(error)}`);
    }
  }
}

/**
 * The base URL gateways reach the worker at: `advertiseUrl` when given, else `http://<host>:<port>` with
 * the bind host, or this machine's host name when the bind host is a wildcard (0.0.0.0, ::).
 *
 * @example advertisedUrl("0.0.0.0", 8080, { hostname: "gpu-7" }) // "http://gpu-7:8080"
 */
export function advertisedUrl(
  host: string,
  port: number,
  options: { advertiseUrl?: string | undefined; hostname?: string } = {},
): string {
  if (options.advertiseUrl) return options.advertiseUrl.replace(/\/+$/, "");
  const wildcard = host === "0.0.0.0" || host === "::" || host === "";
  const name = wildcard ? (options.hostname ?? osHostname()) : host;
  return `http://${name.includes(":") ? `[${name}]` : name}:${port}`;
}

async function fetchBootstrap(
  options: HttpChannelOptions,
  deadline: number,
  signal: AbortSignal | undefined,
): Promise<WorkerBootstrap> {
  const path = `/v1/workers/bootstrap?endpoint_id=${encodeURIComponent(options.endpointId)}`;
  const answer = await lastingRequest(options, "GET", path, deadline, signal);
  const endpoint = options.endpointId;
  if (answer.status === 401 || answer.status === 403) {
    throw new ExternalWorkerError(
      `The gateway refused the API key (${answer.status}${detailOf(answer.body)}): set LAUNCH_API_KEY to a key of the team that owns endpoint ${endpoint}.`,
    );
  }
  if (answer.status === 404) {
    throw new ExternalWorkerError(
      `Endpoint ${endpoint} was not found (404${detailOf(answer.body)}): check --endpoint (an endpoint id such as end_...).`,
    );
  }
  if (answer.status === 409) {
    throw new ExternalWorkerError(
      `The server does not take external workers (409${detailOf(answer.body)}): set orchestration to "external" on the server (LAUNCH_ORCHESTRATION=external).`,
    );
  }
  if (answer.status !== 200) {
    throw new ExternalWorkerError(
      `The gateway refused the bootstrap of endpoint ${endpoint}: ${describe(answer)}.`,
    );
  }
  const body = (answer.body ?? {}) as Record<string, unknown>;
  const problems: string[] = [];
  const expect = (field: string, ok: boolean, expected: string) => {
    if (!ok) problems.push(`${field} must be ${expected} (got ${JSON.stringify(body[field]) ?? "nothing"})`);
  };
  const bundle = body.bundle as { id?: unknown; flavor?: { flavor?: unknown } } | undefined;
  const artifact = body.artifact as { bucket?: unknown; key?: unknown } | null | undefined;
  expect("endpoint_type", typeof body.endpoint_type === "string", "the endpoint's type");
  if (typeof bundle?.id !== "string" || !SAFE_ID.test(bundle.id) || typeof bundle.flavor?.flavor !== "string")
    problems.push("bundle must be a bundle with an id and a flavor");
  expect(
    "artifact",
    artifact === null ||
      (typeof artifact === "object" &&
        typeof artifact?.bucket === "string" &&
        typeof artifact.key === "string" &&
        artifact.bucket !== "" &&
        artifact.key !== ""),
    "null or {bucket, key}",
  );
  expect(
    "concurrency",
    Number.isInteger(body.concurrency) && (body.concurrency as number) >= 1,
    "an integer ≥ 1",
  );
  expect("lease_seconds", isPositive(body.lease_seconds), "a number of seconds > 0");
  expect("heartbeat_seconds", isPositive(body.heartbeat_seconds), "a number of seconds > 0");
  if (problems.length > 0) {
    throw new ExternalWorkerError(`The gateway's bootstrap answer is not usable: ${problems.join("; ")}.`);
  }
  return {
    endpointId: typeof body.endpoint_id === "string" ? body.endpoint_id : endpoint,
    endpointType: body.endpoint_type as EndpointType,
    bundle: body.bundle as BundleV2,
    artifact: artifact ? { bucket: artifact.bucket as string, key: artifact.key as string } : null,
    concurrency: body.concurrency as number,
    leaseSeconds: body.lease_seconds as number,
    heartbeatSeconds: body.heartbeat_seconds as number,
  };
}

/**
 * The local path of the bundle's artifact: `<cacheDir>/.artifacts/<bundle id>.<zip|pkl>`, downloaded
 * unless a previous start left it there (bundles are immutable, and the file only appears complete).
 */
async function fetchArtifact(
  options: HttpChannelOptions,
  bootstrap: WorkerBootstrap,
  deadline: number,
  signal: AbortSignal | undefined,
): Promise<string | null> {
  const artifact = bootstrap.artifact;
  if (!artifact) return null;
  const pickle = bootstrap.bundle.flavor.flavor === "cloudpickle_artifact";
  const file = join(options.cacheDir, ".artifacts", `${bootstrap.bundle.id}.${pickle ? "pkl" : "zip"}`);
  if (
    await stat(file).then(
      (info) => info.isFile(),
      () => false,
    )
  ) {
    options.log.info(`using the cached artifact of bundle ${bootstrap.bundle.id} (${file})`);
    return file;
  }
  const path = `/v1/artifacts/${encodeURIComponent(artifact.bucket)}/${artifact.key.split("/").map(encodeURIComponent).join("/")}`;
  const began = performance.now();
  let answer: GatewayAnswer;
  try {
    answer = await options.gateway.download(path, file, { deadline, signal, timeoutMs: 10 * 60_000 });
  } catch (error) {
    signal?.throwIfAborted();
    throw new ExternalWorkerError(
      `Could not download the artifact of bundle ${bootstrap.bundle.id}: ${message(error)}`,
    );
  }
  if (answer.status !== 200) {
    throw new ExternalWorkerError(
      `The gateway refused the artifact of bundle ${bootstrap.bundle.id} (s3://${artifact.bucket}/${artifact.key}): ${describe(answer)}.`,
    );
  }
  const size = (await stat(file)).size;
  options.log.info(
    `downloaded the artifact of bundle ${bootstrap.bundle.id} (${size} bytes) in ${Math.round(performance.now() - began)} ms`,
  );
  return file;
}

/** A request retried until `deadline` while no gateway answers, with a clear error then. */
async function lastingRequest(
  options: HttpChannelOptions,
  method: string,
  path: string,
  deadline: number,
  signal: AbortSignal | undefined,
): Promise<GatewayAnswer> {
  try {
    return await options.gateway.request(method, path, { deadline, ...(signal ? { signal } : {}) });
  } catch (error) {
    signal?.throwIfAborted();
    throw new ExternalWorkerError(
      `Could not reach a gateway at ${options.gateway.servers.join(", ")} (${message(error)}): check --server (or LAUNCH_SERVER_URL) and that the server runs.`,
    );
  }
}

function isTask(value: unknown): value is WorkerTask {
  const task = value as { id?: unknown; token?: unknown } | null;
  return (
    typeof task === "object" && task !== null && typeof task.id === "string" && typeof task.token === "string"
  );
}

function isPositive(value: unknown): boolean {
  return typeof value === "number" && Number.isFinite(value) && value > 0;
}

function isLoopbackUrl(url: string): boolean {
  const host = new URL(url).hostname;
  return host === "localhost" || host === "[::1]" || host.startsWith("127.");
}

/** "409: the detail" or "409". */
function describe(answer: GatewayAnswer): string {
  return `${answer.status}${detailOf(answer.body)}`;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
