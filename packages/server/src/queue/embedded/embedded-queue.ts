/**
 * The embedded task queue: SQLite through better-sqlite3, in its own database file (`<dataDir>/queue.db`)
 * so queue writes never wait on the control-plane store's writer. WAL with `synchronous=NORMAL`: a
 * committed write survives a process crash (an OS crash or power loss may lose the last commits).
 *
 * Speed: every write goes through group commit (writes issued in one event-loop turn share a
 * transaction); statements are prepared once; payloads and outputs are serialized once and stored as
 * JSON text. Single process only (`multiProcess: false`): wake-ups of idle workers are in-process.
 *
 * It is also the callback outbox (`CallbackOutbox`, see `embedded-outbox.ts`): deliveries live in the
 * same file, and a finished task's delivery is written in the transaction that records its result. A
 * task without a callback spec costs no extra statement. The composition root uses the one object as both
 * ports: `const queue = new EmbeddedTaskQueue(…); const outbox: CallbackOutbox = queue;`.
 */

import { randomUUID } from "node:crypto";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type { TaskStatus } from "@launch/protocol";
import type BetterSqlite3 from "better-sqlite3";
import { failureBody, successBodyFromJson } from "../../callbacks/delivery-body.js";
import { expiredMessage, leaseExpiredMessage } from "../messages.js";
import { enqueuedTask, taskExists } from "../new-task.js";
import { ForwardsToOutbox } from "../outbox-forwarding.js";
import {
  type FailOptions,
  type FailOutcome,
  isFinished,
  type LeasedTask,
  type LeaseRequest,
  type NewTask,
  type QueueDepth,
  type SweepReport,
  type TaskError,
  type TaskQueue,
  type TaskQueueCapabilities,
  type TaskRecord,
  type TaskResult,
} from "../port.js";
import { callbackResultJson, resultFromStored, storedOutput } from "../stored-output.js";
import { checkError, checkLeaseRequest, checkLeaseTime, checkNewTask } from "../validate.js";
import { type DeliveryStatements, prepareDeliveryStatements } from "./delivery-statements.js";
import { EmbeddedOutbox } from "./embedded-outbox.js";
import { GroupCommit } from "./group-commit.js";
import { migrate } from "./migrations.js";
import { prepareStatements, type Statements, type TaskRow } from "./statements.js";
import { Tally } from "./tally.js";
import { Waiters } from "./waiters.js";

export interface EmbeddedTaskQueueOptions {
  /** The SQLite file, e.g. `<dataDir>/queue.db`; its directory is created when missing. */
  file: string;
  /** How long finished tasks (and their results) are kept before `sweep` deletes them. */
  resultRetentionMs: number;
  /** The current time in epoch milliseconds; tests pass a controllable clock. Default `Date.now`. */
  clock?: () => number;
  /** Most writes committed in one transaction. Default 2,000. */
  maxBatch?: number;
  /** Most finished tasks one `sweep` deletes (the rest go on the next). Default 100,000. */
  purgeLimit?: number;
}

/**
 * Opens (lazily, in `ready`) an embedded task queue, which is also its callback outbox.
 *
 * @example
 * const queue = new EmbeddedTaskQueue({ file: join(config.dataDir, "queue.db"), resultRetentionMs: 86_400_000 });
 * await queue.ready();
 * const outbox: CallbackOutbox = queue;
 */
export class EmbeddedTaskQueue extends ForwardsToOutbox implements TaskQueue {
  readonly capabilities: TaskQueueCapabilities = { multiProcess: false, notifiesWaiters: true };

  private db: BetterSqlite3.Database | undefined;
  private sql: Statements | undefined;
  private deliverySql: DeliveryStatements | undefined;
  private writer: GroupCommit | undefined;
  private opening: Promise<void> | undefined;
  private closed = false;
  private readonly waiters = new Waiters();
  /** Long polls waiting for tasks to finish, by task id. */
  private readonly finishWaiters = new Waiters();
  /** Queues that got work in the transaction being written; woken once it commits. */
  private readonly toWake = new Set<string>();
  /** Tasks finished by the transaction being written that someone waits for; woken once it commits. */
  private readonly finished = new Set<string>();
  /** Queued and in-flight counts, moved by each committed write. */
  private readonly tally = new Tally();
  private readonly clock: () => number;
  /** The callback outbox's logic; `ForwardsToOutbox` forwards the port to it. */
  protected readonly outbox: EmbeddedOutbox;

  constructor(private readonly options: EmbeddedTaskQueueOptions) {
    super();
    this.clock = options.clock ?? Date.now;
    this.outbox = new EmbeddedOutbox({
      write: (op) => this.write(() => op(this.deliverySql!)),
      statements: () => {
        this.statements();
        return this.deliverySql!;
      },
      isClosed: () => this.closed,
      clock: this.clock,
    });
  }

