/**
 * The callback outbox of the embedded queue: deliveries and attempts in the queue's own SQLite file,
 * written through the queue's group commit, so the delivery of a finished task commits in the same
 * transaction as its result. `EmbeddedTaskQueue` owns one and exposes it as its `CallbackOutbox` side;
 * this class never opens or closes the connection itself.
 */
import { randomUUID } from "node:crypto";
import { type CallbackEvent, LaunchError, newId } from "@launch/protocol";
import { addedDelivery, deliveryExists } from "../../callbacks/new-delivery.js";
import type {
  AttemptRecord,
  CallbackOutbox,
  CallbackSpec,
  ClaimedDelivery,
  DeliveryListQuery,
  DeliveryRecord,
  NewAttempt,
  NewDelivery,
} from "../../callbacks/port.js";
import { DELIVERY_STATUSES } from "../../callbacks/port.js";
import {
  checkAttempt,
  checkClaim,
  checkListQuery,
  checkNewDelivery,
  checkNow,
} from "../validate-callbacks.js";
import {
  type AttemptRow,
  byDueOrder,
  type ClaimedValues,
  claimedFromValues,
  type DeliveryRow,
  type DeliveryStatements,
  seqOfClaimToken,
  toAttemptRecord,
  toDeliveryRecord,
} from "./delivery-statements.js";
import { DueSignal } from "./due-signal.js";

/** Why a delivery was written `skipped`: the endpoint has the hook, but neither it nor the task gave a URL. */
export const NO_CALLBACK_URL = "no callback URL";

/** What the outbox borrows from the queue that owns it. */
export interface OutboxHost {
  /** Runs `op` in the queue's group commit; resolves with its value once committed. */
  write<T>(op: (sql: DeliveryStatements) => T): Promise<T>;
  /** The prepared statements; throws when the queue is closed or not ready. */
  statements(): DeliveryStatements;
  /** Whether the queue is closed. */
  isClosed(): boolean;
  clock: () => number;
}

/** The columns of a finishing task the outbox needs. */
export interface FinishingTask {
  id: string;
  /** The endpoint id. */
  queue: string;
  owner: string;
  /** The stored callback spec (JSON). */
  callback: string;
}

/** Default page size of `listDeliveries`. */
const DEFAULT_LIMIT = 100;
/** Greater than any id, for a listing without `before`. */
const NO_BEFORE = "\uffff";

/**
 * The embedded implementation of the callback outbox port.
 *
 * @example const outbox = new EmbeddedOutbox(host); const batch = await outbox.claimDue(64, 30_000);
 */
export class EmbeddedOutbox implements CallbackOutbox {
  private readonly due: DueSignal;
  /**
   * At or before the creation time of every delivered or skipped delivery (+∞: there is none; −∞: not
   * known yet), so an idle sweep skips the purge without a statement. Only ever lowered by writes, and
   * read back from the table after a purge.
   */
  private oldestDone = Number.NEGATIVE_INFINITY;

  constructor(private readonly host: OutboxHost) {
    this.due = new DueSignal(host.clock);
  }

  /**
   * Writes the delivery of a task that just finished with `event`, if its spec asks for that event. Runs
   * inside the write that finishes the task (same transaction); `body` is built only when needed.
   */
  onFinish(task: FinishingTask, event: CallbackEvent, body: () => string, now: number): void {
    const spec = JSON.parse(task.callback) as CallbackSpec;
    if (!spec.events.includes(event)) return;
    const skipped = spec.url === null;
    this.host.statements().insert.run({
      id: newId("delivery"),
      taskId: task.id,
      endpointId: task.queue,
      owner: task.owner,
      event,
      url: spec.url,
      auth: spec.auth === null ? null : JSON.stringify(spec.auth),
      body: body(),
      status: skipped ? "skipped" : "pending",
      next: skipped ? null : now,
      lastError: skipped ? NO_CALLBACK_URL : null,
      createdAt: now,
    });
    if (skipped) this.noteDone(now);
    else this.due.note(now);
  }

