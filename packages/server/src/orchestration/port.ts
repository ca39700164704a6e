/**
 * The orchestrator port: turns an endpoint's recorded desired state into running workers, and reports
 * how many there are. The gateway records what the owner asked for in the store first, then tells the
 * orchestrator; the orchestrator drives the endpoint's status through the state machine
 * (`domain/endpoint-status.ts`) as workers come up or fail.
 *
 * Adapters: `orchestration/immediate.ts` (no workers; marks endpoints READY at once, until the execution
 * issue lands). The execution issue adds one that runs real worker processes.
 */

/** Why an endpoint needs reconciling. A restart replaces every worker even when the spec is unchanged. */
export type ReconcileReason = "created" | "edited" | "restarted";

/** Workers of one endpoint, as reported in `deployment_state`. */
export interface WorkerCounts {
  /** Workers that are ready to take tasks. */
  available: number;
  /** Workers that exist but are starting, unhealthy or stopping. */
  unavailable: number;
}

/** A ready worker lent to one sync or streaming request; call `release` when the request ends. */
export interface WorkerLoan {
  workerId: string;
  /** Base URL of the worker's HTTP port, e.g. `http://127.0.0.1:41234`. */
  url: string;
  /**
   * Base URL of the worker's model server when it has one (runnable images), e.g.
   * `http://127.0.0.1:41235`: a sync prediction with plain `args` may go straight there
   * (`POST <modelUrl><modelPredictRoute>`), skipping the worker's hop. The loan covers it the same way.
   */
  modelUrl?: string | undefined;
  /** The model server's predict route, with `modelUrl`. */
  modelPredictRoute?: string | undefined;
  /** Headers the worker's HTTP port expects with each request (an external worker's sync token). */
  headers?: Record<string, string> | undefined;
  release(): void;
}

/** One line of worker output (`GET /v1/model-endpoints/{id}/logs`). */
export interface WorkerLogLine {
  worker_id: string;
  /** ISO 8601. */
  time: string;
  stream: "stdout" | "stderr";
  line: string;
}

/** What an orchestrator can do; core code asks for capabilities, never for the adapter's kind. */
export interface OrchestratorCapabilities {
  /** The orchestrator starts real worker processes (false for `immediate`). */
  readonly runsWorkers: boolean;
}

export interface Orchestrator {
  readonly capabilities: OrchestratorCapabilities;
  /**
   * Called once at start: picks up every endpoint in the store, finishing rollouts and deletions that a
   * previous process left halfway.
   */
  ready(): Promise<void>;
  /**
   * The endpoint's desired state changed (it was created, edited or restarted; its status is
   * `UPDATE_PENDING`). Resolves once the change is taken in hand, not when workers are ready. Rollout
   * failures are recorded on the endpoint as `UPDATE_FAILED` with a reason, never thrown.
   */
  reconcile(endpointId: string, reason: ReconcileReason): Promise<void>;
  /**
   * The endpoint is `DELETE_IN_PROGRESS`: stops its workers, then removes its record from the store.
   * Resolves once the endpoint is gone. Safe to call again after a failure.
   */
  remove(endpointId: string): Promise<void>;
  /** How many workers the endpoint has right now. */
  workerCounts(endpointId: string): Promise<WorkerCounts>;
  /**
   * A ready worker of the endpoint for one sync or streaming request: the least busy one. When none is
   * ready it waits (asking for one to start if the endpoint may scale) and rejects with an `unavailable`
   * LaunchError (503) when none becomes ready within `timeoutMs`.
   */
  acquireWorker(endpointId: string, timeoutMs: number, signal?: AbortSignal): Promise<WorkerLoan>;
  /** Async work arrived for the endpoint: a hint to scale up (from zero) without waiting for the next tick. */
  notifyWork(endpointId: string): void;
  /** The endpoint's most recent worker output, oldest first. */
  logs(endpointId: string, tail: number): Promise<WorkerLogLine[]>;
  /** Stops background work (and, for adapters that run them, the workers this process owns). */
  close(): Promise<void>;
}
