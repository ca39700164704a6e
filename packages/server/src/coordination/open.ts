/**
 * Picks the coordination adapter: Redis when the queue is on Redis (several processes share it, so they
 * must agree on workers and on the controller), in memory otherwise (one process).
 */
import { MemoryCoordination } from "./memory.js";
import type { Coordination } from "./port.js";

export interface CoordinationConfig {
  queue?: string;
  redisUrl?: string;
  /** Key prefix in Redis. Default "launch". */
  redisPrefix?: string;
}

export async function openCoordination(config: CoordinationConfig): Promise<Coordination> {
  if (config.queue === "redis" && config.redisUrl) {
    const { RedisCoordination } = await import("./redis.js");
    return RedisCoordination.open({
      url: config.redisUrl,
      prefix: `${config.redisPrefix ?? "launch"}:coord`,
    });
  }
  return new MemoryCoordination();
}