  ready(): Promise<void> {
    if (this.closed) return Promise.reject(closedError());
    this.opening ??= this.open();
    return this.opening;
  }

  private async open(): Promise<void> {
    const Database = await loadDriver();
    mkdirSync(dirname(this.options.file), { recursive: true });
    const db = new Database(this.options.file);
    try {
      db.pragma("journal_mode = WAL");
      db.pragma("synchronous = NORMAL");
      db.pragma("busy_timeout = 5000");
      migrate(db, this.options.file);
      // One process owns this file: a claim found at start belonged to a dispatcher that died with the
      // last server, so its deliveries are due again now rather than when the claim runs out.
      db.prepare(
        "UPDATE deliveries SET claim_token = NULL, claim_expires_at = NULL WHERE claim_token IS NOT NULL",
      ).run();
      this.sql = prepareStatements(db);
      this.deliverySql = prepareDeliveryStatements(db);
      this.tally.load(readDepths(this.sql));
    } catch (error) {
      db.close();
      throw error;
    }
    this.db = db;
    this.writer = new GroupCommit({
      transaction: (body) => db.transaction(body).immediate(),
      afterCommit: () => this.committed(),
      afterRollback: () => this.rolledBack(),
      ...(this.options.maxBatch === undefined ? {} : { maxBatch: this.options.maxBatch }),
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.opening?.catch(() => undefined);
    try {
      this.writer?.flushNow();
    } finally {
      this.waiters.closeAll();
      this.finishWaiters.closeAll();
      this.outbox.close();
      this.db?.close();
      this.db = undefined;
    }
  }

  async enqueue(task: NewTask): Promise<TaskRecord> {
    const { payloadJson, callbackJson } = checkNewTask(task);
    const createdAt = this.clock();
    const inserted = await this.write((sql) => {
      const { changes } = sql.insert.run(
        task.id,
        task.queue,
        task.owner,
        task.createdBy,
        payloadJson,
        task.maxAttempts,
        createdAt,
        task.expiresAt,
        callbackJson,
      );
      if (changes === 0) return false;
      this.tally.add(task.queue, 1, 0);
      this.noteWork(task.queue);
      return true;
    });
    if (!inserted) throw taskExists(task.id);
    return enqueuedTask(task, createdAt);
  }

  async lease(request: LeaseRequest): Promise<LeasedTask[]> {
    checkLeaseRequest(request);
    return this.write((sql) => {
      const now = this.clock();
      const rows = sql.leasable.all(request.queue, now, request.max) as LeasableRow[];
      const leaseExpiresAt = now + request.leaseMs;
      if (rows.length > 0) this.tally.add(request.queue, -rows.length, rows.length);
      const leased: LeasedTask[] = new Array(rows.length);
      for (let i = 0; i < rows.length; i++) {
        const row = rows[i]!;
        const leaseToken = randomUUID();
        sql.markLeased.run(leaseToken, leaseExpiresAt, request.workerId, now, row.seq);
        leased[i] = {
          id: row.id,
          queue: request.queue,
          owner: row.owner,
          createdBy: row.created_by,
          payload: JSON.parse(row.payload),
          attempt: row.attempts + 1,
          maxAttempts: row.max_attempts,
          createdAt: row.created_at,
          leaseToken,
          leaseExpiresAt,
        };
      }
      return leased;
    });
  }

  async extendLease(taskId: string, leaseToken: string, leaseMs: number): Promise<boolean> {
    checkLeaseTime(leaseMs);
    return this.write((sql) => sql.extend.run(this.clock() + leaseMs, taskId, leaseToken).changes > 0);
  }

  async complete(taskId: string, leaseToken: string, result: TaskResult): Promise<boolean> {
    const outputJson = storedOutput(result);
    return this.write((sql) => {
      const now = this.clock();
      const row = sql.complete.get(now, outputJson, result.statusCode, taskId, leaseToken) as
        | FinishedRow
        | undefined;
      if (!row) return false;
      this.tally.add(row.queue, 0, -1);
      this.noteFinished(taskId);
      if (row.callback !== null) {
        const task = { id: taskId, queue: row.queue, owner: row.owner, callback: row.callback };
        this.outbox.onFinish(
          task,
          "succeeded",
          () => successBodyFromJson(taskId, callbackResultJson(outputJson)),
          now,
        );
      }
      return true;
    });
  }

  async fail(
    taskId: string,
    leaseToken: string,
    error: TaskError,
    options: FailOptions,
  ): Promise<FailOutcome> {
    checkError(error, options);
    return this.write((sql) => {
      const now = this.clock();
      const row = sql.fail.get({
        retry: options.retry ? 1 : 0,
        now,
        message: error.message,
        traceback: error.traceback,
        statusCode: error.statusCode,
        id: taskId,
        token: leaseToken,
      }) as (FinishedRow & { status: TaskStatus }) | undefined;
      if (!row) return "lease_lost";
      if (row.status === "PENDING") {
        this.tally.add(row.queue, 1, -1);
        this.noteWork(row.queue);
        return "requeued";
      }
      this.tally.add(row.queue, 0, -1);
      this.noteFinished(taskId);
      if (row.callback !== null) {
        const task = { id: taskId, queue: row.queue, owner: row.owner, callback: row.callback };
        this.outbox.onFinish(task, "failed", () => failureBody(taskId, error), now);
      }
      return "failed";
    });
  }

  async release(taskId: string, leaseToken: string): Promise<boolean> {
    return this.write((sql) => {
      const row = sql.release.get(taskId, leaseToken) as { queue: string } | undefined;
      if (!row) return false;
      this.tally.add(row.queue, 1, -1);
      this.noteWork(row.queue);
      return true;
    });
  }

  async revokeLeases(workerId: string): Promise<number> {
    return this.write((sql) => {
      const now = this.clock();
      return sql.revoke.run(now, workerId, now).changes;
    });
  }

  async get(taskId: string): Promise<TaskRecord | undefined> {
    return this.read(taskId);
  }

  async counts(queue: string): Promise<QueueDepth> {
    this.statements();
    return this.tally.get(queue);
  }

  async depths(): Promise<Map<string, QueueDepth>> {
    this.statements();
    return this.tally.all();
  }

  async waitForWork(queue: string, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (this.closed) return false;
    if (this.statements().hasWork.get(queue, this.clock()) !== undefined) return true;
    return this.waiters.wait(queue, timeoutMs, signal);
  }

  async waitForFinish(
    taskId: string,
    timeoutMs: number,
    signal?: AbortSignal,
    options: { owner?: string } = {},
  ): Promise<TaskRecord | undefined> {
    // Read and start waiting in the same turn: commits run in later turns, so none can slip in between.
    const before = this.read(taskId);
    if (before === undefined || isFinished(before.status)) return before;
    if (options.owner !== undefined && before.owner !== options.owner) return before;
    await this.finishWaiters.wait(taskId, timeoutMs, signal);
    return this.closed ? before : this.read(taskId);
  }

  async sweep(now: number = this.clock()): Promise<SweepReport> {
    const report = await this.write((sql) => {
      const report: SweepReport = { requeued: 0, failed: 0, expired: 0, purged: 0 };
      for (const row of sql.expiredLeases.all(now) as ExpiredLeaseRow[]) {
        if (row.attempts < row.max_attempts) {
          sql.requeue.run(row.seq);
          this.tally.add(row.queue, 1, -1);
          this.noteWork(row.queue);
          report.requeued++;
        } else {
          const message = leaseExpiredMessage(row.attempts);
          sql.failExpired.run(now, message, row.seq);
          this.tally.add(row.queue, 0, -1);
          this.noteFinished(row.id);
          if (row.callback !== null) {
            const task = { id: row.id, queue: row.queue, owner: row.owner, callback: row.callback };
            this.outbox.onFinish(
              task,
              "failed",
              () => failureBody(row.id, { message, traceback: null }),
              now,
            );
          }
          report.failed++;
        }
      }
      const expired = sql.expireQueued.all(now, expiredMessage(), now) as { id: string; queue: string }[];
      for (const { id, queue } of expired) {
        this.tally.add(queue, -1, 0);
        this.noteFinished(id);
        report.expired++;
      }
      return report;
    });
    // Deleting is done in chunks, each its own write, so a large purge never holds the event loop for long.
    // Delivered and skipped deliveries go with the same retention (their createdAt is their task's
    // finishedAt); pending and failed ones stay (see `callbacks/port.ts`).
    const cutoff = now - this.options.resultRetentionMs;
    const limit = this.options.purgeLimit ?? 100_000;
    let tasksLeft = true;
    let deliveriesLeft = true;
    let deliveriesPurged = 0;
    while (tasksLeft || deliveriesLeft) {
      const taskChunk: number = tasksLeft ? Math.min(PURGE_CHUNK, limit - report.purged) : 0;
      const deliveryChunk: number = deliveriesLeft ? Math.min(PURGE_CHUNK, limit - deliveriesPurged) : 0;
      const [tasks, deliveries] = await this.write((sql): [number, number] => [
        taskChunk > 0 ? sql.purge.run(cutoff, taskChunk).changes : 0,
        deliveryChunk > 0 ? this.outbox.purge(cutoff, deliveryChunk) : 0,
      ]);
      report.purged += tasks;
      deliveriesPurged += deliveries;
      tasksLeft = tasks === taskChunk && report.purged < limit;
      deliveriesLeft = deliveries === deliveryChunk && deliveriesPurged < limit;
    }
    return report;
  }

  private write<T>(op: (sql: Statements) => T): Promise<T> {
    if (this.closed) return Promise.reject(closedError());
    const sql = this.statements();
    return this.writer!.write(() => op(sql));
  }

  private statements(): Statements {
    if (this.closed) throw closedError();
    if (!this.sql) throw new Error("the task queue is not ready: call ready() first");
    return this.sql;
  }

  private noteWork(queue: string): void {
    if (this.waiters.has(queue)) this.toWake.add(queue);
  }

  private read(taskId: string): TaskRecord | undefined {
    const row = this.statements().get.get(taskId) as TaskRow | undefined;
    return row === undefined ? undefined : toRecord(row, this.clock());
  }

  private noteFinished(taskId: string): void {
    if (this.finishWaiters.has(taskId)) this.finished.add(taskId);
  }

  private rolledBack(): void {
    this.toWake.clear();
    this.finished.clear();
    this.tally.rollback();
    this.outbox.rolledBack();
  }

  private committed(): void {
    this.tally.commit();
    this.outbox.committed();
    if (this.finished.size > 0) {
      const tasks = [...this.finished];
      this.finished.clear();
      for (const taskId of tasks) this.finishWaiters.wake(taskId);
    }
    if (this.toWake.size === 0) return;
    const queues = [...this.toWake];
    this.toWake.clear();
    for (const queue of queues) this.waiters.wake(queue);
  }
}

/** Finished tasks deleted per transaction by the sweep (about 1–2 ms of work each). */
const PURGE_CHUNK = 2_000;

interface LeasableRow {
  seq: number;
  id: string;
  owner: string;
  created_by: string;
  payload: string;
  attempts: number;
  max_attempts: number;
  created_at: number;
}

interface ExpiredLeaseRow {
  seq: number;
  id: string;
  queue: string;
  owner: string;
  attempts: number;
  max_attempts: number;
  callback: string | null;
}

/** What `complete` and `fail` read back from the task they finish. */
interface FinishedRow {
  queue: string;
  owner: string;
  /** The callback spec as JSON; null: the task sends no callback. */
  callback: string | null;
}

/** Queued and in-flight tasks per queue, counted in the table. */
function readDepths(sql: Statements): Map<string, QueueDepth> {
  const depths = new Map<string, QueueDepth>();
  for (const { queue, n } of sql.queuedByQueue.all() as { queue: string; n: number }[]) {
    depths.set(queue, { queued: n, inFlight: 0 });
  }
  for (const { queue, n } of sql.inFlightByQueue.all() as { queue: string; n: number }[]) {
    const depth = depths.get(queue);
    if (depth) depth.inFlight = n;
    else depths.set(queue, { queued: 0, inFlight: n });
  }
  return depths;
}

/** Loads better-sqlite3 only when this adapter is used (it is a native module). */
async function loadDriver(): Promise<typeof BetterSqlite3> {
  // A CommonJS module: Node hands it over as `default`; the type declarations describe `module.exports`.
  const loaded = (await import("better-sqlite3")) as typeof BetterSqlite3 & {
    default?: typeof BetterSqlite3;
  };
  return loaded.default ?? loaded;
}

function closedError(): Error {
  return new Error("the task queue is closed");
}

function toRecord(row: TaskRow, now: number): TaskRecord {
  // A task queued past its expiry is UNDEFINED at once, even before the sweep records it.
  const expired = row.status === "PENDING" && row.expires_at !== null && row.expires_at <= now;
  const status = expired ? "UNDEFINED" : row.status;
  let error: TaskError | null = null;
  if (expired) error = { message: expiredMessage(), traceback: null, statusCode: null };
  else if (row.error_message !== null) {
    error = { message: row.error_message, traceback: row.traceback, statusCode: row.status_code };
  }
  return {
    id: row.id,
    queue: row.queue,
    owner: row.owner,
    createdBy: row.created_by,
    status,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    startedAt: row.started_at,
    finishedAt: expired ? row.expires_at : row.finished_at,
    workerId: row.worker_id,
    leaseExpiresAt: status === "STARTED" ? row.lease_expires_at : null,
    result:
      status === "SUCCESS" && row.output !== null
        ? resultFromStored(row.output, row.status_code ?? 200)
        : null,
    error,
  };
}
