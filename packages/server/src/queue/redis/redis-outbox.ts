/**
 * The callback outbox of the Redis queue: deliveries and their attempts in the same Redis as the tasks
 * (key layout in `redis-queue.ts`). A finished task's delivery is written by the script that finishes the
 * task; this class serves the rest of the port. `RedisTaskQueue` owns one and exposes it as its
 * `CallbackOutbox` side; this class never opens or closes a connection itself.
 *
 * Claims: claiming moves a delivery from `dlv-due` (by due time) to `dlv-claimed` (by claim expiry) and
 * stores the claim token in its hash; a claim that ran out is claimable again, and the claim is lost only
 * when another claim replaces the token. Retries are due again at the attempt's `nextAttemptAt` (the
 * dispatcher's retry schedule), published on `P::due` so idle dispatchers in every process arm a timer.
 */
import { randomUUID } from "node:crypto";
import { LaunchError } from "@launch/protocol";
import type { Redis } from "ioredis";
import { addedDelivery, deliveryExists } from "../../callbacks/new-delivery.js";
import type {
  AttemptRecord,
  CallbackOutbox,
  ClaimedDelivery,
  DeliveryListQuery,
  DeliveryRecord,
  DeliveryStatus,
  NewAttempt,
  NewDelivery,
} from "../../callbacks/port.js";
import type { StoredCallbackAuth } from "../../store/port.js";
import {
  checkAttempt,
  checkClaim,
  checkListQuery,
  checkNewDelivery,
  checkNow,
} from "../validate-callbacks.js";
import { DELIVERY_FIELDS, type ScriptName } from "./scripts.js";
import type { RedisSignals } from "./signals.js";

type Reply = string | number | null | Reply[];

/** What the outbox borrows from the queue that owns it. */
export interface RedisOutboxHost {
  /** Runs a script (the prefix is added). */
  call(name: ScriptName, ...args: (string | number)[]): Promise<Reply>;
  /** The command connection; throws when closed or not ready. */
  connection(): Redis;
  /** The wake-ups; throws when closed or not ready. */
  signals(): RedisSignals;
  isClosed(): boolean;
  clock: () => number;
  prefix: string;
}

/** Default page size of `listDeliveries`. */
const DEFAULT_LIMIT = 100;
const WIDTH = DELIVERY_FIELDS.length;

/**
 * The Redis implementation of the callback outbox port.
 *
 * @example const outbox = new RedisOutbox(host); const batch = await outbox.claimDue(64, 30_000);
 */
export class RedisOutbox implements CallbackOutbox {
  constructor(private readonly host: RedisOutboxHost) {}

  async addDelivery(delivery: NewDelivery): Promise<DeliveryRecord> {
    checkNewDelivery(delivery);
    const pending = delivery.status === "pending";
    const lastError = pending ? null : (delivery.note ?? null);
    const inserted = await this.host.call(
      "addDelivery",
      delivery.id,
      delivery.taskId ?? "",
      delivery.endpointId,
      delivery.owner,
      delivery.event,
      delivery.url ?? "",
      delivery.auth === null ? "" : JSON.stringify(delivery.auth),
      delivery.body,
      delivery.status,
      optional(lastError),
      delivery.createdAt,
    );
    if (inserted !== 1) {
      throw deliveryExists(delivery.id);
    }
    return addedDelivery(delivery);
  }

  async claimDue(max: number, claimMs: number, now: number = this.host.clock()): Promise<ClaimedDelivery[]> {
    checkClaim(max, claimMs, now);
    const reply = (await this.host.call("claimDue", now, max, now + claimMs, randomUUID())) as Reply[];
    const claimed: ClaimedDelivery[] = [];
    for (let i = 0; i < reply.length; i += WIDTH + 1) {
      const delivery = toDeliveryRecord(reply.slice(i + 1, i + 1 + WIDTH)) as ClaimedDelivery;
      delivery.claimToken = reply[i] as string;
      claimed.push(delivery);
    }
    return claimed;
  }

  async recordAttempt(deliveryId: string, claimToken: string, attempt: NewAttempt): Promise<boolean> {
    checkAttempt(attempt);
    const retry = attempt.outcome === "retry";
    const delivered = attempt.outcome === "delivered";
    const next = retry ? attempt.nextAttemptAt : null;
    // The attempt as logged; its delivery id and number are known from where it is kept.
    const logged = JSON.stringify({
      startedAt: attempt.startedAt,
      url: attempt.url,
      statusCode: attempt.statusCode,
      errorClass: attempt.errorClass,
      errorMessage: attempt.errorMessage,
      latencyMs: attempt.latencyMs,
      outcome: attempt.outcome,
      nextAttemptAt: next,
    });
    const n = await this.host.call(
      "recordAttempt",
      deliveryId,
      claimToken,
      retry ? "pending" : attempt.outcome,
      next ?? "",
      optional(delivered ? null : (attempt.errorMessage ?? attempt.errorClass)),
      attempt.statusCode ?? "",
      delivered ? attempt.startedAt + Math.round(attempt.latencyMs) : "",
      logged,
    );
    return Number(n) > 0;
  }

