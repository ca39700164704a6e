/**
 * The queue's housekeeping timer: calls `queue.sweep()` about once a second, so expired leases go back to
 * the queue (or fail), queued tasks past `task_expires_seconds` become UNDEFINED, and old results are
 * deleted. One sweep runs at a time; the timer is unref'd so it never keeps the process alive.
 */
import type { SweepReport, TaskQueue } from "../queue/port.js";

/** Where the sweeper reports what it did and what failed (a pino logger fits). */
export interface SweeperLog {
  debug(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export interface QueueSweeperOptions {
  queue: Pick<TaskQueue, "sweep">;
  log: SweeperLog;
  /** Time between the end of one sweep and the start of the next. Default 1,000 ms. */
  intervalMs?: number;
  /** Whether this process sweeps now (the acting controller does; see `controller-lease.ts`). Default: always. */
  active?: () => boolean;
}

/**
 * Runs `queue.sweep()` on a timer until stopped.
 *
 * @example
 * const sweeper = new QueueSweeper({ queue, log: app.log });
 * sweeper.start();
 * // on shutdown, before closing the queue:
 * await sweeper.stop();
 */
export class QueueSweeper {
  readonly #queue: Pick<TaskQueue, "sweep">;
  readonly #log: SweeperLog;
  readonly #intervalMs: number;
  readonly #active: () => boolean;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #started = false;
  #stopped = false;

  constructor(options: QueueSweeperOptions) {
    this.#queue = options.queue;
    this.#log = options.log;
    this.#intervalMs = options.intervalMs ?? 1_000;
    this.#active = options.active ?? (() => true);
  }

  /** Starts sweeping (the first sweep comes after one interval). Calling it again does nothing. */
  start(): void {
    if (this.#started || this.#stopped) return;
    this.#started = true;
    this.#schedule();
  }

  /** Runs one sweep now (unless one is running, in which case it waits for that one). */
  sweepNow(): Promise<void> {
    this.#running ??= this.#sweep().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  /** Stops the timer and waits for a sweep in progress, so the queue can be closed right after. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.sweepNow().then(() => this.#schedule());
    }, this.#intervalMs);
    this.#timer.unref();
  }

  async #sweep(): Promise<void> {
    if (!this.#active()) return;
    try {
      const report: SweepReport = await this.#queue.sweep();
      if (report.requeued + report.failed + report.expired + report.purged > 0) {
        this.#log.debug({ sweep: report }, "queue sweep");
      }
    } catch (error) {
      // Recorded where an operator looks; the next sweep tries again.
      this.#log.error({ err: error }, "queue sweep failed; retrying on the next interval");
    }
  }
}
