import { join } from "node:path";
import { LaunchError, sortableId, type WorkerInit } from "@launch/protocol";
import type { FastifyBaseLogger } from "fastify";
import type { ArtifactStore } from "../artifacts/port.js";
import type { LaunchConfig } from "../config/schema.js";
import { canTransition, type EndpointEvent, transition } from "../domain/endpoint-status.js";
import { parseBytes } from "../domain/quantity.js";
import { toBundleV2 } from "../gateway/views/bundles.js";
import type {
  Orchestrator,
  OrchestratorCapabilities,
  ReconcileReason,
  WorkerCounts,
  WorkerLoan,
  WorkerLogLine,
} from "../orchestration/port.js";
import type { TaskQueue } from "../queue/port.js";
import { resolveLocation } from "../services/uploads.js";
import type { EndpointRecord, Store } from "../store/port.js";
import { EndpointRunner, workerFingerprint } from "./endpoint-runner.js";
import { LocalWorker, type LocalWorkerEvents, type WorkerExit } from "./local-worker.js";
import { demandedWorkers, desiredWorkers } from "./scaling.js";
import { TaskFeeder } from "./task-feeder.js";
import { workerBinPath, workerEnv } from "./worker-bin.js";

export interface LocalOrchestratorOptions {
  config: LaunchConfig;
  store: Store;
  queue: TaskQueue;
  artifacts: ArtifactStore;
  /** Where the controller logs; `useLog` can set it once the server's logger exists. */
  log?: FastifyBaseLogger;
  /** Where the `launch-worker` program is; default: the built `@launch/worker`. */
  workerBin?: string;
  /** How often the controller reconciles (ms). */
  tickMs?: number;
  heartbeatMs?: number;
}

/** A worker that stays up this long has recovered: its endpoint's failure count starts again. */
const STABLE_MS = 60_000;

/**
 * Runs endpoints as `launch-worker` processes on this machine. It keeps each endpoint between
 * `min_workers` and `max_workers` workers by demand (queued + in-flight tasks and sync requests at
 * `per_worker` each), scales async endpoints with `min_workers: 0` to zero when idle and back up when a
 * task arrives, restarts crashed workers with backoff, rolls workers when an edit changes what they run
 * (new workers first, then the old ones drain, so no queued task is lost), and drives the endpoint's
 * status: READY once the minimum serves, UPDATE_FAILED quoting the failure.
 */
export class LocalOrchestrator implements Orchestrator {
  readonly capabilities: OrchestratorCapabilities = { runsWorkers: true };
  readonly #options: LocalOrchestratorOptions;
  readonly #runners = new Map<string, EndpointRunner>();
  #timer: NodeJS.Timeout | undefined;
  #tickScheduled = false;
  #ticking = false;
  #closed = false;
  readonly #binPath: string;
  #log: FastifyBaseLogger;

  constructor(options: LocalOrchestratorOptions) {
    this.#options = options;
    this.#binPath = options.workerBin ?? workerBinPath();
    this.#log = options.log ?? silentLogger();
  }

  /** Sets the logger (before `ready`). */
  useLog(log: FastifyBaseLogger): void {
    this.#log = log;
  }

  async ready(): Promise<void> {
    for (const record of await this.#options.store.listAllEndpoints()) {
      if (record.status === "DELETE_IN_PROGRESS") {
        await this.remove(record.id);
        continue;
      }
      const runner = this.#runner(record);
      if (record.status === "UPDATE_FAILED")
        runner.halted = record.statusReason ?? "failed before the server restarted";
      else if (record.status !== "READY") await this.#beginRollout(runner);
    }
    this.#timer = setInterval(() => this.#scheduleTick(), this.#options.tickMs ?? 200);
    this.#timer.unref();
    this.#scheduleTick();
  }

  async reconcile(endpointId: string, reason: ReconcileReason): Promise<void> {
    const record = await this.#options.store.getEndpoint(endpointId);
    if (!record) return;
    const runner = this.#runners.get(endpointId);
    if (!runner) {
      await this.#beginRollout(this.#runner(record));
      return;
    }
    runner.record = record;
    const fingerprint = workerFingerprint(record);
    if (reason !== "edited" || fingerprint !== runner.fingerprint || runner.halted !== undefined) {
      runner.generation++;
      runner.fingerprint = fingerprint;
      runner.halted = undefined;
      runner.failures = 0;
      runner.notBefore = 0;
      await this.#beginRollout(runner);
    } else {
      // Nothing the workers run changed (labels, hooks, callback defaults, worker counts): no roll.
      await this.#setStatus(endpointId, { type: "rollout_started" });
      await this.#setStatus(endpointId, { type: "rollout_succeeded" });
    }
    this.#scheduleTick();
  }

