/**
 * Picks the task queue adapter from `LAUNCH_QUEUE` (and `LAUNCH_REDIS_URL`). The composition root calls
 * this; services only see the `TaskQueue` and `CallbackOutbox` ports, which every adapter implements on
 * one object (a finished task's delivery is written with its result). Each adapter module, and so its
 * driver, is imported only when it is chosen: a single-node install never loads ioredis.
 */
import { join } from "node:path";
import type { LaunchConfig } from "../config/schema.js";
import type { QueueWithOutbox } from "./port.js";

import { checkRedisPrefix, checkRedisUrl } from "./redis/url.js";

/** The settings that choose the queue; `queue` defaults to `embedded`. */
export type QueueSettings = Pick<LaunchConfig, "resultRetentionSeconds"> & {
  queue?: LaunchConfig["queue"] | undefined;
  redisUrl?: string | undefined;
  /** `LAUNCH_REDIS_PREFIX`, the prefix of the Redis keys. Default "launch". */
  redisPrefix?: string | undefined;
};

export interface OpenQueueOptions {
  /** The data directory (resolved): the embedded queue lives at `<dataDir>/queue.db`. */
  dataDir: string;
  /** The clock; tests may replace it. Default `Date.now`. */
  clock?: (() => number) | undefined;
}

/**
 * Creates the queue the configuration names, not yet opened: call `ready()` before use. A bad
 * `LAUNCH_REDIS_URL` is a `validation_failed` LaunchError naming the setting (never its value).
 *
 * @example const queue = await openTaskQueue(config, { dataDir }); await queue.ready(); const outbox: CallbackOutbox = queue;
 */
export async function openTaskQueue(
  config: QueueSettings,
  options: OpenQueueOptions,
): Promise<QueueWithOutbox> {
  const resultRetentionMs = config.resultRetentionSeconds * 1000;
  // The adapter module is imported here, so choosing one adapter never loads another's driver.
  if (config.queue === "redis") {
    const url = checkRedisUrl(config.redisUrl ?? "");
    checkRedisPrefix(config.redisPrefix);
    const { RedisTaskQueue } = await import("./redis/redis-queue.js");
    return new RedisTaskQueue({ url, prefix: config.redisPrefix, resultRetentionMs, clock: options.clock });
  }
  const { EmbeddedTaskQueue } = await import("./embedded/embedded-queue.js");
  return new EmbeddedTaskQueue({
    file: join(options.dataDir, "queue.db"),
    resultRetentionMs,
    ...(options.clock ? { clock: options.clock } : {}),
  });
}