  /**
   * Deletes up to `limit` delivered or skipped deliveries created at or before `cutoff`, with their
   * attempts; runs inside a sweep's write. Resolves how many deliveries.
   */
  purge(cutoff: number, limit: number): number {
    if (cutoff < this.oldestDone) return 0;
    const sql = this.host.statements();
    sql.purgeAttempts.run(cutoff, limit);
    const purged = sql.purge.run(cutoff, limit).changes;
    if (purged < limit) {
      const oldest = sql.oldestDone.get() as { at: number } | undefined;
      this.oldestDone = oldest?.at ?? Number.POSITIVE_INFINITY;
    }
    return purged;
  }

  /** The queue's transaction committed. */
  committed(): void {
    this.due.committed();
  }

  /** The queue's transaction rolled back. */
  rolledBack(): void {
    this.due.rolledBack();
    // A purge may have read the table as the rolled-back transaction left it.
    this.oldestDone = Number.NEGATIVE_INFINITY;
  }

  /** The queue is closing: wake every waiter with false. */
  close(): void {
    this.due.close();
  }

  async addDelivery(delivery: NewDelivery): Promise<DeliveryRecord> {
    checkNewDelivery(delivery);
    const pending = delivery.status === "pending";
    const lastError = pending ? null : (delivery.note ?? null);
    const auth = delivery.auth === null ? null : JSON.stringify(delivery.auth);
    const inserted = await this.host.write((sql) => {
      const { changes } = sql.insert.run({
        id: delivery.id,
        taskId: delivery.taskId,
        endpointId: delivery.endpointId,
        owner: delivery.owner,
        event: delivery.event,
        url: delivery.url,
        auth,
        body: delivery.body,
        status: delivery.status,
        next: pending ? delivery.createdAt : null,
        lastError,
        createdAt: delivery.createdAt,
      });
      if (changes > 0 && pending) this.due.note(delivery.createdAt);
      if (changes > 0 && !pending) this.noteDone(delivery.createdAt);
      return changes > 0;
    });
    if (!inserted) {
      throw deliveryExists(delivery.id);
    }
    return addedDelivery(delivery);
  }

  async claimDue(max: number, claimMs: number, now: number = this.host.clock()): Promise<ClaimedDelivery[]> {
    checkClaim(max, claimMs, now);
    return this.host.write((sql) => {
      const params = { now, max, token: `${randomUUID()}.`, until: now + claimMs };
      // One UPDATE … RETURNING claims the batch. Claims that ran out are rare (a dispatcher died or let
      // deliveries go): a probe on their index decides whether the claim must look at them too.
      const lapsed = sql.anyLapsed.get(params) !== undefined;
      const rows = (lapsed ? sql.claimWithLapsed : sql.claim).all(params) as ClaimedValues[];
      // RETURNING gives rows in no set order: oldest due first, as the port promises.
      if (rows.length > 1) rows.sort(byDueOrder);
      const claimed: ClaimedDelivery[] = new Array(rows.length);
      for (let i = 0; i < rows.length; i++) claimed[i] = claimedFromValues(rows[i]!);
      return claimed;
    });
  }

  async recordAttempt(deliveryId: string, claimToken: string, attempt: NewAttempt): Promise<boolean> {
    checkAttempt(attempt);
    const seq = seqOfClaimToken(claimToken);
    if (seq === undefined) return false;
    const retry = attempt.outcome === "retry";
    const delivered = attempt.outcome === "delivered";
    const next = retry ? attempt.nextAttemptAt : null;
    return this.host.write((sql) => {
      const row = sql.afterAttempt.get(
        retry ? "pending" : attempt.outcome,
        next,
        delivered ? null : (attempt.errorMessage ?? attempt.errorClass),
        attempt.statusCode,
        delivered ? attempt.startedAt + Math.round(attempt.latencyMs) : null,
        seq,
        deliveryId,
        claimToken,
      ) as { attempts: number; created_at: number } | undefined;
      if (!row) return false;
      if (delivered) this.noteDone(row.created_at);
      sql.insertAttempt.run(
        deliveryId,
        row.attempts,
        attempt.startedAt,
        attempt.url,
        attempt.statusCode,
        attempt.errorClass,
        attempt.errorMessage,
        attempt.latencyMs,
        attempt.outcome,
        next,
      );
      if (next !== null) this.due.note(next);
      return true;
    });
  }

