import type { EndpointRecord } from "../store/port.js";
import type { LocalWorker } from "./local-worker.js";
import { LogBuffer } from "./log-buffer.js";
import type { TaskFeeder } from "./task-feeder.js";

/** A rollout in progress: workers of `generation` must become ready before older ones are stopped. */
export interface Rollout {
  generation: number;
}

/**
 * What the local orchestrator keeps about one endpoint: its last known record, its workers (of the
 * current and older generations), its task feeder, logs and restart bookkeeping.
 */
export class EndpointRunner {
  record: EndpointRecord;
  /** Bumped by every change that needs fresh workers (create, restart, a new bundle or resources). */
  generation = 1;
  /** What the current generation runs; an edit that changes it starts a new generation. */
  fingerprint: string;
  rollout: Rollout | undefined;
  readonly workers = new Set<LocalWorker>();
  readonly logs = new LogBuffer(2000);
  /** Consecutive start failures or crashes; reset when a worker stays up. */
  failures = 0;
  /** No worker starts before this time (restart backoff). */
  notBefore = 0;
  /** No more workers start: the endpoint failed (an edit or restart clears this) or is being removed. */
  halted: string | undefined;
  removing = false;
  lastNeededCurrentAt = Date.now();
  /** Sync and streaming requests waiting for a ready worker. */
  waitingLoans = 0;
  readonly readyWaiters = new Set<() => void>();
  nextWorker = 1;

  constructor(
    record: EndpointRecord,
    readonly feeder: TaskFeeder,
  ) {
    this.record = record;
    this.fingerprint = workerFingerprint(record);
  }

  /** Workers that serve or will serve (not draining or gone). */
  live(): LocalWorker[] {
    return [...this.workers].filter((w) => w.state === "starting" || w.state === "ready");
  }

  current(): LocalWorker[] {
    return this.live().filter((w) => w.generation === this.generation);
  }

  older(): LocalWorker[] {
    return this.live().filter((w) => w.generation !== this.generation);
  }

  wakeReadyWaiters(): void {
    for (const wake of [...this.readyWaiters]) wake();
  }
}

/** What a worker runs; an edit that changes it rolls the workers. */
export function workerFingerprint(record: EndpointRecord): string {
  const s = record.spec;
  return JSON.stringify([
    s.modelBundleId,
    s.concurrentRequestsPerWorker ?? s.perWorker,
    s.cpus,
    s.memory,
    s.gpus,
    s.storage,
  ]);
}
