/**
 * External workers (`LAUNCH_ORCHESTRATION=external`): `launch-worker --endpoint <id>` processes on any
 * host join an endpoint through the gateway (`gateway/routes/workers.ts`). The contract:
 *
 * 1. `bootstrap`: the endpoint's bundle, where to download its artifact, and the worker's timings;
 * 2. `register` once the model is ready: the URL gateways reach the worker at (sync and streaming);
 * 3. `lease` (a long poll), `results`, `release`: the async tasks, straight on the shared queue;
 * 4. `heartbeat`: keeps the registration alive and extends the leases of the tasks it holds;
 * 5. `remove` on a clean exit; `startFailed` when the model could not start.
 *
 * Gateways are stateless: every call goes to the shared queue and the shared `WorkerRegistry`, so a
 * worker may use any gateway for any call, and a lost gateway loses nothing.
 */
import type { BundleV2, EndpointType, TaskOutcome, WorkerTask } from "@launch/protocol";
import { LaunchError, newId } from "@launch/protocol";
import { type ArtifactStore, parseLocation } from "../artifacts/port.js";
import type { LaunchConfig } from "../config/schema.js";
import type { RegisteredWorker, WorkerRegistry } from "../coordination/port.js";
import { toBundleV2 } from "../gateway/views/bundles.js";
import type { TaskQueue } from "../queue/port.js";
import type { EndpointRecord, Store } from "../store/port.js";
import type { Caller } from "./endpoints.js";
import { recordOutcome, toWorkerTask } from "./worker-tasks.js";

/** A worker silent for this many heartbeats is dropped. */
export const MISSED_HEARTBEATS = 5;
/** The longest a lease call waits for work. */
export const LEASE_WAIT_MAX_SECONDS = 30;

export interface WorkerBootstrap {
  endpoint_id: string;
  endpoint_type: EndpointType;
  bundle: BundleV2;
  artifact: { bucket: string; key: string } | null;
  concurrency: number;
  lease_seconds: number;
  heartbeat_seconds: number;
}

export interface WorkerRegistration {
  endpoint_id: string;
  url: string;
  concurrency: number;
  pid?: number | null;
  hostname?: string;
  model_url?: string | null;
  model_predict_route?: string | null;
  /** The secret the worker's sync port expects from gateways (`x-launch-worker-token`). */
  sync_token?: string | null;
}

export interface HeldLease {
  id: string;
  token: string;
}

export interface ExternalWorkerDeps {
  store: Pick<Store, "getEndpoint" | "getBundle">;
  queue: TaskQueue;
  artifacts: ArtifactStore;
  registry: WorkerRegistry;
  config: Pick<LaunchConfig, "orchestration" | "taskLeaseSeconds" | "workerHeartbeatSeconds">;
  /** Tells the orchestrator a worker could not start (the endpoint may go to UPDATE_FAILED). */
  onStartFailed?: (endpointId: string, reason: string) => Promise<void>;
}

export class ExternalWorkerService {
  readonly #deps: ExternalWorkerDeps;

  constructor(deps: ExternalWorkerDeps) {
    this.#deps = deps;
  }

