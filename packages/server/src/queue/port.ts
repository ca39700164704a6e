/**
 * The task queue port: durable async tasks in domain terms (enqueue, lease, extend lease, complete, fail,
 * release, sweep). Services import this file, never an adapter; the composition root picks the adapter.
 *
 * Adapters: `queue/embedded/` (SQLite in its own file, the single-node default) and `queue/redis/` (Redis,
 * shared by several servers; BullMQ's key layout, Launch's own scripts). Both run the behaviour suite in
 * `queue/queue.suite.ts`; `queue/open.ts` picks one from `LAUNCH_QUEUE`.
 *
 * Lifecycle of a task (statuses of `wire-protocol.md` §5):
 *
 *     enqueue → PENDING ──lease──▶ STARTED ──complete──▶ SUCCESS
 *                 ▲  │               │  ├──fail (final, or no attempts left)──▶ FAILURE
 *                 │  │               │  └──sweep: lease expired, no attempts left──▶ FAILURE
 *                 │  │               └──release / fail(retry) / sweep: lease expired──▶ PENDING
 *                 │  └──past `expiresAt` while queued (never leased; the sweep records it)──▶ UNDEFINED
 *                 └── (finished tasks are deleted by the sweep once older than the result retention)
 *
 * Rules every adapter keeps:
 * - Times are epoch milliseconds. Adapters take an injectable clock; `sweep` takes `now` explicitly.
 * - FIFO per queue: `lease` hands out the oldest PENDING tasks first (a task put back keeps its place).
 * - A lease is identified by its token. `extendLease`, `complete`, `fail` and `release` succeed only with
 *   the token of the task's current lease. A lease is *lost* when the sweep reclaims it (or the task was
 *   finished by someone else), not at the deadline itself: a worker that completes a little after its
 *   deadline, before any sweep, still wins. Once reclaimed, the old token is rejected for good, so the
 *   first completion wins and clients see exactly one result.
 * - `lease` never hands out a STARTED task whose lease expired but was not swept yet: only the sweep
 *   reclaims leases, so the attempts policy and its failure message live in one place. The controller
 *   sweeps about once a second, so a dead worker's task waits at most its lease time plus one sweep.
 * - A task queued past its `expiresAt` is never leased; `get` reports it `UNDEFINED` at once and the next
 *   sweep records that.
 * - Callbacks (`callbacks/port.ts`): a task enqueued with a `callback` spec gets its delivery written by
 *   the adapter in the same transaction (or queue operation) that finishes it: `complete` → event
 *   `succeeded`; a final `fail`, or the sweep failing an expired last lease → event `failed`. Nothing is
 *   written when the spec does not list the event, for a retried failure, or for a task that expires
 *   queued (`UNDEFINED`: no worker ever ran it, so there is no outcome to report). A task without a spec
 *   costs no extra statement. The task's status and result never depend on its deliveries.
 */
import type { TaskStatus } from "@launch/protocol";
import type { CallbackOutbox, CallbackSpec } from "../callbacks/port.js";

/** Whether a task has finished for good: SUCCESS, FAILURE or UNDEFINED (expired). */
export function isFinished(status: TaskStatus): boolean {
  return status === "SUCCESS" || status === "FAILURE" || status === "UNDEFINED";
}

/** What an adapter can do; core code asks for capabilities, never for the adapter's kind. */
export interface TaskQueueCapabilities {
  /** Several server processes (gateways, controllers on other hosts) may share this queue. */
  readonly multiProcess: boolean;
  /** `waitForWork` wakes as soon as work arrives; without it, it only times out and callers poll. */
  readonly notifiesWaiters: boolean;
}

/** A task to put on a queue. */
export interface NewTask {
  /** `newId("task")`. */
  id: string;
  /** The queue: the id of the endpoint that runs the task. */
  queue: string;
  /** The team that submitted the task and may read it (the endpoint's team, or any team with `public_inference`). */
  owner: string;
  /** The user who submitted it. */
  createdBy: string;
  /** Opaque JSON for the worker (the predict request; may hold sealed secrets). Stored as given. */
  payload: unknown;
  /** Leases handed out before the task fails for good (at least 1). */
  maxAttempts: number;
  /** When a task still queued expires (`UNDEFINED`), from the endpoint's `task_expires_seconds`; null: never. */
  expiresAt: number | null;
  /**
   * What the task's finish sends, resolved by the gateway at submit time (endpoint defaults and task
   * overrides). Null or absent: the endpoint has no `callback` hook, and no delivery is ever written.
   */
  callback?: CallbackSpec | null;
}

