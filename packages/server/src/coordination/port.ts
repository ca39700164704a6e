/**
 * The coordination port: what processes of one installation agree on when there are several of them
 * (`docs/operations.md`): which external workers are alive, and which process is the controller.
 *
 * - `WorkerRegistry`: external workers (`launch-worker --endpoint`) register the URL gateways reach them
 *   at and heartbeat; a worker silent for `ttlMs` is gone (not counted, not lent to sync requests).
 * - `LeaderLease`: a named lease held by one holder at a time for `ttlMs`, renewed by its holder; when
 *   the holder dies, another process acquires it once the lease runs out.
 *
 * - `endpointChanges`: "this endpoint changed" messages, so that every process may cache endpoints.
 *
 * Adapters: `memory.ts` (one process: the single-node default) and `redis.ts` (several processes, with
 * the Redis queue). Both run `coordination.suite.ts`.
 */

import type { EndpointChangeBus } from "../store/port.js";

/** An external worker as registered. */
export interface RegisteredWorker {
  id: string;
  endpointId: string;
  /** The team that registered it (the endpoint's). */
  owner: string;
  /** Base URL of the worker's HTTP port, as gateways reach it. */
  url: string;
  /** The model's own server when it has one (runnable images), for sync requests straight to it. */
  modelUrl: string | null;
  modelPredictRoute: string | null;
  /** What gateways send in `x-launch-worker-token` to the worker's sync port (a secret; never shown). */
  syncToken?: string | null;
  concurrency: number;
  hostname: string;
  pid: number | null;
  /** Epoch ms of registration. */
  registeredAt: number;
}

export interface WorkerRegistry {
  /** Records (or replaces) a worker, alive for `ttlMs` from now. */
  register(worker: RegisteredWorker, ttlMs: number): Promise<void>;
  /** Keeps a worker alive for `ttlMs` more; false when it is unknown (expired or removed). */
  heartbeat(workerId: string, ttlMs: number): Promise<boolean>;
  get(workerId: string): Promise<RegisteredWorker | undefined>;
  /** The live workers of an endpoint, oldest registration first. */
  list(endpointId: string): Promise<RegisteredWorker[]>;
  /** False when it was not registered. */
  remove(workerId: string): Promise<boolean>;
  /** Forgets every worker of an endpoint (the endpoint was deleted). */
  removeEndpoint(endpointId: string): Promise<void>;
}

export interface LeaderLease {
  /**
   * Takes the lease for `holder` when it is free or expired, or renews it when `holder` has it. True when
   * `holder` holds it for `ttlMs` from now.
   */
  acquire(name: string, holder: string, ttlMs: number): Promise<boolean>;
  /** Gives the lease up when `holder` has it (a clean shutdown), so another process takes over at once. */
  release(name: string, holder: string): Promise<void>;
  /** Who holds it now, if anyone. */
  holder(name: string): Promise<string | undefined>;
}

export interface Coordination {
  readonly workers: WorkerRegistry;
  readonly leases: LeaderLease;
  /**
   * "This endpoint changed", between processes, so that each may cache endpoints (`Store.
   * shareEndpointChanges`). Absent when there is only one process (its store caches on its own).
   */
  readonly endpointChanges?: EndpointChangeBus;
  close(): Promise<void>;
}
