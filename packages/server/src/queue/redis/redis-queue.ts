/**
 * The Redis task queue (scale-out): tasks and callback deliveries in one Redis, shared by every server
 * process (`multiProcess: true`); idle workers and long polls wake across processes through Redis pub/sub
 * (`notifiesWaiters: true`). Like the embedded queue it is also the callback outbox (`CallbackOutbox`, see
 * `redis-outbox.ts`), and a finished task's delivery is written in the same step as its result.
 * `ioredis` is loaded only when this adapter is opened (`ready`): importing this file does not load it.
 *
 * **Durability.** Redis is the durable store here: a write is acknowledged once Redis applied it, and
 * survives a Redis restart as far as Redis persists it. Operators run Redis with AOF
 * (`appendonly yes`; `appendfsync everysec` may lose the last second on a host crash, `always` loses
 * nothing) and `maxmemory-policy noeviction` (an evicting Redis would silently drop tasks).
 *
 * **Atomicity.** Every write is one Lua script (`scripts.ts`), run atomically by Redis: the token check and
 * the state change of a lease, and the result and the delivery of a finished task, are one step, so a
 * delivery exists if and only if its result does, and the first completion wins. Times come from the
 * adapter's clock (injectable) as script arguments; no script reads Redis `TIME`. The sweep reads expired
 * leases, decides in code (the failure message and body live in `messages.ts` and `delivery-body.ts`), then
 * applies each reclaim in a script that re-checks the lease token and deadline, so a lease extended or
 * finished in between is left alone.
 *
 * **BullMQ.** Each endpoint is a BullMQ-compatible queue named by its endpoint id: the task is a BullMQ job
 * hash (`name`, `data` = the payload, `timestamp`, `ats` = attempts started, `processedOn`, `processedBy`
 * as `pb`, `finishedOn`, `returnvalue`, `failedReason`) and the states are BullMQ's keys (`prioritized`
 * holds the queued tasks in FIFO order, then `active`, `completed`, `failed`), so BullMQ's own `Queue`
 * (`getJobCounts`, `getJob`) and dashboards built on it read our queues. BullMQ's worker machinery is not
 * used to lease, because the port's rules differ from it: its locks expire on Redis' real-time TTL and its
 * stalled checker reclaims them with its own attempts policy, while here a lease runs on the injectable
 * clock and is lost only when `sweep` reclaims it (a worker finishing a little late still wins); and no
 * BullMQ script can write our delivery in the step that completes the job. Never point a BullMQ `Worker`
 * at these queues. (The benchmark `bench/queue-redis.mjs` compares this adapter with plain BullMQ.)
 *
 * Key layout, under the configurable prefix `P` (default `launch`; tests use a unique one each):
 *
 *     P:<queue>:<taskId>        hash   the task (BullMQ job fields above, and: st status, q queue, own owner,
 *                                      by createdBy, max maxAttempts, exp expiresAt, seq FIFO rank, tok lease
 *                                      token, dl lease deadline, code result status, tb traceback, ecode
 *                                      error status, cbe/cbu/cba callback events, URL, sealed auth JSON)
 *     P:<queue>:prioritized     zset   PENDING task ids by seq (FIFO; a task put back keeps its seq)
 *     P:<queue>:active          list   STARTED task ids
 *     P:<queue>:completed       zset   SUCCESS task ids by finishedAt
 *     P:<queue>:failed          zset   FAILURE and UNDEFINED task ids by finishedAt
 *     P::tasks                  hash   task id → queue (every task; the id is unique across queues)
 *     P::seq                    string the FIFO counter
 *     P::queues                 set    queues that may have queued or in-flight tasks (for `depths`)
 *     P::leases                 zset   STARTED task ids by lease deadline (the sweep, `revokeLeases`)
 *     P::worker:<workerId>      set    task ids a worker holds leases on
 *     P::expiring               zset   PENDING task ids that have an expiry, by expiresAt
 *     P::finished               zset   finished task ids by finishedAt (the retention purge)
 *     P::dlv:<id>               hash   a delivery (id, task, ep, own, ev, url, auth, body, st, n attempts, next,
 *                                      err, code, created, delivered, tok/until: the claim)
 *     P::dlv:<id>:attempts      list   its attempts, as JSON, in order (the nth is attempt n)
 *     P::dlv-due                zset   pending, unclaimed delivery ids by next attempt time
 *     P::dlv-claimed            zset   pending, claimed delivery ids by claim expiry
 *     P::dlv-task:<taskId>      zset   a task's delivery ids (score 0: ordered by id)
 *     P::dlv-ep:<endpoint>:<st> zset   an endpoint's delivery ids of one status (score 0: ordered by id)
 *     P::dlv-done               zset   delivered and skipped delivery ids by createdAt (the retention purge)
 *
 * Pub/sub channels: `P::work:<queue>` (work arrived or came back), `P::done:<taskId>` (the task finished),
 * `P::due` (a delivery is due at the time in the message). A key containing `::` is never a queue's, since
 * queue names are non-empty. The scripts build keys from the prefix, so one Redis primary serves a
 * deployment (not Redis Cluster).
 */

