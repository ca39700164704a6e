import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isLaunchError } from "@launch/protocol";
import { describe, expect, it } from "vitest";

const require = createRequire(import.meta.url);
const driverLoaded = () =>
  Object.keys(require.cache).some((path) => /[/\\]node_modules[/\\]ioredis[/\\]/.test(path));

/** A loopback port that nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("Redis driver loading", () => {
  it("is deferred until a Redis queue is opened; the embedded queue never loads it", async () => {
    const { openTaskQueue } = await import("../open.js");
    await import("./redis-queue.js");
    await import("./testing.js");
    expect(driverLoaded()).toBe(false);

    const dir = await mkdtemp(join(tmpdir(), "launch-lazy-redis-"));
    try {
      const embedded = await openTaskQueue({ resultRetentionSeconds: 60 }, { dataDir: dir });
      await embedded.ready();
      expect(embedded.capabilities.multiProcess).toBe(false);
      await embedded.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    expect(driverLoaded()).toBe(false);

    // A port nothing listens on: opening loads the driver, then fails to connect, naming the server
    // without its password.
    const port = await closedPort();
    const queue = await openTaskQueue(
      { queue: "redis", redisUrl: `redis://:hunter2-secret@127.0.0.1:${port}/0`, resultRetentionSeconds: 60 },
      { dataDir: "/nonexistent" },
    );
    const error = await queue.ready().catch((e: unknown) => e);
    expect(isLaunchError(error) && error.code).toBe("unavailable");
    expect((error as Error).message).toMatch(
      new RegExp(
        `Cannot connect to the Redis queue at redis://:\\*\\*\\*@127\\.0\\.0\\.1:${port}/0: .*LAUNCH_REDIS_URL`,
      ),
    );
    expect((error as Error).message).not.toContain("hunter2");
    await queue.close();
    expect(driverLoaded()).toBe(true);
  });
});
