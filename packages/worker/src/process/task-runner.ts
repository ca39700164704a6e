/**
 * Runs the tasks the controller pushes (`tasks` messages) through the runtime, at most `concurrency` at
 * once, and reports them: every task that finishes in one event-loop turn goes into ONE `results`
 * message followed by ONE `credit` message for the slots it freed. Batching is what lets a worker keep
 * up with thousands of tasks per second over one IPC channel.
 */
import type { TaskOutcome, WorkerMessage, WorkerTask } from "@launch/protocol";
import type { PredictOutcome, Runtime } from "../runtimes/port.js";
import { oneLine, type WorkerLog } from "./log.js";

export interface TaskRunnerOptions {
  runtime: Pick<Runtime, "predict">;
  /** How many tasks run at once (the credit granted at start). */
  concurrency: number;
  send(message: WorkerMessage): void;
  log: WorkerLog;
}

type ResultItem = { id: string; token: string; outcome: TaskOutcome };

/** The async-task side of a worker. */
export class TaskRunner {
  /** Running tasks: id → lease token. */
  private readonly running = new Map<string, string>();
  private finished: ResultItem[] = [];
  private flushScheduled = false;
  /** False once draining or stopping: no more credit, and tasks that still arrive are released. */
  private open = true;
  private idleWaiters: (() => void)[] = [];
  private readonly flushBound = () => this.flush();

  constructor(private readonly options: TaskRunnerOptions) {}

  /** Tasks running now. */
  get inFlight(): number {
    return this.running.size;
  }

  /** Grants the first credit: one per slot. */
  grantInitialCredit(): void {
    if (this.open) this.options.send({ t: "credit", n: this.options.concurrency });
  }

  /**
   * Starts the tasks of a `tasks` message. Tasks beyond the free slots (the controller overran its
   * credit), duplicates, and tasks that arrive once the runner is closed are not run: the first and last
   * are released at once, and each protocol error is written to stderr.
   */
  accept(tasks: readonly WorkerTask[]): void {
    const released: { id: string; token: string }[] = [];
    for (const task of tasks) {
      if (!this.open) {
        released.push({ id: task.id, token: task.token });
        continue;
      }
      if (this.running.has(task.id)) {
        this.options.log.error(`protocol error: task ${task.id} is already running here; ignoring the copy`);
        continue;
      }
      if (this.running.size >= this.options.concurrency) {
        this.options.log.error(
          `protocol error: task ${task.id} arrived with all ${this.options.concurrency} slots busy (no credit was granted for it); releasing it`,
        );
        released.push({ id: task.id, token: task.token });
        continue;
      }
      this.run(task);
    }
    if (released.length > 0) {
      if (!this.open)
        this.options.log.info(`released ${released.length} task(s) that arrived while stopping`);
      this.options.send({ t: "release", items: released });
    }
  }

  /** Stops granting credit; tasks that still arrive are released. */
  close(): void {
    this.open = false;
  }

  /** Resolves once no task is running. */
  whenIdle(): Promise<void> {
    if (this.running.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Sends the results that are waiting for the end of this turn now. */
  flushNow(): void {
    this.flush();
  }

  /**
   * Gives up the tasks still running: sends their pending results first, then one `release` with the
   * tokens of those still running (their later outcomes are ignored). Returns how many were released.
   */
  releaseRunning(): number {
    this.close();
    this.flush();
    const items = [...this.running].map(([id, token]) => ({ id, token }));
    this.running.clear();
    if (items.length > 0) this.options.send({ t: "release", items });
    this.wakeIdle();
    return items.length;
  }

  /**
   * Forgets the tasks still running without a word (the model crashed or the controller is gone: the
   * controller fails them for retry when it sees the worker die).
   */
  abandon(): number {
    this.close();
    const count = this.running.size;
    this.running.clear();
    this.wakeIdle();
    return count;
  }

  private run(task: WorkerTask): void {
    const { id, token } = task;
    this.running.set(id, token);
    let outcome: Promise<PredictOutcome>;
    try {
      outcome = this.options.runtime.predict({
        args: task.args,
        url: task.url ?? null,
        returnPickled: task.returnPickled ?? false,
      });
    } catch (error) {
      outcome = Promise.resolve(escaped(error));
    }
    outcome.then(
      (value) => this.finish(id, token, value),
      (error: unknown) => this.finish(id, token, escaped(error)),
    );
  }

  private finish(id: string, token: string, outcome: PredictOutcome): void {
    if (this.running.get(id) !== token) return; // released or abandoned meanwhile
    this.running.delete(id);
    if (!outcome.ok) this.options.log.error(`task ${id} failed: ${oneLine(outcome.error)}`);
    this.finished.push({ id, token, outcome });
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flushBound);
    }
    if (this.running.size === 0) this.wakeIdle();
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.finished.length === 0) return;
    const items = this.finished;
    this.finished = [];
    this.options.send({ t: "results", items });
    if (this.open) this.options.send({ t: "credit", n: items.length });
  }

  private wakeIdle(): void {
    if (this.running.size !== 0 || this.idleWaiters.length === 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

/** The outcome for an exception that escaped the runtime (its contract says predict never rejects). */
export function escaped(error: unknown): PredictOutcome {
  if (error instanceof Error) {
    return { ok: false, error: error.message, traceback: error.stack ?? null, statusCode: null };
  }
  return { ok: false, error: String(error), traceback: null, statusCode: null };
}
