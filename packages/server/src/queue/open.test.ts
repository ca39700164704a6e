import { isLaunchError } from "@launch/protocol";
import { describe, expect, it } from "vitest";
import { openTaskQueue } from "./open.js";
import { checkRedisUrl, redactRedisUrl } from "./redis/url.js";

const expectInvalid = async (promise: Promise<unknown>, ...words: string[]) => {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isLaunchError(error) && error.code).toBe("validation_failed");
  for (const word of words) expect((error as Error).message).toContain(word);
  expect((error as Error).message).not.toContain("hunter2");
};

describe("openTaskQueue", () => {
  it("asks for LAUNCH_REDIS_URL when the queue is redis and it is empty", async () => {
    await expectInvalid(
      openTaskQueue({ queue: "redis", redisUrl: "", resultRetentionSeconds: 1 }, { dataDir: "/tmp" }),
      "LAUNCH_REDIS_URL is empty",
      "LAUNCH_QUEUE is redis",
      "redis://",
    );
  });

  it("refuses a URL that is not redis:// or rediss://, without showing it", async () => {
    await expectInvalid(
      openTaskQueue(
        { queue: "redis", redisUrl: "postgres://u:hunter2@db/x", resultRetentionSeconds: 1 },
        { dataDir: "/tmp" },
      ),
      'got a "postgres:" URL',
      "rediss://",
    );
    await expectInvalid(
      openTaskQueue(
        { queue: "redis", redisUrl: "hunter2@cache", resultRetentionSeconds: 1 },
        { dataDir: "/tmp" },
      ),
      "without a scheme",
    );
  });

  it("refuses an empty key prefix, or one with glob characters, naming LAUNCH_REDIS_PREFIX", async () => {
    for (const redisPrefix of ["", "launch*", "a b"]) {
      await expectInvalid(
        openTaskQueue(
          { queue: "redis", redisUrl: "redis://127.0.0.1:6379", redisPrefix, resultRetentionSeconds: 1 },
          { dataDir: "/tmp" },
        ),
        "LAUNCH_REDIS_PREFIX",
      );
    }
  });
});

describe("Redis URLs", () => {
  it("are shown without their password", () => {
    expect(redactRedisUrl("redis://:hunter2@cache:6379/0")).toBe("redis://:***@cache:6379/0");
    expect(redactRedisUrl("rediss://launch:hunter2@cache:6380")).toBe("rediss://launch:***@cache:6380");
    expect(redactRedisUrl("redis://127.0.0.1:6379")).toBe("redis://127.0.0.1:6379");
    expect(redactRedisUrl("not a url hunter2")).not.toContain("hunter2");
  });

  it("are trimmed and kept as given when valid", () => {
    expect(checkRedisUrl(" redis://127.0.0.1:6379 ")).toBe("redis://127.0.0.1:6379");
  });
});
