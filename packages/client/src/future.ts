/**
 * `EndpointResponseFuture`: the handle on an async task, as the Python client's. Waiting long-polls
 * `GET /v1/async-tasks/{id}?wait=<seconds>` [ext], so the result arrives as soon as the task finishes,
 * with one request per minute of waiting instead of one every two seconds. Against a server that ignores
 * `wait` (it answers at once while the task is unfinished), it falls back to polling with a short backoff.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { CallbackDeliveryView, TaskResponse } from "@launch/protocol";
import { TaskExpiredError, WaitTimeoutError } from "./errors.js";
import { type GetAsyncTaskOptions, MAX_WAIT_SECONDS } from "./task-calls.js";
import { type EndpointResponse, isFinishedStatus, responseFromWire } from "./tasks.js";

/** What a future needs from the client: reading a task, optionally long-polling, and its callbacks. */
export interface AsyncTaskReader {
  getAsyncTask(taskId: string, options?: GetAsyncTaskOptions): Promise<TaskResponse>;
  getTaskCallbacks(taskId: string): Promise<CallbackDeliveryView[]>;
}

export interface WaitOptions {
  /** Give up after this long (default: wait as long as it takes). */
  timeoutMs?: number | undefined;
  /** Stops waiting; the promise rejects with the signal's reason. */
  signal?: AbortSignal | undefined;
}

/** Backoff between polls of a server without long-polling: from 50 ms, doubling, up to 1 s. */
const FALLBACK_FIRST_DELAY_MS = 50;
const FALLBACK_MAX_DELAY_MS = 1000;

/**
 * An async task whose result will come later.
 *
 * @example
 * const future = await endpoint.predict({ request: new EndpointRequest({ args: { x: 2, y: "hello" } }) });
 * const response = await future.get({ timeoutMs: 60_000 });
 * console.log(response.status, response.result); // SUCCESS 7
 */
export class EndpointResponseFuture {
  readonly taskId: string;
  readonly #reader: AsyncTaskReader;

  constructor(reader: AsyncTaskReader, taskId: string) {
    this.#reader = reader;
    this.taskId = taskId;
  }

  /**
   * Waits for the task to finish and returns its outcome (`SUCCESS` with `result`, or `FAILURE` with
   * `error` and `traceback`). Throws `WaitTimeoutError` when it is still unfinished after `timeoutMs`,
   * and `TaskExpiredError` when it expired in the queue (`UNDEFINED`).
   *
   * @example const { result } = await future.get({ timeoutMs: 30_000 });
   */
  async get(options: WaitOptions = {}): Promise<EndpointResponse> {
    const task = await this.wait(options);
    if (task.status === "UNDEFINED") {
      throw new TaskExpiredError({
        status: 0,
        code: "task_expired",
        detail: `Task ${this.taskId} expired before a worker took it (status UNDEFINED); submit it again, or raise the endpoint's task_expires_seconds.`,
        taskId: this.taskId,
      });
    }
    if (!isFinishedStatus(task.status)) {
      throw new WaitTimeoutError({
        status: 0,
        code: "wait_timed_out",
        detail: `Task ${this.taskId} is still ${task.status} after ${options.timeoutMs} ms; call get() again to keep waiting.`,
      });
    }
    return responseFromWire(task);
  }

  /**
   * Waits until the task is finished or `timeoutMs` passes, and returns its wire state either way
   * (`PENDING` or `STARTED` when time ran out). Never throws for the task's own outcome.
   *
   * @example const task = await future.wait({ timeoutMs: 5000 }); if (task.status === "PENDING") ...
   */
  async wait(options: WaitOptions = {}): Promise<TaskResponse> {
    const deadline =
      options.timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + options.timeoutMs;
    let fallbackDelay = FALLBACK_FIRST_DELAY_MS;
    let last: TaskResponse | undefined;
    for (;;) {
      const remaining = deadline - Date.now();
      if (last && remaining <= 0) return last;
      const waitSeconds = Math.min(MAX_WAIT_SECONDS, Math.max(1, Math.ceil(remaining / 1000)));
      // The long-poll stops at our deadline even though the server counts whole seconds.
      const deadlineSignal = Number.isFinite(remaining)
        ? AbortSignal.timeout(Math.max(0, remaining))
        : undefined;
      const signal = anySignal(deadlineSignal, options.signal);
      const asked = Date.now();
      try {
        last = await this.#reader.getAsyncTask(this.taskId, { waitSeconds, signal });
      } catch (error) {
        if (last && deadlineSignal?.aborted && !options.signal?.aborted) return last;
        if (!last && deadlineSignal?.aborted && !options.signal?.aborted) {
          // Time ran out before the first answer: read the state once without waiting.
          return this.#reader.getAsyncTask(this.taskId, { signal: options.signal });
        }
        throw error;
      }
      if (isFinishedStatus(last.status)) return last;
      const answeredEarly = Date.now() - asked < (waitSeconds * 1000) / 2;
      if (answeredEarly && Date.now() < deadline) {
        // The server does not long-poll: poll with a short backoff instead.
        await sleep(Math.min(fallbackDelay, Math.max(0, deadline - Date.now())), undefined, {
          signal: options.signal,
        });
        fallbackDelay = Math.min(FALLBACK_MAX_DELAY_MS, fallbackDelay * 2);
      }
    }
  }

  /**
   * The task's current wire state, without waiting.
   *
   * @example const { status } = await future.status();
   */
  status(): Promise<TaskResponse> {
    return this.#reader.getAsyncTask(this.taskId);
  }

  /**
   * The task's callbacks [ext] (usually one, once the task has finished; none before, and none without
   * the endpoint's `callback` hook), each with every attempt.
   *
   * @example const [delivery] = await future.callbacks(); console.log(delivery?.status);
   */
  callbacks(): Promise<CallbackDeliveryView[]> {
    return this.#reader.getTaskCallbacks(this.taskId);
  }

  /** `{ taskId }`, so that `JSON.stringify(future)` shows the task. */
  toJSON(): { taskId: string } {
    return { taskId: this.taskId };
  }
}

function anySignal(...signals: (AbortSignal | undefined)[]): AbortSignal | undefined {
  const present = signals.filter((signal): signal is AbortSignal => signal !== undefined);
  if (present.length <= 1) return present[0];
  return AbortSignal.any(present);
}