  async releaseClaim(deliveryId: string, claimToken: string): Promise<boolean> {
    return Number(await this.host.call("releaseClaim", deliveryId, claimToken)) === 1;
  }

  async waitForDue(timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (this.host.isClosed()) return false;
    const signals = this.host.signals();
    const channel = `${this.host.prefix}::due`;
    const wait = signals.waiters.add(channel, timeoutMs, signal);
    try {
      const release = await signals.subscribe(channel);
      try {
        const [due, claimEnds] = ((await this.host.call("nextDue")) as (string | null)[]).map((v) =>
          v === null || v === undefined ? undefined : Number(v),
        );
        const now = this.host.clock();
        if ((due !== undefined && due <= now) || (claimEnds !== undefined && claimEnds <= now)) {
          wait.settle(true);
        } else {
          const next =
            due === undefined ? claimEnds : claimEnds === undefined ? due : Math.min(due, claimEnds);
          if (next !== undefined) signals.armDue(next);
        }
        return await wait.done;
      } finally {
        release();
      }
    } catch (error) {
      if (this.host.isClosed()) return false;
      throw error;
    } finally {
      wait.settle(false);
    }
  }

  async getDelivery(id: string): Promise<DeliveryRecord | undefined> {
    const values = (await this.host.call("getDelivery", id)) as Reply[];
    return values.length === 0 ? undefined : toDeliveryRecord(values);
  }

  async listAttempts(deliveryId: string): Promise<AttemptRecord[]> {
    const key = `${this.host.prefix}::dlv:${deliveryId}:attempts`;
    const rows = await this.host.connection().lrange(key, 0, -1);
    return rows.map((row, i) => ({
      deliveryId,
      n: i + 1,
      ...(JSON.parse(row) as Omit<AttemptRecord, "deliveryId" | "n">),
    }));
  }

  async listDeliveriesOfTask(taskId: string): Promise<DeliveryRecord[]> {
    return toDeliveryRecords((await this.host.call("deliveriesOfTask", taskId)) as Reply[]);
  }

  async listDeliveries(query: DeliveryListQuery): Promise<DeliveryRecord[]> {
    checkListQuery(query);
    const reply = await this.host.call(
      "listDeliveries",
      query.endpointId,
      query.status ?? "",
      query.before ?? "",
      query.limit ?? DEFAULT_LIMIT,
    );
    return toDeliveryRecords(reply as Reply[]);
  }

  async replay(deliveryId: string, now: number = this.host.clock()): Promise<DeliveryRecord | undefined> {
    checkNow(now);
    const values = (await this.host.call("replay", deliveryId, now)) as Reply[];
    if (values.length === 0) return undefined;
    const record = toDeliveryRecord(values);
    if (record.status === "skipped") {
      throw new LaunchError(
        "bad_request",
        `delivery ${deliveryId} was skipped (${record.lastError ?? "nothing to send"}) and cannot be replayed: ` +
          "it has no URL; give the endpoint a default_callback_url or submit the task again with a callback_url",
      );
    }
    return record;
  }

  async replayFailed(endpointId: string, now: number = this.host.clock()): Promise<number> {
    checkNow(now);
    return Number(await this.host.call("replayFailed", endpointId, now));
  }
}

/** An optional text argument of the scripts: '' is none, '=' followed by the text is the text. */
function optional(text: string | null): string {
  return text === null ? "" : `=${text}`;
}

function toDeliveryRecords(reply: Reply[]): DeliveryRecord[] {
  const records: DeliveryRecord[] = [];
  for (let i = 0; i < reply.length; i += WIDTH) records.push(toDeliveryRecord(reply.slice(i, i + WIDTH)));
  return records;
}

/** A delivery as the port reads it, from its DELIVERY_FIELDS. */
function toDeliveryRecord(values: Reply[]): DeliveryRecord {
  const field = (name: (typeof DELIVERY_FIELDS)[number]): string | null =>
    (values[DELIVERY_FIELDS.indexOf(name)] as string | null | undefined) ?? null;
  const number = (name: (typeof DELIVERY_FIELDS)[number]): number | null => {
    const value = field(name);
    return value === null ? null : Number(value);
  };
  const status = field("st") as DeliveryStatus;
  const auth = field("auth");
  return {
    id: field("id")!,
    taskId: field("task"),
    endpointId: field("ep")!,
    owner: field("own")!,
    event: field("ev") as DeliveryRecord["event"],
    url: field("url"),
    auth: auth === null ? null : (JSON.parse(auth) as StoredCallbackAuth),
    body: field("body")!,
    status,
    attempts: number("n") ?? 0,
    nextAttemptAt: status === "pending" ? number("next") : null,
    lastError: field("err"),
    lastStatusCode: number("code"),
    createdAt: number("created")!,
    deliveredAt: number("delivered"),
  };
}
