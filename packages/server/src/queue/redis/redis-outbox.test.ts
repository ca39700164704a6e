import { describe, it } from "vitest";
import { describeCallbackOutbox } from "../../callbacks/outbox.suite.js";
import { openRedisHarness, probeTestRedis } from "./testing.js";

const redis = await probeTestRedis();

if (!redis.reachable) {
  // In CI Redis is part of the job (.ci/run starts it): its absence is a failure, never a skip.
  describe("Redis callback outbox", () => {
    it("needs the Redis test server", (ctx) => {
      if (process.env.CI) throw new Error(redis.reason);
      console.warn(`Skipping the Redis callback outbox tests: ${redis.reason}`);
      ctx.skip(redis.reason);
    });
  });
} else {
  describeCallbackOutbox("redis", async (options) => {
    const { queue, reopen, cleanup } = await openRedisHarness("outbox", options);
    return { subject: queue, reopen, cleanup };
  });
}