  async releaseClaim(deliveryId: string, claimToken: string): Promise<boolean> {
    const seq = seqOfClaimToken(claimToken);
    if (seq === undefined) return false;
    return this.host.write((sql) => {
      const released = sql.releaseClaim.run({ seq, id: deliveryId, token: claimToken }).changes > 0;
      // Due as it was (it was due when claimed): claimable now.
      if (released) this.due.note(this.host.clock());
      return released;
    });
  }

  async waitForDue(timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (this.host.isClosed()) return false;
    const sql = this.host.statements();
    const now = this.host.clock();
    // Read and start waiting in the same turn: commits run in later turns, so none can slip in between.
    const due = (sql.nextDue.get() as { at: number } | undefined)?.at;
    const claimEnds = (sql.nextClaimExpiry.get() as { at: number } | undefined)?.at;
    const next = due === undefined ? claimEnds : claimEnds === undefined ? due : Math.min(due, claimEnds);
    if (next !== undefined && next <= now) return true;
    return this.due.wait(next, timeoutMs, signal);
  }

  async getDelivery(id: string): Promise<DeliveryRecord | undefined> {
    const row = this.host.statements().get.get(id) as DeliveryRow | undefined;
    return row === undefined ? undefined : toDeliveryRecord(row);
  }

  async listAttempts(deliveryId: string): Promise<AttemptRecord[]> {
    const rows = this.host.statements().attemptsOf.all(deliveryId) as AttemptRow[];
    return rows.map(toAttemptRecord);
  }

  async listDeliveriesOfTask(taskId: string): Promise<DeliveryRecord[]> {
    const rows = this.host.statements().ofTask.all(taskId) as DeliveryRow[];
    return rows.map(toDeliveryRecord);
  }

  async listDeliveries(query: DeliveryListQuery): Promise<DeliveryRecord[]> {
    checkListQuery(query);
    const sql = this.host.statements();
    const limit = query.limit ?? DEFAULT_LIMIT;
    const params = { endpointId: query.endpointId, before: query.before ?? NO_BEFORE, limit };
    if (query.status !== undefined) {
      return (sql.ofEndpointStatus.all({ ...params, status: query.status }) as DeliveryRow[]).map(
        toDeliveryRecord,
      );
    }
    // Every status: the newest `limit` of each status's index range, merged.
    const rows: DeliveryRow[] = [];
    for (const status of DELIVERY_STATUSES) {
      rows.push(...(sql.ofEndpointStatus.all({ ...params, status }) as DeliveryRow[]));
    }
    rows.sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
    return rows.slice(0, limit).map(toDeliveryRecord);
  }

  async replay(deliveryId: string, now: number = this.host.clock()): Promise<DeliveryRecord | undefined> {
    checkNow(now);
    const row = await this.host.write((sql) => {
      const row = sql.get.get(deliveryId) as DeliveryRow | undefined;
      if (row === undefined || row.status === "pending" || row.status === "skipped") return row;
      this.due.note(now);
      return sql.replay.get(now, row.seq) as DeliveryRow;
    });
    if (row?.status === "skipped") {
      throw new LaunchError(
        "bad_request",
        `delivery ${deliveryId} was skipped (${row.last_error ?? "nothing to send"}) and cannot be replayed: ` +
          "it has no URL; give the endpoint a default_callback_url or submit the task again with a callback_url",
      );
    }
    return row === undefined ? undefined : toDeliveryRecord(row);
  }

  /** A delivery created at `createdAt` became delivered or skipped in the transaction being written. */
  private noteDone(createdAt: number): void {
    if (createdAt < this.oldestDone) this.oldestDone = createdAt;
  }

  async replayFailed(endpointId: string, now: number = this.host.clock()): Promise<number> {
    checkNow(now);
    return this.host.write((sql) => {
      const { changes } = sql.replayFailed.run(now, endpointId);
      if (changes > 0) this.due.note(now);
      return changes;
    });
  }
}
