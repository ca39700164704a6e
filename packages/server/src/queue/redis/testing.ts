/**
 * Redis for tests: the test server (`redis://127.0.0.1:6379` unless `LAUNCH_TEST_REDIS_URL` names another),
 * a unique key prefix per use so tests never see each other's data (its keys are deleted afterwards), and
 * the rule for when Redis is not running: in CI (`CI` set) that is a failure; locally the tests are skipped
 * with the command that starts it.
 *
 * `ioredis` is loaded only when one of these functions runs.
 */
import { randomBytes } from "node:crypto";
import { RedisTaskQueue, type RedisTaskQueueOptions } from "./redis-queue.js";
import { redactRedisUrl } from "./url.js";

/** The test server, as `.ci/run` starts it. */
export const DEFAULT_TEST_REDIS_URL = "redis://127.0.0.1:6379";

/** How to start Redis locally (Debian's redis-server package), for skip and failure messages. */
export const START_REDIS_COMMAND =
  'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log';

/** The URL of the test server. */
export function testRedisUrl(): string {
  const url = process.env.LAUNCH_TEST_REDIS_URL;
  return url !== undefined && url !== "" ? url : DEFAULT_TEST_REDIS_URL;
}

/** Whether the test server answers; when it does not, `reason` says why and how to start it. */
export type TestRedisStatus = { reachable: true } | { reachable: false; reason: string };

/** Pings the test server once (3 s at most). */
export async function probeTestRedis(): Promise<TestRedisStatus> {
  const redis = await connect();
  let cause: unknown;
  redis.on("error", (error: unknown) => {
    cause ??= error;
  });
  try {
    await redis.connect();
    await redis.ping();
    return { reachable: true };
  } catch (thrown) {
    const error = cause ?? thrown;
    return {
      reachable: false,
      reason:
        `Redis is not reachable at ${redactRedisUrl(testRedisUrl())} ` +
        `(${error instanceof Error ? error.message || error.name : String(error)}); start it with: ${START_REDIS_COMMAND}`,
    };
  } finally {
    redis.disconnect();
  }
}

/** A key prefix no other test uses: `launch-test:<name>:<pid>:<random>`. */
export function uniquePrefix(name: string): string {
  return `launch-test:${name}:${process.pid}:${randomBytes(4).toString("hex")}`;
}

/** Deletes every key under `prefix` (the keys `<prefix>:…`); resolves how many. */
export async function deleteKeys(prefix: string): Promise<number> {
  const redis = await connect();
  try {
    await redis.connect();
    let deleted = 0;
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
      cursor = next;
      if (keys.length > 0) deleted += await redis.unlink(...keys);
    } while (cursor !== "0");
    return deleted;
  } finally {
    redis.disconnect();
  }
}

/** An adapter on a fresh prefix, reopened on the same prefix (a restart) and removed afterwards. */
export interface RedisHarness {
  queue: RedisTaskQueue;
  prefix: string;
  /** Closes the current adapter and opens a new one on the same prefix. */
  reopen(): Promise<RedisTaskQueue>;
  /** Opens another adapter on the same prefix (another server process sharing the queue). */
  another(): Promise<RedisTaskQueue>;
  /** Closes every adapter it opened and deletes the prefix's keys. */
  cleanup(): Promise<void>;
}

/**
 * Opens (and readies) a Redis queue on a unique prefix of the test server.
 *
 * @example const { queue, reopen, cleanup } = await openRedisHarness("queue", { clock, resultRetentionMs });
 */
export async function openRedisHarness(
  name: string,
  options: Omit<RedisTaskQueueOptions, "url" | "prefix">,
): Promise<RedisHarness> {
  const prefix = uniquePrefix(name);
  const full: RedisTaskQueueOptions = { ...options, url: testRedisUrl(), prefix };
  const opened: RedisTaskQueue[] = [];
  const open = async (): Promise<RedisTaskQueue> => {
    const queue = new RedisTaskQueue(full);
    opened.push(queue);
    await queue.ready();
    return queue;
  };
  const harness: RedisHarness = {
    queue: await open(),
    prefix,
    async reopen() {
      await harness.queue.close();
      harness.queue = await open();
      return harness.queue;
    },
    another: open,
    async cleanup() {
      for (const queue of opened) await queue.close();
      await deleteKeys(prefix);
    },
  };
  return harness;
}

async function connect() {
  const loaded = (await import("ioredis")) as typeof import("ioredis") & {
    default?: { Redis?: typeof import("ioredis").Redis };
  };
  const Redis = loaded.Redis ?? loaded.default?.Redis;
  if (!Redis) throw new Error("ioredis did not load");
  const redis = new Redis(testRedisUrl(), {
    lazyConnect: true,
    connectTimeout: 3_000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  // A failure is reported by the command that meets it; the event must not end the test process.
  redis.on("error", () => {});
  return redis;
}
