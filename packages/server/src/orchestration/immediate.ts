import { LaunchError } from "@launch/protocol";
import { transition } from "../domain/endpoint-status.js";
import type { Store } from "../store/port.js";
import type {
  Orchestrator,
  OrchestratorCapabilities,
  ReconcileReason,
  WorkerCounts,
  WorkerLoan,
  WorkerLogLine,
} from "./port.js";

/** Enough passes for pending → in progress → ready, plus a few lost races with concurrent edits. */
const MAX_PASSES = 8;

/**
 * An orchestrator that runs no workers. It walks every desired-state change through the state machine
 * right away (`UPDATE_PENDING` → `UPDATE_IN_PROGRESS` → `READY`), which the foundation issue allows until
 * the execution issue brings real workers. Deleting removes the record at once.
 *
 * It reports **0 available workers**, because none run: reporting `min_workers` would tell clients (and
 * the reference tests, which wait for `available_workers > 0`) that tasks can be served when they cannot.
 *
 * @example const orchestrator = new ImmediateOrchestrator({ store, now: () => new Date() });
 */
export class ImmediateOrchestrator implements Orchestrator {
  readonly capabilities: OrchestratorCapabilities = { runsWorkers: false };
  readonly #store: Store;
  readonly #now: () => Date;

  constructor(deps: { store: Store; now: () => Date }) {
    this.#store = deps.store;
    this.#now = deps.now;
  }

  async ready(): Promise<void> {
    for (const endpoint of await this.#store.listAllEndpoints()) {
      if (endpoint.status === "DELETE_IN_PROGRESS") await this.remove(endpoint.id);
      else await this.#rollOut(endpoint.id);
    }
  }

  async reconcile(endpointId: string, _reason: ReconcileReason): Promise<void> {
    await this.#rollOut(endpointId);
  }

  async remove(endpointId: string): Promise<void> {
    await this.#store.deleteEndpoint(endpointId);
  }

  async workerCounts(_endpointId: string): Promise<WorkerCounts> {
    // No worker processes exist yet: honest counts are zero (see the class comment).
    return { available: 0, unavailable: 0 };
  }

  async acquireWorker(endpointId: string, _timeoutMs?: number, _signal?: AbortSignal): Promise<WorkerLoan> {
    throw new LaunchError(
      "unavailable",
      `Model endpoint ${endpointId} has no workers: this server runs none (LAUNCH_ORCHESTRATION=none).`,
    );
  }

  notifyWork(_endpointId: string): void {}

  async logs(_endpointId: string, _tail: number): Promise<WorkerLogLine[]> {
    return [];
  }

  async close(): Promise<void> {}

  /** Moves the endpoint one step at a time until it is READY (or no longer in a rollout). */
  async #rollOut(endpointId: string): Promise<void> {
    for (let pass = 0; pass < MAX_PASSES; pass++) {
      const endpoint = await this.#store.getEndpoint(endpointId);
      if (!endpoint) return;
      let next: ReturnType<typeof transition>;
      if (endpoint.status === "UPDATE_PENDING")
        next = transition(endpoint.status, { type: "rollout_started" });
      else if (endpoint.status === "UPDATE_IN_PROGRESS")
        next = transition(endpoint.status, { type: "rollout_succeeded" });
      else return;
      // A lost race (someone edited in between) returns undefined; the next pass re-reads and goes on.
      await this.#store.updateEndpoint(endpointId, endpoint.version, next, this.#now().toISOString());
    }
  }
}