/** A successful task's outcome. */
export interface TaskResult {
  /** The model output, a JSON value. */
  output: unknown;
  /** The model's HTTP status for runnable images, 200 for in-process runtimes. */
  statusCode: number;
  /**
   * `return_pickled`: where the pickled output was stored (`s3://bucket/key`); `output` is then null and
   * the task's `result` is `{"result_url": …}` instead of `{"result": output}`.
   */
  resultUrl?: string;
}

/** Why a task failed (or, while it is retried, why its last attempt failed). */
export interface TaskError {
  message: string;
  traceback: string | null;
  statusCode: number | null;
}

/** A task as stored. The payload is handed out by `lease` only. */
export interface TaskRecord {
  id: string;
  queue: string;
  owner: string;
  createdBy: string;
  status: TaskStatus;
  /** Leases handed out so far (a `release` gives one back). */
  attempts: number;
  maxAttempts: number;
  createdAt: number;
  expiresAt: number | null;
  /** When the current or last lease was handed out. */
  startedAt: number | null;
  /** When the task reached SUCCESS, FAILURE or UNDEFINED. */
  finishedAt: number | null;
  /** The worker holding the current lease, or the last one. */
  workerId: string | null;
  /** The deadline of the current lease (STARTED only). */
  leaseExpiresAt: number | null;
  /** Set on SUCCESS. */
  result: TaskResult | null;
  /** Set on FAILURE and UNDEFINED; also kept while a failed attempt is retried (status PENDING). */
  error: TaskError | null;
}

/** A task handed to a worker by `lease`. */
export interface LeasedTask {
  id: string;
  queue: string;
  owner: string;
  createdBy: string;
  payload: unknown;
  /** This lease's attempt number, from 1. */
  attempt: number;
  maxAttempts: number;
  createdAt: number;
  /** Proves the lease; pass it to `extendLease`, `complete`, `fail` and `release`. */
  leaseToken: string;
  leaseExpiresAt: number;
}

export interface LeaseRequest {
  queue: string;
  /** Who leases (for operators and `revokeLeases`). */
  workerId: string;
  /** At most this many tasks (at least 1). */
  max: number;
  /** Lease time; the worker must extend the lease before it passes. */
  leaseMs: number;
}

export interface FailOptions {
  /** Put the task back (PENDING) if it has attempts left; otherwise, or when false, it fails for good. */
  retry: boolean;
}

/** What `fail` did: put the task back, failed it for good, or nothing because the lease was lost. */
export type FailOutcome = "requeued" | "failed" | "lease_lost";

/** Tasks waiting and tasks being worked on, for one queue. */
export interface QueueDepth {
  /** PENDING tasks (including ones past `expiresAt` that the next sweep turns UNDEFINED). */
  queued: number;
  /** STARTED tasks. */
  inFlight: number;
}

/** What one `sweep` did. */
export interface SweepReport {
  /** Expired leases put back to PENDING. */
  requeued: number;
  /** Expired leases with no attempts left, now FAILURE. */
  failed: number;
  /** Queued tasks past `expiresAt`, now UNDEFINED. */
  expired: number;
  /** Finished tasks older than the result retention, deleted. */
  purged: number;
}

export interface TaskQueue {
  readonly capabilities: TaskQueueCapabilities;
  /** Opens connections and applies pending migrations. */
  ready(): Promise<void>;
  /** Finishes writes already issued, wakes every waiter (with false) and closes connections. */
  close(): Promise<void>;

  /**
   * Adds a PENDING task; resolves once it is durable (committed). A task id already used is a
   * `conflict` LaunchError; bad fields are a `validation_failed` LaunchError naming them.
   *
   * @example await queue.enqueue({ id: newId("task"), queue: endpoint.id, owner, createdBy, payload: body, maxAttempts: 3, expiresAt: null })
   */
  enqueue(task: NewTask): Promise<TaskRecord>;