import { randomUUID } from "node:crypto";
import { LaunchError, newId, type TaskStatus } from "@launch/protocol";
import type { Redis, RedisOptions } from "ioredis";
import { failureBody, successBodyFromJson } from "../../callbacks/delivery-body.js";
import { NO_CALLBACK_URL } from "../embedded/embedded-outbox.js";
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
import { RedisOutbox } from "./redis-outbox.js";
import { SCRIPTS, type ScriptName, TASK_FIELDS } from "./scripts.js";
import { RedisSignals } from "./signals.js";
import { isRedisPrefix, redactRedisUrl } from "./url.js";

export interface RedisTaskQueueOptions {
  /** `redis://[:password@]host:6379[/db]`, or `rediss://` for TLS. */
  url: string;
  /** Prefix of every key and channel. Default `launch`. Servers sharing a queue use the same one. */
  prefix?: string | undefined;
  /** How long finished tasks (and delivered or skipped deliveries) are kept before `sweep` deletes them. */
  resultRetentionMs: number;
  /** The current time in epoch milliseconds; tests pass a controllable clock. Default `Date.now`. */
  clock?: (() => number) | undefined;
  /** Most finished tasks (and, separately, deliveries) one `sweep` deletes; the rest go on the next. Default 100,000. */
  purgeLimit?: number | undefined;
  /** How long `ready` waits for Redis to answer. Default 10,000 ms. */
  connectTimeoutMs?: number | undefined;
  /**
   * Called when a connection fails after `ready` (ioredis reconnects by itself). Default: a process
   * warning naming the server without its password, once per outage.
   */
  onConnectionError?: ((error: Error) => void) | undefined;
}

/** The default key prefix. */
export const DEFAULT_PREFIX = "launch";
/** Expired leases and queued tasks handled per script by the sweep. */
const SWEEP_CHUNK = 1_000;
/** Finished tasks or deliveries deleted per script by the sweep. */
const PURGE_CHUNK = 2_000;

type Reply = string | number | null | Reply[];

/**
 * Opens (lazily, in `ready`) the Redis task queue, which is also its callback outbox.
 *
 * @example
 * const queue = new RedisTaskQueue({ url: "redis://127.0.0.1:6379", resultRetentionMs: 86_400_000 });
 * await queue.ready();
 * const outbox: CallbackOutbox = queue;
 */
export class RedisTaskQueue extends ForwardsToOutbox implements TaskQueue {
  readonly capabilities: TaskQueueCapabilities = { multiProcess: true, notifiesWaiters: true };

