/**
 * A complete {@link CallbackOutbox} kept in this process's memory: for a single process that does not
 * need deliveries to survive a restart (tests, embedding the dispatcher, trying things out). It is an
 * adapter like the embedded queue's outbox, with the same behaviour and the same input checks
 * (`queue/validate-callbacks.ts`), but nothing is durable: a restart loses every delivery, and no task
 * writes into it (deliveries come only from `addDelivery`). Production servers use the embedded queue's outbox (same SQLite file as tasks).
 */
import { randomUUID } from "node:crypto";
import { LaunchError } from "@launch/protocol";
import {
  checkAttempt,
  checkClaim,
  checkListQuery,
  checkNewDelivery,
  checkNow,
} from "../queue/validate-callbacks.js";
import { addedDelivery, deliveryExists } from "./new-delivery.js";
import type {
  AttemptRecord,
  CallbackOutbox,
  ClaimedDelivery,
  DeliveryListQuery,
  DeliveryRecord,
  NewAttempt,
  NewDelivery,
} from "./port.js";

interface Entry {
  record: DeliveryRecord;
  attempts: AttemptRecord[];
  claimToken: string | null;
  claimUntil: number;
}

interface Waiter {
  resolve(due: boolean): void;
  timer: NodeJS.Timeout | undefined;
}

export interface MemoryCallbackOutboxOptions {
  /** Epoch ms; replaceable in tests. */
  clock?: () => number;
}

/**
 * The in-memory outbox.
 *
 * @example
 * const outbox = new MemoryCallbackOutbox();
 * await outbox.addDelivery({ id: newId("delivery"), ..., status: "pending", createdAt: Date.now() });
 * const [claimed] = await outbox.claimDue(10, 60_000);
 */
export class MemoryCallbackOutbox implements CallbackOutbox {
  readonly #entries = new Map<string, Entry>();
  readonly #waiters = new Set<Waiter>();
  readonly #clock: () => number;
  #closed = false;

  constructor(options: MemoryCallbackOutboxOptions = {}) {
    this.#clock = options.clock ?? Date.now;
  }