  /**
   * Leases up to `max` of the oldest PENDING, unexpired tasks of `queue`: each becomes STARTED with a
   * fresh lease token and deadline, and its attempts go up by one. Resolves `[]` when there is none.
   *
   * @example const tasks = await queue.lease({ queue: endpointId, workerId, max: 4, leaseMs: 30_000 });
   */
  lease(request: LeaseRequest): Promise<LeasedTask[]>;

  /** Moves the lease deadline to now + `leaseMs`; false when the lease was lost. */
  extendLease(taskId: string, leaseToken: string, leaseMs: number): Promise<boolean>;

  /**
   * Records SUCCESS with the result and, in the same transaction, the task's `succeeded` delivery when its
   * callback spec asks for one; false when the lease was lost, in which case nothing is recorded.
   */
  complete(taskId: string, leaseToken: string, result: TaskResult): Promise<boolean>;

  /**
   * Records a failed attempt: back to PENDING when `retry` and attempts remain, else FAILURE (with, in the
   * same transaction, the task's `failed` delivery when its callback spec asks for one).
   */
  fail(taskId: string, leaseToken: string, error: TaskError, options: FailOptions): Promise<FailOutcome>;

  /** Puts a leased task back to PENDING without spending its attempt (graceful shutdown); false when lost. */
  release(taskId: string, leaseToken: string): Promise<boolean>;

  /**
   * Marks every lease held by `workerId` as expired now (its process is known to be gone), so the next
   * sweep puts the tasks back or fails them. Resolves how many leases that was.
   */
  revokeLeases(workerId: string): Promise<number>;

  /** The task, or undefined when unknown (or purged). */
  get(taskId: string): Promise<TaskRecord | undefined>;

  /** Queued and in-flight tasks of one queue. */
  counts(queue: string): Promise<QueueDepth>;

  /** Queued and in-flight tasks of every queue that has any (for the autoscaler). */
  depths(): Promise<Map<string, QueueDepth>>;

  /**
   * Resolves true as soon as `queue` has a task to lease (at once if it already has one, or when one is
   * enqueued or put back), false when `timeoutMs` passes, `signal` aborts or the queue closes. A true is
   * a hint, not a reservation: another worker may lease the task first.
   */
  waitForWork(queue: string, timeoutMs: number, signal?: AbortSignal): Promise<boolean>;

  /**
   * Waits for a task to finish (SUCCESS, FAILURE or UNDEFINED), for long polls such as
   * `GET /v1/async-tasks/{id}?wait=`. Resolves with the record at once when it is already finished (or
   * undefined when the task is unknown), else as soon as the write that finishes it has committed, else,
   * when `timeoutMs` passes or `signal` aborts, with the record as it is then. A queued task that expires
   * counts as finished when the sweep records it (or when the record read at the end shows it UNDEFINED).
   * When the queue closes meanwhile, resolves with the record last read.
   *
   * With `owner`, a task of another owner is answered at once, without waiting (the caller treats it as
   * not found), so nobody can wait on another team's task and one read serves the check and the wait.
   *
   * @example const record = await queue.waitForFinish(taskId, 30_000, request.signal, { owner: teamId });
   */
  waitForFinish(
    taskId: string,
    timeoutMs: number,
    signal?: AbortSignal,
    options?: { owner?: string },
  ): Promise<TaskRecord | undefined>;

  /**
   * Housekeeping, run by the controller about once a second: expired leases go back to PENDING, or to
   * FAILURE ("task failed after 3 attempts: its worker stopped renewing the lease (crashed or hung)",
   * writing the `failed` delivery when asked); queued tasks past `expiresAt` become UNDEFINED; finished
   * tasks older than the retention are deleted. An adapter that is also a `CallbackOutbox` deletes, with
   * the same retention, deliveries that are `delivered` or `skipped` (and their attempts); `pending` and
   * `failed` ones stay, so dead letters remain listable and replayable after their task is gone.
   */
  sweep(now?: number): Promise<SweepReport>;
}

/** A queue adapter: every one is also its tasks' callback outbox (a delivery is written with its result). */
export type QueueWithOutbox = TaskQueue & CallbackOutbox;
