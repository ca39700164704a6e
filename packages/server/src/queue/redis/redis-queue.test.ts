import { newId } from "@launch/protocol";
import { afterEach, describe, expect, it } from "vitest";
import type { NewTask } from "../port.js";
import { describeTaskQueue } from "../queue.suite.js";
import { RedisTaskQueue } from "./redis-queue.js";
import { openRedisHarness, probeTestRedis, type RedisHarness, testRedisUrl } from "./testing.js";

const redis = await probeTestRedis();

if (!redis.reachable) {
  // In CI Redis is part of the job (.ci/run starts it): its absence is a failure, never a skip.
  describe("Redis task queue", () => {
    it("needs the Redis test server", (ctx) => {
      if (process.env.CI) throw new Error(redis.reason);
      console.warn(`Skipping the Redis task queue tests: ${redis.reason}`);
      ctx.skip(redis.reason);
    });
  });
} else {
  describeTaskQueue("redis", (options) => openRedisHarness("queue", options));

  describe("RedisTaskQueue", () => {
    const harnesses: RedisHarness[] = [];
    const open = async (options: { clock?: () => number; resultRetentionMs?: number } = {}) => {
      const harness = await openRedisHarness("queue", { resultRetentionMs: 60_000, ...options });
      harnesses.push(harness);
      return harness;
    };
    afterEach(async () => {
      for (const harness of harnesses.splice(0)) await harness.cleanup();
    });
    const task = (overrides: Partial<NewTask> = {}): NewTask => ({
      id: newId("task"),
      queue: "end_a",
      owner: "team_1",
      createdBy: "user_1",
      payload: { x: 1 },
      maxAttempts: 2,
      expiresAt: null,
      ...overrides,
    });

    it("declares its capabilities: several processes, wake-ups across them", () => {
      const queue = new RedisTaskQueue({ url: testRedisUrl(), resultRetentionMs: 1 });
      expect(queue.capabilities).toEqual({ multiProcess: true, notifiesWaiters: true });
    });

    it("refuses work before ready and once closed", async () => {
      const queue = new RedisTaskQueue({ url: testRedisUrl(), resultRetentionMs: 1 });
      await expect(queue.get("tsk_x")).rejects.toThrow(/not ready/);
      const { queue: opened } = await open();
      await opened.close();
      await expect(opened.enqueue(task())).rejects.toThrow(/closed/);
      expect(await opened.waitForWork("end_a", 10_000)).toBe(false);
      expect(await opened.waitForDue(10_000)).toBe(false);
    });

    it("commits writes issued before close", async () => {
      const harness = await open();
      const tasks = Array.from({ length: 50 }, () => task());
      const pending = tasks.map((t) => harness.queue.enqueue(t));
      await harness.queue.close();
      await Promise.all(pending);
      const reopened = await harness.another();
      expect(await reopened.counts("end_a")).toEqual({ queued: 50, inFlight: 0 });
    });

    it("wakes a worker waiting in another process when a task is enqueued, and a long poll when it finishes", async () => {
      const harness = await open();
      const other = await harness.another();
      const waiting = other.waitForWork("end_a", 20_000);
      const t = await harness.queue.enqueue(task());
      expect(await waiting).toBe(true);
      const [leased] = await other.lease({ queue: "end_a", workerId: "w1", max: 1, leaseMs: 30_000 });
      const polling = harness.queue.waitForFinish(t.id, 20_000);
      expect(await other.complete(t.id, leased!.leaseToken, { output: 7, statusCode: 200 })).toBe(true);
      expect(await polling).toMatchObject({ status: "SUCCESS", result: { output: 7, statusCode: 200 } });
    });

    it("wakes a dispatcher in another process when a delivery is written", async () => {
      const harness = await open();
      const other = await harness.another();
      const waiting = other.waitForDue(20_000);
      const t = await harness.queue.enqueue(
        task({ callback: { url: "https://receiver.test/hook", auth: null, events: ["succeeded"] } }),
      );
      const [leased] = await harness.queue.lease({ queue: "end_a", workerId: "w1", max: 1, leaseMs: 30_000 });
      await harness.queue.complete(t.id, leased!.leaseToken, { output: 7, statusCode: 200 });
      expect(await waiting).toBe(true);
      expect((await other.claimDue(10, 30_000)).map((d) => d.taskId)).toEqual([t.id]);
    });

    it("hands each task to one lease only across processes leasing at once", async () => {
      const harness = await open();
      const others = await Promise.all([harness.another(), harness.another()]);
      await Promise.all(Array.from({ length: 300 }, () => harness.queue.enqueue(task())));
      const batches = await Promise.all(
        [harness.queue, ...others].flatMap((q, i) =>
          Array.from({ length: 10 }, (_, j) =>
            q.lease({ queue: "end_a", workerId: `w${i}.${j}`, max: 20, leaseMs: 30_000 }),
          ),
        ),
      );
      const ids = batches.flat().map((l) => l.id);
      expect(ids).toHaveLength(300);
      expect(new Set(ids).size).toBe(300);
    });

    it("lets BullMQ's own Queue read an endpoint's queue: counts and jobs", async () => {
      const harness = await open();
      const q = harness.queue;
      const done = await q.enqueue(task({ payload: { args: [1, 2] } }));
      await q.enqueue(task());
      await q.enqueue(task());
      const [leased] = await q.lease({ queue: "end_a", workerId: "w1", max: 1, leaseMs: 30_000 });
      expect(leased!.id).toBe(done.id);
      await q.lease({ queue: "end_a", workerId: "w1", max: 1, leaseMs: 30_000 });
      await q.complete(done.id, leased!.leaseToken, { output: { sum: 3 }, statusCode: 200 });
      const { Queue } = await import("bullmq");
      const { Redis } = await import("ioredis");
      const connection = new Redis(testRedisUrl(), { maxRetriesPerRequest: null });
      const bull = new Queue("end_a", { connection, prefix: harness.prefix });
      try {
        expect(await bull.getJobCounts("prioritized", "active", "completed", "failed")).toEqual({
          prioritized: 1,
          active: 1,
          completed: 1,
          failed: 0,
        });
        const job = await bull.getJob(done.id);
        expect(job).toMatchObject({
          id: done.id,
          name: "task",
          data: { args: [1, 2] },
          returnvalue: { sum: 3 },
        });
        expect(job?.finishedOn).toBeGreaterThan(0);
      } finally {
        await bull.close();
        connection.disconnect();
      }
    });

    it("keeps its keys under its prefix, and deletes every finished one with the retention", async () => {
      let time = Date.UTC(2031, 0, 1);
      const harness = await open({ clock: () => time, resultRetentionMs: 1_000 });
      const q = harness.queue;
      const spec = { url: "https://receiver.test/hook", auth: null, events: ["succeeded" as const] };
      for (let i = 0; i < 5; i++)
        await q.enqueue(task({ callback: spec, expiresAt: i === 4 ? time + 10 : null }));
      const leased = await q.lease({ queue: "end_a", workerId: "w1", max: 4, leaseMs: 30_000 });
      for (const l of leased) await q.complete(l.id, l.leaseToken, { output: 1, statusCode: 200 });
      for (const d of await q.claimDue(10, 30_000)) {
        await q.recordAttempt(d.id, d.claimToken, {
          startedAt: time,
          url: spec.url,
          statusCode: 200,
          errorClass: null,
          errorMessage: null,
          latencyMs: 1,
          outcome: "delivered",
          nextAttemptAt: null,
        });
      }
      time += 2_000;
      expect(await q.sweep()).toMatchObject({ expired: 1, purged: 4 });
      time += 2_000;
      expect(await q.sweep()).toMatchObject({ purged: 1 });
      const { Redis } = await import("ioredis");
      const connection = new Redis(testRedisUrl());
      try {
        const keys = (await connection.keys(`${harness.prefix}*`)).sort();
        // Only the id counter and the empty-queue bookkeeping may stay.
        expect(keys).toEqual(
          [`${harness.prefix}::queues`, `${harness.prefix}::seq`].filter((k) => keys.includes(k)),
        );
      } finally {
        connection.disconnect();
      }
    });
  });
}