  async addDelivery(delivery: NewDelivery): Promise<DeliveryRecord> {
    checkNewDelivery(delivery);
    if (this.#entries.has(delivery.id)) throw deliveryExists(delivery.id);
    const pending = delivery.status === "pending";
    const record = addedDelivery(delivery);
    this.#entries.set(record.id, { record, attempts: [], claimToken: null, claimUntil: 0 });
    if (pending) this.#wake();
    return { ...record };
  }

  async claimDue(max: number, claimMs: number, now = this.#clock()): Promise<ClaimedDelivery[]> {
    checkClaim(max, claimMs, now);
    const due = [...this.#entries.values()]
      .filter((entry) => this.#isDue(entry, now))
      .sort(
        (a, b) =>
          (a.record.nextAttemptAt ?? 0) - (b.record.nextAttemptAt ?? 0) ||
          (a.record.id < b.record.id ? -1 : 1),
      )
      .slice(0, Math.max(0, max));
    return due.map((entry) => {
      entry.claimToken = randomUUID();
      entry.claimUntil = now + claimMs;
      return { ...entry.record, claimToken: entry.claimToken };
    });
  }

  async recordAttempt(deliveryId: string, claimToken: string, attempt: NewAttempt): Promise<boolean> {
    checkAttempt(attempt);
    const entry = this.#entries.get(deliveryId);
    if (!entry || entry.claimToken !== claimToken || entry.record.status !== "pending") return false;
    const record = entry.record;
    entry.attempts.push({ ...attempt, deliveryId, n: record.attempts + 1 });
    entry.claimToken = null;
    entry.claimUntil = 0;
    record.attempts += 1;
    record.lastStatusCode = attempt.statusCode;
    record.lastError = attempt.outcome === "delivered" ? null : attempt.errorMessage;
    if (attempt.outcome === "delivered") {
      record.status = "delivered";
      record.nextAttemptAt = null;
      record.deliveredAt = attempt.startedAt + Math.round(attempt.latencyMs);
    } else if (attempt.outcome === "retry") {
      record.nextAttemptAt = attempt.nextAttemptAt ?? this.#clock();
      this.#wake();
    } else {
      record.status = "failed";
      record.nextAttemptAt = null;
    }
    return true;
  }

  async releaseClaim(deliveryId: string, claimToken: string): Promise<boolean> {
    const entry = this.#entries.get(deliveryId);
    if (!entry || entry.claimToken !== claimToken || entry.record.status !== "pending") return false;
    entry.claimToken = null;
    entry.claimUntil = 0;
    this.#wake();
    return true;
  }

  waitForDue(timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (this.#closed || signal?.aborted) return Promise.resolve(false);
    const now = this.#clock();
    let earliest = Number.POSITIVE_INFINITY;
    for (const entry of this.#entries.values()) {
      if (entry.record.status !== "pending") continue;
      if (this.#isDue(entry, now)) return Promise.resolve(true);
      const dueAt = Math.max(entry.record.nextAttemptAt ?? 0, entry.claimToken ? entry.claimUntil : 0);
      earliest = Math.min(earliest, dueAt);
    }
    return new Promise<boolean>((resolve) => {
      const waiter: Waiter = {
        resolve: (due) => {
          if (!this.#waiters.delete(waiter)) return;
          clearTimeout(waiter.timer);
          signal?.removeEventListener("abort", onAbort);
          resolve(due);
        },
        timer: undefined,
      };
      const onAbort = (): void => waiter.resolve(false);
      this.#waiters.add(waiter);
      signal?.addEventListener("abort", onAbort, { once: true });
      const untilDue = earliest - now;
      waiter.timer = setTimeout(
        () => waiter.resolve(untilDue <= timeoutMs),
        Math.max(0, Math.min(timeoutMs, untilDue)),
      );
    });
  }

  async getDelivery(id: string): Promise<DeliveryRecord | undefined> {
    const entry = this.#entries.get(id);
    return entry ? { ...entry.record } : undefined;
  }

  async listAttempts(deliveryId: string): Promise<AttemptRecord[]> {
    return (this.#entries.get(deliveryId)?.attempts ?? []).map((attempt) => ({ ...attempt }));
  }

  async listDeliveriesOfTask(taskId: string): Promise<DeliveryRecord[]> {
    return this.#records()
      .filter((record) => record.taskId === taskId)
      .sort(byId);
  }

  async listDeliveries(query: DeliveryListQuery): Promise<DeliveryRecord[]> {
    checkListQuery(query);
    // Ids sort by creation, so "before" and "newest first" are id comparisons (as in the embedded adapter).
    return this.#records()
      .filter(
        (record) =>
          record.endpointId === query.endpointId &&
          (query.status === undefined || record.status === query.status) &&
          (query.before === undefined || record.id < query.before),
      )
      .sort((a, b) => byId(b, a))
      .slice(0, query.limit ?? 100);
  }

  async replay(deliveryId: string, now = this.#clock()): Promise<DeliveryRecord | undefined> {
    checkNow(now);
    const entry = this.#entries.get(deliveryId);
    if (!entry) return undefined;
    const record = entry.record;
    if (record.status === "skipped") {
      throw new LaunchError(
        "bad_request",
        `delivery ${deliveryId} was skipped (${record.lastError ?? "nothing to send"}); it cannot be replayed`,
      );
    }
    if (record.status !== "pending") this.#replayEntry(entry, now);
    return { ...record };
  }

  async replayFailed(endpointId: string, now = this.#clock()): Promise<number> {
    checkNow(now);
    let count = 0;
    for (const entry of this.#entries.values()) {
      if (entry.record.endpointId === endpointId && entry.record.status === "failed") {
        this.#replayEntry(entry, now);
        count++;
      }
    }
    return count;
  }

  /** Wakes every `waitForDue` with false and refuses new waits. */
  close(): void {
    this.#closed = true;
    for (const waiter of [...this.#waiters]) waiter.resolve(false);
  }

  #replayEntry(entry: Entry, now: number): void {
    entry.record.status = "pending";
    entry.record.nextAttemptAt = now;
    entry.record.deliveredAt = null;
    entry.claimToken = null;
    entry.claimUntil = 0;
    this.#wake();
  }

  #isDue(entry: Entry, now: number): boolean {
    return (
      entry.record.status === "pending" &&
      (entry.record.nextAttemptAt ?? 0) <= now &&
      (entry.claimToken === null || entry.claimUntil <= now)
    );
  }

  #records(): DeliveryRecord[] {
    return [...this.#entries.values()].map((entry) => ({ ...entry.record }));
  }

  /** Re-evaluates every waiter: something was added, replayed or rescheduled. */
  #wake(): void {
    for (const waiter of [...this.#waiters]) waiter.resolve(true);
  }
}

function byId(a: DeliveryRecord, b: DeliveryRecord): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