  readonly prefix: string;
  private readonly clock: () => number;
  private readonly label: string;
  private redis: Redis | undefined;
  private subscriber: Redis | undefined;
  private signals: RedisSignals | undefined;
  private opening: Promise<void> | undefined;
  private closed = false;
  /** The callback outbox's logic; `ForwardsToOutbox` forwards the port to it. */
  protected readonly outbox: RedisOutbox;

  constructor(private readonly options: RedisTaskQueueOptions) {
    super();
    this.prefix = options.prefix ?? DEFAULT_PREFIX;
    if (!isRedisPrefix(this.prefix)) {
      throw new LaunchError(
        "validation_failed",
        `the Redis key prefix must be non-empty, without spaces or * ? [ ], got ${JSON.stringify(this.prefix)}`,
      );
    }
    this.clock = options.clock ?? Date.now;
    this.label = redactRedisUrl(options.url);
    this.outbox = new RedisOutbox({
      call: (name, ...args) => this.call(name, ...args),
      connection: () => this.connection(),
      signals: () => this.connectedSignals(),
      isClosed: () => this.closed,
      clock: this.clock,
      prefix: this.prefix,
    });
  }

  ready(): Promise<void> {
    if (this.closed) return Promise.reject(closedError());
    this.opening ??= this.open();
    return this.opening;
  }

  private async open(): Promise<void> {
    const RedisClient = await loadDriver();
    const settings: RedisOptions = {
      lazyConnect: true,
      connectTimeout: this.options.connectTimeoutMs ?? 10_000,
      // Commands issued in one event-loop turn go out as one pipeline (Redis' group commit).
      enableAutoPipelining: true,
    };
    const redis = new RedisClient(this.options.url, settings);
    const subscriber = new RedisClient(this.options.url, { ...settings, enableAutoPipelining: false });
    for (const connection of [redis, subscriber]) this.watch(connection);
    try {
      await Promise.all([redis.connect(), subscriber.connect()]);
    } catch (error) {
      redis.disconnect();
      subscriber.disconnect();
      throw new LaunchError(
        "unavailable",
        `Cannot connect to the Redis queue at ${this.label}: ${describeError(error)}; start Redis or fix LAUNCH_REDIS_URL`,
        { cause: error },
      );
    }
    for (const [name, lua] of Object.entries(SCRIPTS)) redis.defineCommand(name, { numberOfKeys: 0, lua });
    this.redis = redis;
    this.subscriber = subscriber;
    this.signals = new RedisSignals(subscriber, this.channel("due"), this.clock);
    if (this.closed) await this.shutdown();
  }

