import { afterAll } from "vitest";
import { coordinationSuite } from "./coordination.suite.js";
import { MemoryCoordination } from "./memory.js";
import { RedisCoordination } from "./redis.js";
import { redisTestUrl, requireRedis } from "./testing-redis.js";

coordinationSuite("memory", async () => new MemoryCoordination());

if (await requireRedis()) {
  const prefix = `launch-test-coordination-${process.pid}-${Date.now()}`;
  coordinationSuite("redis", () => RedisCoordination.open({ url: redisTestUrl(), prefix }));
  afterAll(async () => {
    const { Redis } = await import("ioredis");
    const redis = new Redis(redisTestUrl());
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });
}
