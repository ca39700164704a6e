import type { TaskOutcome } from "@launch/protocol";
import type { FastifyBaseLogger } from "fastify";
import type { ArtifactStore } from "../artifacts/port.js";
import type { TaskQueue } from "../queue/port.js";
import { recordOutcome, toWorkerTask } from "../services/worker-tasks.js";
import type { LocalWorker } from "./local-worker.js";

export interface TaskFeederOptions {
  queue: TaskQueue;
  endpointId: string;
  /** The endpoint's team, which owns its pickled results. */
  owner: string;
  /** Where `return_pickled` outputs are stored. */
  artifacts: ArtifactStore;
  leaseMs: number;
  log: FastifyBaseLogger;
}

/**
 * Feeds one endpoint's queued tasks to its local workers. Workers grant credit (free slots); the feeder
 * leases that many tasks in each worker's name and pushes them, then waits for work with the queue's
 * notification, so a task submitted to an idle endpoint starts without a polling delay. It records the
 * results workers send back, keeps the leases of live workers alive, and, when a worker dies, fails its
 * tasks for retry at once instead of waiting for their leases to expire.
 */
export class TaskFeeder {
  readonly #options: TaskFeederOptions;
  readonly #workers = new Set<LocalWorker>();
  readonly #abort = new AbortController();
  #running = false;
  #again = false;
  #creditWaiter: (() => void) | undefined;
  readonly #extender: NodeJS.Timeout;
  /** Writes in flight, so `close` can let them land. */
  readonly #pending = new Set<Promise<unknown>>();

  constructor(options: TaskFeederOptions) {
    this.#options = options;
    this.#extender = setInterval(() => this.#extendLeases(), Math.max(500, Math.floor(options.leaseMs / 3)));
    this.#extender.unref();
  }

  /** A worker that became ready. */
  add(worker: LocalWorker): void {
    this.#workers.add(worker);
    this.pump();
  }

  remove(worker: LocalWorker): void {
    this.#workers.delete(worker);
  }

  /** New credit or new work: run the feeding loop (once; later calls while it runs make it go round again). */
  pump(): void {
    this.#creditWaiter?.();
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = true;
    void this.#loop()
      .catch((error: unknown) =>
        this.#options.log.error({ err: error, endpointId: this.#options.endpointId }, "task feeder failed"),
      )
      .finally(() => {
        this.#running = false;
      });
  }

  async #loop(): Promise<void> {
    const { queue, endpointId, leaseMs } = this.#options;
    while (!this.#abort.signal.aborted) {
      this.#again = false;
      let starved = false;
      let hungry = false;
      for (const worker of this.#workers) {
        if (worker.state !== "ready" || worker.credit <= 0) continue;
        hungry = true;
        const want = worker.credit;
        const tasks = await queue.lease({ queue: endpointId, workerId: worker.id, max: want, leaseMs });
        if (tasks.length > 0) {
          if (worker.state !== "ready") {
            // It went away while we leased: give the tasks straight back.
            for (const task of tasks) this.#track(queue.release(task.id, task.leaseToken));
            continue;
          }
          worker.credit -= tasks.length;
          worker.push(tasks.map(toWorkerTask));
        }
        if (tasks.length < want) {
          starved = true;
          break;
        }
      }
      if (this.#abort.signal.aborted) return;
      if (this.#again) continue;
      if (starved) {
        // Wait for work; new credit does not matter while the queue is empty.
        await queue.waitForWork(endpointId, 10_000, this.#abort.signal);
        continue;
      }
      if (!hungry) {
        // Every worker is full (or none is ready): wait for credit.
        await new Promise<void>((resolve) => {
          this.#creditWaiter = resolve;
        });
        this.#creditWaiter = undefined;
      }
    }
  }

  /** A worker's finished tasks: record each (the first completion of a lease wins). */
  results(worker: LocalWorker, items: { id: string; token: string; outcome: TaskOutcome }[]): void {
    for (const { id, token, outcome } of items) {
      const write = recordOutcome(this.#options, id, token, outcome);
      this.#track(write, `recording the result of task ${id} from worker ${worker.id}`);
    }
  }

  /** Tasks a draining worker gave back unstarted or unfinished. */
  release(_worker: LocalWorker, items: { id: string; token: string }[]): void {
    for (const { id, token } of items)
      this.#track(this.#options.queue.release(id, token), `releasing task ${id}`);
  }

  /** The worker is gone: the tasks it held fail for retry (a crash spends the attempt). */
  workerExited(worker: LocalWorker, reason: string): void {
    this.#workers.delete(worker);
    const message = `the worker running this task stopped: ${firstLine(reason)}`;
    for (const [id, token] of worker.holding) {
      this.#track(
        this.#options.queue.fail(id, token, { message, traceback: null, statusCode: null }, { retry: true }),
        `reclaiming task ${id}`,
      );
    }
    worker.holding.clear();
  }

  #extendLeases(): void {
    const { queue, leaseMs } = this.#options;
    for (const worker of this.#workers) {
      if (worker.state === "exited") continue;
      for (const [id, token] of worker.holding)
        this.#track(queue.extendLease(id, token, leaseMs), `extending task ${id}`);
    }
  }

  #track(write: Promise<unknown>, what = "a queue write"): void {
    this.#pending.add(write);
    write
      .catch((error: unknown) =>
        this.#options.log.error({ err: error, endpointId: this.#options.endpointId }, `${what} failed`),
      )
      .finally(() => this.#pending.delete(write));
  }

  /** Stops feeding and lets queue writes already issued land. */
  async close(): Promise<void> {
    this.#abort.abort();
    this.#creditWaiter?.();
    clearInterval(this.#extender);
    await Promise.allSettled([...this.#pending]);
  }
}

function firstLine(text: string): string {
  const line = text.split("\n", 1)[0] ?? text;
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}