  get #ttlMs(): number {
    return this.#deps.config.workerHeartbeatSeconds * 1000 * MISSED_HEARTBEATS;
  }

  get #leaseMs(): number {
    return this.#deps.config.taskLeaseSeconds * 1000;
  }

  async bootstrap(caller: Caller, endpointId: string): Promise<WorkerBootstrap> {
    const endpoint = await this.#endpoint(caller, endpointId);
    const record = await this.#deps.store.getBundle(endpoint.spec.modelBundleId);
    if (!record) {
      throw new LaunchError(
        "not_found",
        `The bundle ${endpoint.spec.modelBundleId} of model endpoint ${endpointId} no longer exists.`,
      );
    }
    const bundle = toBundleV2(record);
    const location = "location" in bundle.flavor ? bundle.flavor.location : undefined;
    const artifact = typeof location === "string" ? (parseLocation(location) ?? null) : null;
    return {
      endpoint_id: endpoint.id,
      endpoint_type: endpoint.endpointType,
      bundle,
      artifact,
      concurrency: endpoint.spec.concurrentRequestsPerWorker ?? endpoint.spec.perWorker,
      lease_seconds: this.#deps.config.taskLeaseSeconds,
      heartbeat_seconds: this.#deps.config.workerHeartbeatSeconds,
    };
  }

  async register(caller: Caller, body: WorkerRegistration, now: number): Promise<{ worker_id: string }> {
    const endpoint = await this.#endpoint(caller, body.endpoint_id);
    const worker: RegisteredWorker = {
      id: newId("worker"),
      endpointId: endpoint.id,
      owner: endpoint.owner,
      url: body.url.replace(/\/+$/, ""),
      modelUrl: body.model_url ?? null,
      modelPredictRoute: body.model_predict_route ?? null,
      syncToken: body.sync_token ?? null,
      concurrency: body.concurrency,
      hostname: body.hostname ?? "",
      pid: body.pid ?? null,
      registeredAt: now,
    };
    await this.#deps.registry.register(worker, this.#ttlMs);
    return { worker_id: worker.id };
  }

  /** Up to `max` tasks, waiting up to `waitSeconds` for the first when none is queued. */
  async lease(
    caller: Caller,
    workerId: string,
    max: number,
    waitSeconds: number,
    signal?: AbortSignal,
  ): Promise<{ tasks: WorkerTask[] }> {
    const worker = await this.#worker(caller, workerId);
    const { queue } = this.#deps;
    const deadline = Date.now() + Math.min(waitSeconds, LEASE_WAIT_MAX_SECONDS) * 1000;
    for (;;) {
      if (signal?.aborted) return { tasks: [] };
      const leased = await queue.lease({ queue: worker.endpointId, workerId, max, leaseMs: this.#leaseMs });
      if (leased.length > 0 && signal?.aborted) {
        // The worker went away while waiting: give the tasks back rather than let them wait for expiry.
        for (const task of leased) await queue.release(task.id, task.leaseToken);
        return { tasks: [] };
      }
      if (leased.length > 0) return { tasks: leased.map(toWorkerTask) };
      const left = deadline - Date.now();
      if (left <= 0 || signal?.aborted) return { tasks: [] };
      await queue.waitForWork(worker.endpointId, left, signal).catch(() => false);
    }
  }

  async results(
    caller: Caller,
    workerId: string,
    items: { id: string; token: string; outcome: TaskOutcome }[],
  ): Promise<{ recorded: number }> {
    await this.#worker(caller, workerId, { allowGone: true });
    const deps = { queue: this.#deps.queue, artifacts: this.#deps.artifacts };
    // All at once: the queue pipelines them (one round trip to Redis for the batch).
    const done = await Promise.all(
      items.map(({ id, token, outcome }) => recordOutcome(deps, id, token, outcome)),
    );
    return { recorded: done.filter(Boolean).length };
  }

  async release(caller: Caller, workerId: string, items: HeldLease[]): Promise<{ released: number }> {
    await this.#worker(caller, workerId, { allowGone: true });
    let released = 0;
    for (const { id, token } of items) if (await this.#deps.queue.release(id, token)) released++;
    return { released };
  }

  async heartbeat(caller: Caller, workerId: string, leases: HeldLease[]): Promise<{ ok: true }> {
    await this.#worker(caller, workerId);
    if (!(await this.#deps.registry.heartbeat(workerId, this.#ttlMs))) throw unknownWorker(workerId);
    for (const { id, token } of leases) await this.#deps.queue.extendLease(id, token, this.#leaseMs);
    return { ok: true };
  }

  async remove(caller: Caller, workerId: string): Promise<{ deleted: true }> {
    await this.#worker(caller, workerId);
    await this.#deps.registry.remove(workerId);
    return { deleted: true };
  }

  async startFailed(
    caller: Caller,
    endpointId: string,
    reason: string,
    hostname: string,
  ): Promise<{ recorded: true }> {
    const endpoint = await this.#endpoint(caller, endpointId);
    const where = hostname ? ` on ${hostname}` : "";
    await this.#deps.onStartFailed?.(endpoint.id, `A worker${where} could not start the model: ${reason}`);
    return { recorded: true };
  }

  async #endpoint(caller: Caller, endpointId: string): Promise<EndpointRecord> {
    if (this.#deps.config.orchestration !== "external") {
      throw new LaunchError(
        "conflict",
        `External workers need LAUNCH_ORCHESTRATION=external; this server's orchestration is ${this.#deps.config.orchestration}.`,
      );
    }
    const endpoint = await this.#deps.store.getEndpoint(endpointId);
    if (!endpoint || endpoint.owner !== caller.teamId) {
      throw new LaunchError("not_found", `Model endpoint ${endpointId} was not found.`);
    }
    if (endpoint.status === "DELETE_IN_PROGRESS") {
      throw new LaunchError("conflict", `Model endpoint ${endpointId} is being deleted.`);
    }
    return endpoint;
  }

  /**
   * The registered worker of the caller's team. A worker dropped after missing heartbeats is unknown
   * (404, so it registers again), except for handing back results and leases (`allowGone`): its leases
   * may still be valid, and the queue's tokens decide.
   */
  async #worker(
    caller: Caller,
    workerId: string,
    options: { allowGone?: boolean } = {},
  ): Promise<RegisteredWorker> {
    const worker = await this.#deps.registry.get(workerId);
    if (worker && worker.owner !== caller.teamId) throw unknownWorker(workerId);
    if (worker) return worker;
    if (!options.allowGone) throw unknownWorker(workerId);
    return {
      id: workerId,
      endpointId: "",
      owner: caller.teamId,
      url: "",
      modelUrl: null,
      modelPredictRoute: null,
      concurrency: 0,
      hostname: "",
      pid: null,
      registeredAt: 0,
    };
  }
}

function unknownWorker(workerId: string): LaunchError {
  return new LaunchError(
    "not_found",
    `Worker ${workerId} is not registered (it may have been dropped after missing heartbeats); register again with POST /v1/workers.`,
  );
}
