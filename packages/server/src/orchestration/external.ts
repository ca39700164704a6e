/**
 * The orchestrator for `LAUNCH_ORCHESTRATION=external`: the controller starts nothing. Workers are
 * `launch-worker --endpoint <id>` processes started by any process manager on any host; they register
 * through the gateway's worker routes (`gateway/routes/workers.ts`) into the `WorkerRegistry`, which is
 * where this orchestrator counts them (`available_workers`) and picks one for a sync request.
 *
 * An endpoint becomes READY as soon as its change is recorded (there is nothing to roll out here); the
 * reference tests and clients then wait for `available_workers > 0`, which only registered, live workers
 * give. A worker that reports a failed start puts the endpoint in UPDATE_FAILED with its reason when no
 * other worker of it is alive.
 */
import { LaunchError } from "@launch/protocol";
import { WORKER_TOKEN_HEADER } from "@launch/worker";
import type { WorkerRegistry } from "../coordination/port.js";
import { transition } from "../domain/endpoint-status.js";
import type { Store } from "../store/port.js";
import { ImmediateOrchestrator } from "./immediate.js";
import type { OrchestratorCapabilities, WorkerCounts, WorkerLoan, WorkerLogLine } from "./port.js";

const POLL_MS = 200;

export interface ExternalOrchestratorDeps {
  store: Store;
  workers: WorkerRegistry;
  now: () => Date;
}

export class ExternalOrchestrator extends ImmediateOrchestrator {
  override readonly capabilities: OrchestratorCapabilities = { runsWorkers: true };
  readonly #deps: ExternalOrchestratorDeps;
  /** Requests this process has in flight per worker, to pick the least busy. */
  readonly #inFlight = new Map<string, number>();

  constructor(deps: ExternalOrchestratorDeps) {
    super({ store: deps.store, now: deps.now });
    this.#deps = deps;
  }

  override async remove(endpointId: string): Promise<void> {
    await this.#deps.workers.removeEndpoint(endpointId);
    await super.remove(endpointId);
  }

  override async workerCounts(endpointId: string): Promise<WorkerCounts> {
    return { available: (await this.#deps.workers.list(endpointId)).length, unavailable: 0 };
  }

  override async acquireWorker(
    endpointId: string,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<WorkerLoan> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const workers = await this.#deps.workers.list(endpointId);
      if (workers.length > 0) {
        const busy = (id: string) => this.#inFlight.get(id) ?? 0;
        const worker = workers.reduce((best, w) => (busy(w.id) < busy(best.id) ? w : best));
        this.#inFlight.set(worker.id, busy(worker.id) + 1);
        let released = false;
        const loan: WorkerLoan = {
          workerId: worker.id,
          url: worker.url,
          release: () => {
            if (released) return;
            released = true;
            const left = busy(worker.id) - 1;
            if (left <= 0) this.#inFlight.delete(worker.id);
            else this.#inFlight.set(worker.id, left);
          },
        };
        if (worker.syncToken) loan.headers = { [WORKER_TOKEN_HEADER]: worker.syncToken };
        if (worker.modelUrl) {
          loan.modelUrl = worker.modelUrl;
          loan.modelPredictRoute = worker.modelPredictRoute ?? "/predict";
        }
        return loan;
      }
      if (Date.now() >= deadline || signal?.aborted) {
        throw new LaunchError(
          "unavailable",
          `Model endpoint ${endpointId} has no live worker (external workers register with launch-worker --endpoint ${endpointId}).`,
        );
      }
      await new Promise((resolve) =>
        setTimeout(resolve, Math.min(POLL_MS, Math.max(0, deadline - Date.now()))),
      );
    }
  }

  override async logs(_endpointId: string, _tail: number): Promise<WorkerLogLine[]> {
    // External workers write their logs where their process manager keeps them (journald, kubectl logs).
    return [];
  }

  /** A worker could not start its model: the endpoint fails with the reason unless another worker is alive. */
  async workerStartFailed(endpointId: string, reason: string): Promise<void> {
    if ((await this.#deps.workers.list(endpointId)).length > 0) return;
    const endpoint = await this.#deps.store.getEndpoint(endpointId);
    if (!endpoint || endpoint.status === "DELETE_IN_PROGRESS" || endpoint.status === "UPDATE_FAILED") return;
    let next: ReturnType<typeof transition>;
    try {
      next = transition(endpoint.status, { type: "workers_failed", reason });
    } catch {
      return;
    }
    await this.#deps.store.updateEndpoint(endpointId, endpoint.version, next, this.#deps.now().toISOString());
  }
}
