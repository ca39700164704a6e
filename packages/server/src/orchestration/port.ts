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
  /** Stops background work (and, for adapters that run them, the workers this process owns). */
  close(): Promise<void>;
}