  async remove(endpointId: string): Promise<void> {
    const runner = this.#runners.get(endpointId);
    if (runner) {
      runner.removing = true;
      runner.halted = "the endpoint is being deleted";
      runner.wakeReadyWaiters();
      await Promise.all([...runner.workers].map((w) => w.drain(this.#drainMs())));
      await runner.feeder.close();
      this.#runners.delete(endpointId);
    }
    await this.#options.store.deleteEndpoint(endpointId);
  }

  async workerCounts(endpointId: string): Promise<WorkerCounts> {
    const runner = this.#runners.get(endpointId);
    if (!runner) return { available: 0, unavailable: 0 };
    let available = 0;
    let unavailable = 0;
    for (const worker of runner.workers) {
      if (worker.state === "ready") available++;
      else if (worker.state !== "exited") unavailable++;
    }
    return { available, unavailable };
  }

  async acquireWorker(endpointId: string, timeoutMs: number, signal?: AbortSignal): Promise<WorkerLoan> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const runner = this.#runners.get(endpointId);
      if (!runner) throw new LaunchError("unavailable", `Model endpoint ${endpointId} has no workers.`);
      const worker = pickLeastBusy(runner);
      if (worker?.url) {
        const loan: WorkerLoan = { workerId: worker.id, url: worker.url, release: worker.lend() };
        if (worker.modelUrl !== undefined) {
          loan.modelUrl = worker.modelUrl;
          loan.modelPredictRoute = worker.modelPredictRoute;
        }
        return loan;
      }
      if (runner.halted !== undefined) {
        throw new LaunchError(
          "unavailable",
          `Model endpoint ${endpointId} has no workers: ${firstLine(runner.halted)}`,
        );
      }
      const left = deadline - Date.now();
      if (left <= 0 || signal?.aborted) {
        throw new LaunchError(
          "unavailable",
          `No worker of model endpoint ${endpointId} became ready within ${Math.round(timeoutMs / 1000)} s.`,
        );
      }
      runner.waitingLoans++;
      this.#scheduleTick();
      try {
        await waitForReady(runner, left, signal);
      } finally {
        runner.waitingLoans--;
      }
    }
  }

  notifyWork(endpointId: string): void {
    const runner = this.#runners.get(endpointId);
    if (runner && runner.live().length === 0) this.#scheduleTick();
  }

  async logs(endpointId: string, tail: number): Promise<WorkerLogLine[]> {
    return this.#runners.get(endpointId)?.logs.tail(tail) ?? [];
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    const runners = [...this.#runners.values()];
    for (const runner of runners) {
      runner.halted = "the server is stopping";
      runner.wakeReadyWaiters();
    }
    await Promise.all(runners.flatMap((r) => [...r.workers].map((w) => w.drain(this.#drainMs()))));
    await Promise.all(runners.map((r) => r.feeder.close()));
    this.#runners.clear();
  }

  // ---- internals -------------------------------------------------------------------------------

  #runner(record: EndpointRecord): EndpointRunner {
    let runner = this.#runners.get(record.id);
    if (!runner) {
      const feeder = new TaskFeeder({
        queue: this.#options.queue,
        endpointId: record.id,
        owner: record.owner,
        artifacts: this.#options.artifacts,
        leaseMs: this.#options.config.taskLeaseSeconds * 1000,
        log: this.#log,
      });
      runner = new EndpointRunner(record, feeder);
      this.#runners.set(record.id, runner);
    }
    return runner;
  }

  async #beginRollout(runner: EndpointRunner): Promise<void> {
    runner.rollout = { generation: runner.generation };
    runner.lastNeededCurrentAt = Date.now();
    await this.#setStatus(runner.record.id, { type: "rollout_started" });
    this.#scheduleTick();
  }

  #scheduleTick(): void {
    if (this.#tickScheduled || this.#closed) return;
    this.#tickScheduled = true;
    setImmediate(() => {
      this.#tickScheduled = false;
      if (this.#ticking) {
        // Go round again once the tick in progress ends.
        setTimeout(() => this.#scheduleTick(), 10).unref();
        return;
      }
      this.#ticking = true;
      this.#tick()
        .catch((error: unknown) => this.#log.error({ err: error }, "controller tick failed"))
        .finally(() => {
          this.#ticking = false;
        });
    });
  }

  async #tick(): Promise<void> {
    const now = Date.now();
    for (const runner of this.#runners.values()) {
      if (runner.removing) continue;
      await this.#reconcileWorkers(runner, now);
    }
  }

  async #reconcileWorkers(runner: EndpointRunner, now: number): Promise<void> {
    const spec = runner.record.spec;
    const current = runner.current();
    const ready = current.filter((w) => w.state === "ready");

    // A rollout ends when the minimum of the new generation serves; then the old generation drains.
    if (runner.rollout && runner.halted === undefined && ready.length >= spec.minWorkers) {
      runner.rollout = undefined;
      for (const old of runner.older()) void old.drain(this.#drainMs());
      await this.#setStatus(runner.record.id, { type: "rollout_succeeded" });
    }
    if (runner.halted !== undefined) return;

    const depth = await this.#options.queue.counts(runner.record.id);
    const loans = current.reduce((sum, w) => sum + w.loans, 0) + runner.waitingLoans;
    const input = {
      minWorkers: spec.minWorkers,
      maxWorkers: Math.max(spec.maxWorkers, spec.minWorkers),
      perWorker: spec.perWorker,
      queued: depth.queued,
      inFlight: depth.inFlight,
      syncDemand: loans,
      current: current.length,
      now,
      lastNeededCurrentAt: runner.lastNeededCurrentAt,
      scaleDownMs: this.#options.config.workerScaleDownSeconds * 1000,
      idleMs: this.#options.config.workerIdleSeconds * 1000,
    };
    if (demandedWorkers(input) >= current.length) runner.lastNeededCurrentAt = now;
    const want = desiredWorkers(input);

    // Draining workers still run: they count against max_workers until they are gone.
    const draining = [...runner.workers].filter(
      (w) => w.state === "draining" && w.generation === runner.generation,
    );
    const room = Math.max(0, input.maxWorkers - draining.length);
    if (want > current.length && now >= runner.notBefore) {
      for (let i = current.length; i < Math.min(want, room); i++) await this.#startWorker(runner);
    } else if (want < current.length) {
      // Stop the worker doing least: one still starting, else the one holding fewest tasks.
      const victim = [...current].sort((a, b) => rank(a) - rank(b))[0];
      if (victim) void victim.drain(this.#drainMs());
      runner.lastNeededCurrentAt = now;
    }
  }

  async #startWorker(runner: EndpointRunner): Promise<void> {
    const record = runner.record;
    const bundleRecord = await this.#options.store.getBundle(record.spec.modelBundleId);
    if (!bundleRecord) {
      await this.#fail(runner, `the endpoint's bundle ${record.spec.modelBundleId} no longer exists`);
      return;
    }
    const bundle = toBundleV2(bundleRecord);
    let artifactPath: string | null = null;
    const location = "location" in bundle.flavor ? bundle.flavor.location : undefined;
    if (typeof location === "string" && location.startsWith("s3://")) {
      const resolved = await resolveLocation(this.#options.artifacts, location, bundleRecord.owner);
      if (!resolved?.localPath) {
        await this.#fail(runner, `the bundle's artifact ${location} was not found in the artifact store`);
        return;
      }
      artifactPath = resolved.localPath;
    }
    const config = this.#options.config;
    const workerId = `wrk_${sortableId()}`;
    const init: Omit<WorkerInit, "t"> = {
      endpointId: record.id,
      endpointType: record.endpointType,
      workerId,
      bundle,
      artifactPath,
      cacheDir: join(config.dataDir, "cache", "bundles"),
      python: config.python,
      pythonInstallTimeoutSeconds: config.pythonInstallTimeoutSeconds,
      concurrency: record.spec.concurrentRequestsPerWorker ?? record.spec.perWorker,
      httpPort: 0,
      readinessMarginSeconds: config.workerReadinessMarginSeconds,
      drainGraceMs: this.#drainMs(),
      heartbeatMs: this.#options.heartbeatMs ?? 1000,
    };
    const worker = new LocalWorker({
      binPath: this.#binPath,
      init,
      generation: runner.generation,
      env: workerEnv(),
      execArgv: memoryLimitArgs(record),
      logs: runner.logs,
      events: this.#events(runner),
      heartbeatTimeoutMs: Math.max(10_000, (this.#options.heartbeatMs ?? 1000) * 10),
    });
    runner.workers.add(worker);
    this.#log.info({ endpointId: record.id, workerId, pid: worker.pid }, "worker starting");
  }

  #events(runner: EndpointRunner): LocalWorkerEvents {
    return {
      ready: (worker) => {
        this.#log.info(
          { endpointId: runner.record.id, workerId: worker.id, url: worker.url },
          "worker ready",
        );
        if (worker.generation === runner.generation) runner.feeder.add(worker);
        else void worker.drain(this.#drainMs());
        runner.wakeReadyWaiters();
        this.#scheduleTick();
      },
      credit: () => runner.feeder.pump(),
      results: (worker, items) => runner.feeder.results(worker, items),
      release: (worker, items) => runner.feeder.release(worker, items),
      exit: (worker, exit) => this.#onWorkerExit(runner, worker, exit),
    };
  }

  #onWorkerExit(runner: EndpointRunner, worker: LocalWorker, exit: WorkerExit): void {
    runner.workers.delete(worker);
    runner.feeder.workerExited(worker, exit.reason);
    const expected = worker.state === "exited" && (runner.removing || this.#closed);
    const drained = exit.code === 0 && !exit.beforeReady;
    this.#log[drained || expected ? "info" : "warn"](
      { endpointId: runner.record.id, workerId: worker.id, code: exit.code, signal: exit.signal },
      drained ? "worker stopped" : `worker exited: ${firstLine(exit.reason)}`,
    );
    if (drained || expected || runner.halted !== undefined || worker.generation !== runner.generation) {
      this.#scheduleTick();
      return;
    }
    // A worker of the current generation failed.
    if (worker.readyAt !== undefined && Date.now() - worker.readyAt > STABLE_MS) runner.failures = 0;
    runner.failures++;
    if (exit.beforeReady && runner.rollout) {
      // Starting the new generation failed: the rollout fails with the reason; older workers keep serving.
      void this.#fail(runner, exit.reason);
      return;
    }
    if (runner.failures > this.#options.config.workerMaxRestarts) {
      void this.#fail(
        runner,
        `workers keep failing (${runner.failures} times in a row); the last: ${exit.reason}`,
      );
      return;
    }
    runner.notBefore = Date.now() + backoffMs(runner.failures);
    setTimeout(() => this.#scheduleTick(), backoffMs(runner.failures) + 5).unref();
  }

  /** The endpoint failed: record why, stop its current-generation workers, start no more. */
  async #fail(runner: EndpointRunner, reason: string): Promise<void> {
    runner.halted = reason;
    runner.wakeReadyWaiters();
    const event: EndpointEvent = runner.rollout
      ? { type: "rollout_failed", reason }
      : { type: "workers_failed", reason };
    runner.rollout = undefined;
    for (const worker of runner.current()) void worker.drain(0);
    await this.#setStatus(runner.record.id, event);
  }

  /** Moves the endpoint's status by `event` if it can (re-reading on a concurrent write). */
  async #setStatus(endpointId: string, event: EndpointEvent): Promise<boolean> {
    const store = this.#options.store;
    for (let attempt = 0; attempt < 8; attempt++) {
      const record = await store.getEndpoint(endpointId);
      if (!record || !canTransition(record.status, event.type)) return false;
      const next = transition(record.status, event);
      const updated = await store.updateEndpoint(endpointId, record.version, next, new Date().toISOString());
      if (updated) {
        const runner = this.#runners.get(endpointId);
        if (runner) runner.record = updated;
        return true;
      }
    }
    return false;
  }

  #drainMs(): number {
    return this.#options.config.workerDrainSeconds * 1000;
  }
}

/** The least busy ready worker, preferring the current generation (older ones serve during a rollout). */
function pickLeastBusy(runner: EndpointRunner): LocalWorker | undefined {
  const ready = [...runner.workers].filter((w) => w.state === "ready");
  const current = ready.filter((w) => w.generation === runner.generation);
  let best: LocalWorker | undefined;
  for (const worker of current.length > 0 ? current : ready) {
    if (!best || worker.loans + worker.holding.size < best.loans + best.holding.size) best = worker;
  }
  return best;
}

function waitForReady(runner: EndpointRunner, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      runner.readyWaiters.delete(done);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    runner.readyWaiters.add(done);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** Starting workers go first, then the least loaded. */
function rank(worker: LocalWorker): number {
  return worker.state === "starting" ? -1 : worker.holding.size + worker.loans;
}

function silentLogger(): FastifyBaseLogger {
  const noop = () => {};
  const logger = {
    level: "silent",
    fatal: noop,
    error: noop,
    warn: noop,
    info: noop,
    debug: noop,
    trace: noop,
    silent: noop,
    child: () => logger,
  };
  return logger as unknown as FastifyBaseLogger;
}

/** 0.5 s, 1 s, 2 s, … up to 30 s. */
export function backoffMs(failures: number): number {
  return Math.min(30_000, 500 * 2 ** Math.max(0, failures - 1));
}

/** A Node bundle runs inside the worker, so the endpoint's memory request caps the worker's heap. */
function memoryLimitArgs(record: EndpointRecord): string[] {
  const bytes = parseBytes(record.spec.memory);
  if (bytes === undefined) return [];
  const mib = Math.floor(bytes / (1024 * 1024));
  return mib >= 64 ? [`--max-old-space-size=${mib}`] : [];
}

function firstLine(text: string): string {
  return text.split("\n", 1)[0] ?? text;
}