  /** Reports connection failures after `ready`: through the option, or one process warning per outage. */
  private watch(connection: Redis): void {
    let warned = false;
    connection.on("ready", () => {
      warned = false;
    });
    connection.on("error", (error: Error) => {
      if (this.closed || !this.redis) return;
      if (this.options.onConnectionError) this.options.onConnectionError(error);
      else if (!warned) {
        warned = true;
        process.emitWarning(
          `The connection to the Redis queue at ${this.label} failed: ${describeError(error)}; reconnecting.`,
          { code: "LAUNCH_QUEUE_CONNECTION" },
        );
      }
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.opening?.catch(() => undefined);
    await this.shutdown();
  }

  private async shutdown(): Promise<void> {
    this.signals?.close();
    // Auto-pipelined commands go out on the next setImmediate; let them, then QUIT (sent at once, not
    // pipelined) is queued behind them, so their replies still arrive.
    await new Promise((resolve) => setImmediate(resolve));
    const quit = (connection: Redis | undefined) => connection?.quit().catch(() => connection.disconnect());
    await Promise.all([quit(this.redis), quit(this.subscriber)]);
    this.redis = undefined;
    this.subscriber = undefined;
  }

  async enqueue(task: NewTask): Promise<TaskRecord> {
    const { payloadJson } = checkNewTask(task);
    const createdAt = this.clock();
    const spec = task.callback ?? null;
    const inserted = await this.call(
      "enqueue",
      task.id,
      task.queue,
      task.owner,
      task.createdBy,
      payloadJson,
      task.maxAttempts,
      createdAt,
      task.expiresAt ?? "",
      spec === null ? 0 : 1,
      spec?.url ?? "",
      spec?.auth ? JSON.stringify(spec.auth) : "",
      spec === null ? "" : spec.events.join(","),
    );
    if (inserted !== 1) throw taskExists(task.id);
    return enqueuedTask(task, createdAt);
  }

  async lease(request: LeaseRequest): Promise<LeasedTask[]> {
    checkLeaseRequest(request);
    const now = this.clock();
    const leaseExpiresAt = now + request.leaseMs;
    const reply = (await this.call(
      "lease",
      request.queue,
      request.workerId,
      request.max,
      leaseExpiresAt,
      now,
      randomUUID(),
    )) as Reply[];
    const leased: LeasedTask[] = [];
    for (let i = 0; i < reply.length; i += 8) {
      leased.push({
        id: reply[i] as string,
        queue: request.queue,
        owner: reply[i + 1] as string,
        createdBy: reply[i + 2] as string,
        payload: JSON.parse(reply[i + 3] as string),
        maxAttempts: Number(reply[i + 4]),
        createdAt: Number(reply[i + 5]),
        attempt: Number(reply[i + 6]),
        leaseToken: reply[i + 7] as string,
        leaseExpiresAt,
      });
    }
    return leased;
  }

  async extendLease(taskId: string, leaseToken: string, leaseMs: number): Promise<boolean> {
    checkLeaseTime(leaseMs);
    return (await this.call("extend", taskId, leaseToken, this.clock() + leaseMs)) === 1;
  }

  async complete(taskId: string, leaseToken: string, result: TaskResult): Promise<boolean> {
    const outputJson = storedOutput(result);
    const [head, tail] = successBodyAround(taskId);
    const reply = (await this.call(
      "complete",
      taskId,
      leaseToken,
      this.clock(),
      outputJson,
      result.statusCode,
      head,
      tail,
      result.resultUrl === undefined ? "" : callbackResultJson(outputJson),
      newId("delivery"),
      NO_CALLBACK_URL,
    )) as Reply[];
    return reply[0] === 1;
  }

  async fail(
    taskId: string,
    leaseToken: string,
    error: TaskError,
    options: FailOptions,
  ): Promise<FailOutcome> {
    checkError(error, options);
    const reply = (await this.call(
      "fail",
      taskId,
      leaseToken,
      this.clock(),
      options.retry ? 1 : 0,
      error.message,
      error.traceback ?? "",
      error.traceback === null ? 0 : 1,
      error.statusCode ?? "",
      failureBody(taskId, error),
      newId("delivery"),
      NO_CALLBACK_URL,
    )) as Reply[];
    return reply[0] as FailOutcome;
  }

  async release(taskId: string, leaseToken: string): Promise<boolean> {
    return (await this.call("release", taskId, leaseToken)) === 1;
  }

  async revokeLeases(workerId: string): Promise<number> {
    return Number(await this.call("revoke", workerId, this.clock()));
  }

  async get(taskId: string): Promise<TaskRecord | undefined> {
    const values = (await this.call("get", taskId)) as (string | null)[];
    return values.length === 0 ? undefined : toRecord(taskId, values, this.clock());
  }

  async counts(queue: string): Promise<QueueDepth> {
    const [queued, inFlight] = (await this.call("counts", queue)) as number[];
    return { queued: queued ?? 0, inFlight: inFlight ?? 0 };
  }

  async depths(): Promise<Map<string, QueueDepth>> {
    const reply = (await this.call("depths")) as Reply[];
    const depths = new Map<string, QueueDepth>();
    for (let i = 0; i < reply.length; i += 3) {
      depths.set(reply[i] as string, { queued: Number(reply[i + 1]), inFlight: Number(reply[i + 2]) });
    }
    return depths;
  }

  async waitForWork(queue: string, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (this.closed) return false;
    const signals = this.connectedSignals();
    const channel = this.channel(`work:${queue}`);
    const wait = signals.waiters.add(channel, timeoutMs, signal);
    try {
      const release = await signals.subscribe(channel);
      try {
        if ((await this.call("hasWork", queue, this.clock())) === 1) wait.settle(true);
        return await wait.done;
      } finally {
        release();
      }
    } catch (error) {
      if (this.closed) return false;
      throw error;
    } finally {
      wait.settle(false);
    }
  }

  async waitForFinish(
    taskId: string,
    timeoutMs: number,
    signal?: AbortSignal,
    options: { owner?: string } = {},
  ): Promise<TaskRecord | undefined> {
    const signals = this.connectedSignals();
    const channel = this.channel(`done:${taskId}`);
    const wait = signals.waiters.add(channel, timeoutMs, signal);
    // One pattern subscription for every finish wait of this process.
    const subscription = signals.subscribePattern(this.channel("done:*"));
    subscription.ready.catch(() => {});
    const unfinished = (record: TaskRecord | undefined): record is TaskRecord =>
      record !== undefined &&
      !isFinished(record.status) &&
      (options.owner === undefined || record.owner === options.owner);
    // The first read goes out with the subscription (so a close meanwhile still has a record to answer
    // with); when it finds the task unfinished it is read again once the subscription holds, since it may
    // have finished in between.
    let before: TaskRecord | undefined;
    const reading = this.get(taskId).then((record) => {
      before = record;
      return record;
    });
    reading.catch(() => {});
    try {
      const release = await subscription.ready;
      try {
        if (!unfinished(await reading)) return before;
        // Read again unless the subscription already held when the first read went out.
        if (!subscription.held) {
          before = await this.get(taskId);
          if (!unfinished(before)) return before;
        }
        await wait.done;
        return this.closed ? before : await this.get(taskId);
      } finally {
        release();
      }
    } catch (error) {
      if (this.closed) return before ?? (await reading.catch(() => undefined));
      throw error;
    } finally {
      wait.settle(false);
    }
  }

  async sweep(now: number = this.clock()): Promise<SweepReport> {
    const report: SweepReport = { requeued: 0, failed: 0, expired: 0, purged: 0 };
    // Expired leases: read, decide here (messages and bodies), apply with a re-check of token and deadline.
    for (let round = 0; round < 1_000; round++) {
      const found = (await this.call("expiredLeases", now, SWEEP_CHUNK)) as Reply[];
      if (found.length === 0) break;
      const args: (string | number)[] = [];
      for (let i = 0; i < found.length; i += 5) {
        const id = found[i] as string;
        const attempts = Number(found[i + 2]);
        args.push(id, found[i + 1] as string);
        if (attempts < Number(found[i + 3])) args.push("", "", "");
        else {
          const message = leaseExpiredMessage(attempts);
          const wantsDelivery = Number(found[i + 4]) === 1;
          args.push(
            message,
            wantsDelivery ? failureBody(id, { message, traceback: null }) : "",
            wantsDelivery ? newId("delivery") : "",
          );
        }
      }
      const [requeued, failed] = (await this.call("reclaim", now, NO_CALLBACK_URL, ...args)) as number[];
      report.requeued += requeued ?? 0;
      report.failed += failed ?? 0;
      if (found.length < SWEEP_CHUNK * 5 || (requeued === 0 && failed === 0)) break;
    }
    for (;;) {
      const [examined, expired] = (await this.call(
        "expireQueued",
        now,
        expiredMessage(),
        SWEEP_CHUNK,
      )) as number[];
      report.expired += expired ?? 0;
      if ((examined ?? 0) < SWEEP_CHUNK) break;
    }
    // Retention: finished tasks, and delivered or skipped deliveries (see `callbacks/port.ts`).
    const cutoff = now - this.options.resultRetentionMs;
    const limit = this.options.purgeLimit ?? 100_000;
    report.purged = await this.purge("purgeTasks", cutoff, limit);
    await this.purge("purgeDeliveries", cutoff, limit);
    return report;
  }

  private async purge(
    script: "purgeTasks" | "purgeDeliveries",
    cutoff: number,
    limit: number,
  ): Promise<number> {
    let purged = 0;
    while (purged < limit) {
      const chunk = Math.min(PURGE_CHUNK, limit - purged);
      const n = Number(await this.call(script, cutoff, chunk));
      purged += n;
      if (n < chunk) break;
    }
    return purged;
  }

  /** A pub/sub channel name. */
  private channel(name: string): string {
    return `${this.prefix}::${name}`;
  }

  private connection(): Redis {
    if (this.closed) throw closedError();
    if (!this.redis) throw new Error("the task queue is not ready: call ready() first");
    return this.redis;
  }

  private connectedSignals(): RedisSignals {
    this.connection();
    return this.signals!;
  }

  /** Runs one of the scripts with the prefix as its first argument. */
  private call(name: ScriptName, ...args: (string | number)[]): Promise<Reply> {
    let redis: Redis;
    try {
      redis = this.connection();
    } catch (error) {
      return Promise.reject(error);
    }
    const command = (redis as unknown as Record<string, (...a: (string | number)[]) => Promise<Reply>>)[
      name
    ]!;
    return command.call(redis, this.prefix, ...args);
  }
}

/** The success body of a task's callback around its result: what comes before it and after it. */
function successBodyAround(taskId: string): [string, string] {
  // A NUL never appears in JSON text (it is escaped), so it marks where the result goes.
  const [head, tail] = successBodyFromJson(taskId, "\u0000").split("\u0000");
  return [head!, tail!];
}

/** A task as the port reads it, from its TASK_FIELDS. */
function toRecord(id: string, values: (string | null)[], now: number): TaskRecord {
  const field = (name: (typeof TASK_FIELDS)[number]): string | null =>
    values[TASK_FIELDS.indexOf(name)] ?? null;
  const number = (name: (typeof TASK_FIELDS)[number]): number | null => {
    const value = field(name);
    return value === null ? null : Number(value);
  };
  const stored = field("st") as TaskStatus;
  const expiresAt = number("exp");
  // A task queued past its expiry is UNDEFINED at once, even before the sweep records it.
  const expired = stored === "PENDING" && expiresAt !== null && expiresAt <= now;
  const status = expired ? "UNDEFINED" : stored;
  const message = field("failedReason");
  let error: TaskError | null = null;
  if (expired) error = { message: expiredMessage(), traceback: null, statusCode: null };
  else if (message !== null) error = { message, traceback: field("tb"), statusCode: number("ecode") };
  const output = field("returnvalue");
  return {
    id,
    queue: field("q")!,
    owner: field("own")!,
    createdBy: field("by")!,
    status,
    attempts: number("ats") ?? 0,
    maxAttempts: number("max")!,
    createdAt: number("timestamp")!,
    expiresAt,
    startedAt: number("processedOn"),
    finishedAt: expired ? expiresAt : number("finishedOn"),
    workerId: field("pb"),
    leaseExpiresAt: status === "STARTED" ? number("dl") : null,
    result: status === "SUCCESS" && output !== null ? resultFromStored(output, number("code") ?? 200) : null,
    error,
  };
}

/** Loads ioredis only when this adapter is used. */
async function loadDriver(): Promise<typeof import("ioredis").Redis> {
  // A CommonJS module: Node hands it over as named exports and as `default` (module.exports).
  const loaded = (await import("ioredis")) as typeof import("ioredis") & {
    default?: { Redis?: typeof import("ioredis").Redis };
  };
  return (
    loaded.Redis ?? loaded.default?.Redis ?? (loaded.default as unknown as typeof import("ioredis").Redis)
  );
}

function describeError(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}

function closedError(): Error {
  return new Error("the task queue is closed");
}
