/**
 * The behaviour suite of the task queue port. Every adapter runs it unchanged (`describeTaskQueue` in the
 * adapter's test file), so the embedded and Redis queues behave the same. Time is a controllable clock
 * handed to the adapter; only `waitForWork` uses real (short) timers.
 */
import { isLaunchError, newId } from "@launch/protocol";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { leaseExpiredMessage } from "./messages.js";
import type { LeasedTask, NewTask, TaskQueue } from "./port.js";

/** What the suite hands to an adapter's factory. */
export interface QueueSuiteOptions {
  /** The current time in epoch milliseconds; the adapter must read time only from it (and `sweep(now)`). */
  clock: () => number;
  /** The result retention the adapter must apply. */
  resultRetentionMs: number;
}

/** An adapter opened (and `ready`) on fresh, isolated data. */
export interface QueueUnderTest {
  queue: TaskQueue;
  /** Closes the current queue and opens a new one on the same data (a server restart). */
  reopen(): Promise<TaskQueue>;
  /** Closes the current queue and removes its data. */
  cleanup(): Promise<void>;
}

const START = Date.UTC(2031, 0, 1);
const RETENTION = 60_000;
const LEASE = 10_000;

/**
 * Registers the behaviour suite for one adapter.
 *
 * @example describeTaskQueue("embedded", async (options) => openEmbeddedForTest(options));
 */
export function describeTaskQueue(
  name: string,
  open: (options: QueueSuiteOptions) => Promise<QueueUnderTest>,
): void {
  describe(`TaskQueue: ${name}`, () => {
    let time = START;
    let subject: QueueUnderTest;
    let q: TaskQueue;
    const advance = (ms: number): number => {
      time += ms;
      return time;
    };
    const task = (overrides: Partial<NewTask> = {}): NewTask => ({
      id: newId("task"),
      queue: "end_a",
      owner: "team_1",
      createdBy: "user_1",
      payload: { args: { x: 2, y: "hello" } },
      maxAttempts: 3,
      expiresAt: null,
      ...overrides,
    });
    const leaseOne = async (queue = "end_a", workerId = "w1", leaseMs = LEASE): Promise<LeasedTask> => {
      const [leased] = await q.lease({ queue, workerId, max: 1, leaseMs });
      if (!leased) throw new Error(`expected a task to lease on ${queue}`);
      return leased;
    };
    const expectLaunchError = async (promise: Promise<unknown>, code: string, ...words: string[]) => {
      const error = await promise.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isLaunchError(error), `expected a LaunchError, got ${String(error)}`).toBe(true);
      expect((error as { code: string }).code).toBe(code);
      for (const word of words) expect((error as Error).message).toContain(word);
    };

    beforeEach(async () => {
      time = START;
      subject = await open({ clock: () => time, resultRetentionMs: RETENTION });
      q = subject.queue;
    });

    afterEach(async () => {
      await subject.cleanup();
    });

    describe("enqueue and get", () => {
      it("stores a PENDING task and reads it back", async () => {
        const t = task();
        const record = await q.enqueue(t);
        expect(record).toMatchObject({
          id: t.id,
          queue: "end_a",
          status: "PENDING",
          attempts: 0,
          maxAttempts: 3,
        });
        expect(record.createdAt).toBe(START);
        const read = await q.get(t.id);
        expect(read).toMatchObject({
          id: t.id,
          queue: "end_a",
          owner: "team_1",
          createdBy: "user_1",
          status: "PENDING",
          attempts: 0,
          createdAt: START,
          expiresAt: null,
          result: null,
          error: null,
          leaseExpiresAt: null,
        });
      });

      it("answers undefined for an unknown task", async () => {
        expect(await q.get("tsk_unknown")).toBeUndefined();
      });

      it("rejects a task id already used, keeping the first task", async () => {
        const t = task();
        await q.enqueue(t);
        await expectLaunchError(q.enqueue({ ...t, queue: "end_b" }), "conflict", t.id);
        expect((await q.get(t.id))?.queue).toBe("end_a");
        expect(await q.counts("end_b")).toEqual({ queued: 0, inFlight: 0 });
      });

      it("rejects bad fields naming each one, and creates nothing", async () => {
        const t = task({ queue: "", maxAttempts: 0, payload: undefined });
        await expectLaunchError(q.enqueue(t), "validation_failed", "queue", "maxAttempts", "payload");
        expect(await q.get(t.id)).toBeUndefined();
        await expectLaunchError(q.enqueue(task({ expiresAt: Number.NaN })), "validation_failed", "expiresAt");
      });

      it("keeps every task of many concurrent enqueues", async () => {
        const tasks = Array.from({ length: 500 }, (_, i) => task({ payload: { i } }));
        const records = await Promise.all(tasks.map((t) => q.enqueue(t)));
        expect(records.map((r) => r.id)).toEqual(tasks.map((t) => t.id));
        expect(await q.counts("end_a")).toEqual({ queued: 500, inFlight: 0 });
        const leased = await q.lease({ queue: "end_a", workerId: "w1", max: 1000, leaseMs: LEASE });
        expect(new Set(leased.map((l) => l.id))).toEqual(new Set(tasks.map((t) => t.id)));
        expect(new Set(leased.map((l) => (l.payload as { i: number }).i)).size).toBe(500);
      });
    });

    describe("lease", () => {
      it("hands out the oldest tasks first (FIFO)", async () => {
        const ids: string[] = [];
        for (let i = 0; i < 5; i++) ids.push((await q.enqueue(task())).id);
        const first = await q.lease({ queue: "end_a", workerId: "w1", max: 2, leaseMs: LEASE });
        expect(first.map((l) => l.id)).toEqual(ids.slice(0, 2));
        const rest = await q.lease({ queue: "end_a", workerId: "w1", max: 10, leaseMs: LEASE });
        expect(rest.map((l) => l.id)).toEqual(ids.slice(2));
        expect(await q.lease({ queue: "end_a", workerId: "w1", max: 10, leaseMs: LEASE })).toEqual([]);
      });

      it("marks the task STARTED with a lease deadline, a token, the attempt and the payload", async () => {
        const payload = {
          args: { x: 2, y: "héllo ✓" },
          nested: [1, null, { deep: true }],
          callback_auth: "sealed:xyz",
        };
        const t = await q.enqueue(task({ payload }));
        const leased = await leaseOne("end_a", "worker-7");
        expect(leased).toMatchObject({
          id: t.id,
          queue: "end_a",
          owner: "team_1",
          createdBy: "user_1",
          attempt: 1,
          maxAttempts: 3,
          createdAt: START,
          leaseExpiresAt: START + LEASE,
        });
        expect(leased.payload).toEqual(payload);
        expect(leased.leaseToken).toMatch(/.{8,}/);
        expect(await q.get(t.id)).toMatchObject({
          status: "STARTED",
          attempts: 1,
          workerId: "worker-7",
          startedAt: START,
          leaseExpiresAt: START + LEASE,
        });
      });

      it("gives each task to one lease only, even to concurrent leases", async () => {
        for (let i = 0; i < 10; i++) await q.enqueue(task());
        const batches = await Promise.all(
          Array.from({ length: 5 }, (_, i) =>
            q.lease({ queue: "end_a", workerId: `w${i}`, max: 3, leaseMs: LEASE }),
          ),
        );
        for (const batch of batches) expect(batch.length).toBeLessThanOrEqual(3);
        const ids = batches.flat().map((l) => l.id);
        expect(ids).toHaveLength(10);
        expect(new Set(ids).size).toBe(10);
        expect(new Set(batches.flat().map((l) => l.leaseToken)).size).toBe(10);
      });

      it("keeps queues apart", async () => {
        const a = await q.enqueue(task({ queue: "end_a" }));
        const b = await q.enqueue(task({ queue: "end_b" }));
        expect((await leaseOne("end_b")).id).toBe(b.id);
        expect((await leaseOne("end_a")).id).toBe(a.id);
      });

      it("rejects a bad lease request naming the field", async () => {
        await expectLaunchError(
          q.lease({ queue: "end_a", workerId: "w1", max: 0, leaseMs: LEASE }),
          "validation_failed",
          "max",
        );
        await expectLaunchError(
          q.lease({ queue: "end_a", workerId: "w1", max: 1, leaseMs: -5 }),
          "validation_failed",
          "leaseMs",
        );
      });
    });

    describe("lease tokens", () => {
      it("complete records SUCCESS with the result, once", async () => {
        const t = await q.enqueue(task());
        const leased = await leaseOne();
        advance(5);
        expect(await q.complete(t.id, leased.leaseToken, { output: 7, statusCode: 200 })).toBe(true);
        expect(await q.get(t.id)).toMatchObject({
          status: "SUCCESS",
          result: { output: 7, statusCode: 200 },
          error: null,
          finishedAt: START + 5,
          leaseExpiresAt: null,
        });
        expect(await q.complete(t.id, leased.leaseToken, { output: 8, statusCode: 200 })).toBe(false);
        expect((await q.get(t.id))?.result).toEqual({ output: 7, statusCode: 200 });
      });

      it("keeps structured outputs and the model's status code", async () => {
        const t = await q.enqueue(task());
        const leased = await leaseOne();
        const output = { y: 1, list: ["a", { b: null }], text: "ünïcode" };
        await q.complete(t.id, leased.leaseToken, { output, statusCode: 201 });
        expect((await q.get(t.id))?.result).toEqual({ output, statusCode: 201 });
      });

      it("keeps the location of a pickled result instead of an output", async () => {
        const t = await q.enqueue(task());
        const leased = await leaseOne();
        const resultUrl = "s3://launch/results/team/tsk_1.pkl";
        await q.complete(t.id, leased.leaseToken, { output: null, statusCode: 200, resultUrl });
        expect((await q.get(t.id))?.result).toEqual({ output: null, statusCode: 200, resultUrl });
      });

      it("rejects complete, fail, extend and release with a wrong token, leaving the task as it was", async () => {
        const t = await q.enqueue(task());
        await leaseOne();
        const error = { message: "boom", traceback: null, statusCode: 500 };
        expect(await q.complete(t.id, "not-the-token", { output: 1, statusCode: 200 })).toBe(false);
        expect(await q.fail(t.id, "not-the-token", error, { retry: false })).toBe("lease_lost");
        expect(await q.extendLease(t.id, "not-the-token", LEASE)).toBe(false);
        expect(await q.release(t.id, "not-the-token")).toBe(false);
        expect(await q.complete("tsk_unknown", "not-the-token", { output: 1, statusCode: 200 })).toBe(false);
        expect(await q.get(t.id)).toMatchObject({
          status: "STARTED",
          attempts: 1,
          result: null,
          error: null,
        });
      });

      it("rejects a late complete from a worker whose lease was reclaimed and leased again (exactly once)", async () => {
        const t = await q.enqueue(task());
        const first = await leaseOne("end_a", "w1");
        advance(LEASE + 1);
        expect(await q.sweep(time)).toMatchObject({ requeued: 1, failed: 0 });
        const second = await leaseOne("end_a", "w2");
        expect(second).toMatchObject({ id: t.id, attempt: 2 });
        expect(second.leaseToken).not.toBe(first.leaseToken);
        expect(await q.complete(t.id, first.leaseToken, { output: "late", statusCode: 200 })).toBe(false);
        expect(await q.extendLease(t.id, first.leaseToken, LEASE)).toBe(false);
        expect(
          await q.fail(
            t.id,
            first.leaseToken,
            { message: "x", traceback: null, statusCode: null },
            { retry: true },
          ),
        ).toBe("lease_lost");
        expect(await q.complete(t.id, second.leaseToken, { output: "winner", statusCode: 200 })).toBe(true);
        expect((await q.get(t.id))?.result?.output).toBe("winner");
      });

      it("rejects a complete after the lease was reclaimed but before anyone leased the task again", async () => {
        const t = await q.enqueue(task());
        const leased = await leaseOne();
        advance(LEASE);
        await q.sweep(time);
        expect(await q.complete(t.id, leased.leaseToken, { output: 1, statusCode: 200 })).toBe(false);
        expect((await q.get(t.id))?.status).toBe("PENDING");
      });
    });

    describe("lease expiry", () => {
      it("puts an expired lease back, then fails the task after its last attempt with a clear message", async () => {
        const t = await q.enqueue(task({ maxAttempts: 3 }));
        for (let attempt = 1; attempt <= 3; attempt++) {
          const leased = await leaseOne();
          expect(leased.attempt).toBe(attempt);
          advance(LEASE);
          const report = await q.sweep(time);
          expect(report).toMatchObject(attempt < 3 ? { requeued: 1, failed: 0 } : { requeued: 0, failed: 1 });
          if (attempt < 3) expect(await q.get(t.id)).toMatchObject({ status: "PENDING", attempts: attempt });
        }
        const failed = await q.get(t.id);
        expect(failed).toMatchObject({ status: "FAILURE", attempts: 3, finishedAt: time, result: null });
        expect(failed?.error?.message).toBe(
          "task failed after 3 attempts: its worker stopped renewing the lease (crashed or hung)",
        );
        expect(failed?.error?.message).toBe(leaseExpiredMessage(3));
        expect(await q.lease({ queue: "end_a", workerId: "w1", max: 1, leaseMs: LEASE })).toEqual([]);
      });

      it("puts a reclaimed task back at the head of its queue", async () => {
        const first = await q.enqueue(task());
        const second = await q.enqueue(task());
        await leaseOne();
        advance(LEASE);
        await q.sweep(time);
        const again = await q.lease({ queue: "end_a", workerId: "w2", max: 2, leaseMs: LEASE });
        expect(again.map((l) => l.id)).toEqual([first.id, second.id]);
      });

      it("leaves a lease alone until its deadline", async () => {
        const t = await q.enqueue(task());
        await leaseOne();
        advance(LEASE - 1);
        expect(await q.sweep(time)).toEqual({ requeued: 0, failed: 0, expired: 0, purged: 0 });
        expect((await q.get(t.id))?.status).toBe("STARTED");
      });

      it("does not hand out a task whose lease expired until the sweep reclaims it; its worker may still finish", async () => {
        const t = await q.enqueue(task());
        const leased = await leaseOne();
        advance(LEASE * 2);
        expect(await q.lease({ queue: "end_a", workerId: "w2", max: 1, leaseMs: LEASE })).toEqual([]);
        expect(await q.complete(t.id, leased.leaseToken, { output: 1, statusCode: 200 })).toBe(true);
        expect(await q.sweep(time)).toMatchObject({ requeued: 0, failed: 0 });
        expect((await q.get(t.id))?.status).toBe("SUCCESS");
      });

      it("extendLease keeps a task from expiring", async () => {
        const t = await q.enqueue(task());
        const leased = await leaseOne();
        for (let i = 0; i < 5; i++) {
          advance(LEASE - 1_000);
          expect(await q.extendLease(t.id, leased.leaseToken, LEASE)).toBe(true);
          expect(await q.sweep(time)).toMatchObject({ requeued: 0, failed: 0 });
        }
        expect(await q.get(t.id)).toMatchObject({
          status: "STARTED",
          leaseExpiresAt: time + LEASE,
          attempts: 1,
        });
        expect(await q.complete(t.id, leased.leaseToken, { output: 7, statusCode: 200 })).toBe(true);
      });

      it("revokeLeases expires a gone worker's leases at once, and only its own", async () => {
        await q.enqueue(task());
        await q.enqueue(task());
        const other = await q.enqueue(task());
        await q.lease({ queue: "end_a", workerId: "dead", max: 2, leaseMs: LEASE });
        await leaseOne("end_a", "alive");
        expect(await q.revokeLeases("dead")).toBe(2);
        expect(await q.sweep(time)).toMatchObject({ requeued: 2, failed: 0 });
        expect((await q.get(other.id))?.status).toBe("STARTED");
        expect(await q.counts("end_a")).toEqual({ queued: 2, inFlight: 1 });
        expect(await q.revokeLeases("nobody")).toBe(0);
      });
    });

    describe("fail and release", () => {
      const boom = {
        message: "ValueError: boom",
        traceback: "Traceback (most recent call last): ...",
        statusCode: 500,
      };

      it("fail with retry puts the task back while attempts remain, then fails it", async () => {
        const t = await q.enqueue(task({ maxAttempts: 2 }));
        expect(await q.fail(t.id, (await leaseOne()).leaseToken, boom, { retry: true })).toBe("requeued");
        const retrying = await q.get(t.id);
        expect(retrying).toMatchObject({ status: "PENDING", attempts: 1, finishedAt: null, error: boom });
        expect(await q.fail(t.id, (await leaseOne()).leaseToken, boom, { retry: true })).toBe("failed");
        expect(await q.get(t.id)).toMatchObject({
          status: "FAILURE",
          attempts: 2,
          error: boom,
          result: null,
        });
      });

      it("fail without retry fails the task at once with its message, traceback and status code", async () => {
        const t = await q.enqueue(task({ maxAttempts: 5 }));
        advance(3);
        expect(await q.fail(t.id, (await leaseOne()).leaseToken, boom, { retry: false })).toBe("failed");
        expect(await q.get(t.id)).toMatchObject({
          status: "FAILURE",
          attempts: 1,
          error: boom,
          finishedAt: time,
        });
      });

      it("a retried task that then succeeds has no error", async () => {
        const t = await q.enqueue(task());
        await q.fail(t.id, (await leaseOne()).leaseToken, boom, { retry: true });
        await q.complete(t.id, (await leaseOne()).leaseToken, { output: 7, statusCode: 200 });
        expect(await q.get(t.id)).toMatchObject({ status: "SUCCESS", error: null, attempts: 2 });
      });

      it("release puts the task back without spending an attempt, and voids the token", async () => {
        const t = await q.enqueue(task({ maxAttempts: 1 }));
        const leased = await leaseOne();
        expect(await q.release(t.id, leased.leaseToken)).toBe(true);
        expect(await q.get(t.id)).toMatchObject({ status: "PENDING", attempts: 0 });
        expect(await q.complete(t.id, leased.leaseToken, { output: 1, statusCode: 200 })).toBe(false);
        const again = await leaseOne();
        expect(again.attempt).toBe(1);
        expect(await q.complete(t.id, again.leaseToken, { output: 1, statusCode: 200 })).toBe(true);
      });
    });

    describe("task expiry", () => {
      it("a task queued past expiresAt is UNDEFINED and never leased", async () => {
        const t = await q.enqueue(task({ expiresAt: START + 1_000 }));
        const keeper = await q.enqueue(task({ expiresAt: START + 5_000 }));
        advance(1_000);
        expect((await q.get(t.id))?.status).toBe("UNDEFINED");
        expect((await leaseOne()).id).toBe(keeper.id);
        expect(await q.lease({ queue: "end_a", workerId: "w1", max: 5, leaseMs: LEASE })).toEqual([]);
        expect(await q.sweep(time)).toMatchObject({ expired: 1 });
        const expired = await q.get(t.id);
        expect(expired).toMatchObject({ status: "UNDEFINED", attempts: 0, result: null });
        expect(expired?.error?.message).toContain("task_expires_seconds");
        expect(await q.counts("end_a")).toEqual({ queued: 0, inFlight: 1 });
      });

      it("does not expire a task a worker already started", async () => {
        const t = await q.enqueue(task({ expiresAt: START + 1_000 }));
        const leased = await leaseOne();
        advance(2_000);
        expect(await q.sweep(time)).toMatchObject({ expired: 0 });
        expect(await q.complete(t.id, leased.leaseToken, { output: 7, statusCode: 200 })).toBe(true);
      });

      it("waitForWork does not wake for expired tasks only", async () => {
        await q.enqueue(task({ expiresAt: START + 1 }));
        advance(1);
        expect(await q.waitForWork("end_a", 20)).toBe(false);
      });
    });

    describe("retention", () => {
      it("deletes finished tasks once older than the retention, and never queued or running ones", async () => {
        const done = await q.enqueue(task());
        const failed = await q.enqueue(task());
        const expired = await q.enqueue(task({ expiresAt: START + 1 }));
        const running = await q.enqueue(task());
        const queued = await q.enqueue(task());
        const leases = await q.lease({ queue: "end_a", workerId: "w1", max: 2, leaseMs: RETENTION * 10 });
        await q.complete(done.id, leases[0]!.leaseToken, { output: 1, statusCode: 200 });
        await q.fail(
          failed.id,
          leases[1]!.leaseToken,
          { message: "x", traceback: null, statusCode: null },
          {
            retry: false,
          },
        );
        advance(1);
        expect((await leaseOne("end_a", "w1", RETENTION * 100)).id).toBe(running.id);
        expect(await q.sweep(time)).toMatchObject({ expired: 1, purged: 0 });
        advance(RETENTION - 2);
        expect(await q.sweep(time)).toMatchObject({ purged: 0 });
        expect((await q.get(done.id))?.status).toBe("SUCCESS");
        advance(1);
        expect(await q.sweep(time)).toMatchObject({ purged: 2 });
        expect(await q.get(done.id)).toBeUndefined();
        expect(await q.get(failed.id)).toBeUndefined();
        advance(1);
        expect(await q.sweep(time)).toMatchObject({ purged: 1 });
        expect(await q.get(expired.id)).toBeUndefined();
        advance(RETENTION * 5);
        await q.sweep(time);
        expect((await q.get(running.id))?.status).toBe("STARTED");
        expect((await q.get(queued.id))?.status).toBe("PENDING");
      });
    });

    describe("counts and depths", () => {
      it("count queued and in-flight tasks per queue, listing only queues with work", async () => {
        expect(await q.counts("end_a")).toEqual({ queued: 0, inFlight: 0 });
        expect(await q.depths()).toEqual(new Map());
        for (let i = 0; i < 3; i++) await q.enqueue(task({ queue: "end_a" }));
        await q.enqueue(task({ queue: "end_b" }));
        const done = await q.enqueue(task({ queue: "end_c" }));
        const leased = await leaseOne("end_a");
        const doneLease = await leaseOne("end_c");
        await q.complete(done.id, doneLease.leaseToken, { output: 1, statusCode: 200 });
        expect(await q.counts("end_a")).toEqual({ queued: 2, inFlight: 1 });
        expect(await q.counts("end_b")).toEqual({ queued: 1, inFlight: 0 });
        expect(await q.counts("end_c")).toEqual({ queued: 0, inFlight: 0 });
        expect(await q.depths()).toEqual(
          new Map([
            ["end_a", { queued: 2, inFlight: 1 }],
            ["end_b", { queued: 1, inFlight: 0 }],
          ]),
        );
        await q.complete(leased.id, leased.leaseToken, { output: 1, statusCode: 200 });
        expect(await q.counts("end_a")).toEqual({ queued: 2, inFlight: 0 });
        await q.lease({ queue: "end_a", workerId: "w1", max: 5, leaseMs: LEASE });
        expect((await q.depths()).get("end_a")).toEqual({ queued: 0, inFlight: 2 });
      });
    });

    describe("waitForWork", () => {
      it("wakes as soon as a task is enqueued on the queue", async () => {
        const waiting = q.waitForWork("end_a", 20_000);
        await q.enqueue(task({ queue: "end_a" }));
        expect(await waiting).toBe(true);
      });

      it("answers at once when the queue already has work", async () => {
        await q.enqueue(task());
        expect(await q.waitForWork("end_a", 20_000)).toBe(true);
      });

      it("times out with false when nothing arrives, and ignores other queues", async () => {
        const waiting = q.waitForWork("end_a", 30);
        await q.enqueue(task({ queue: "end_b" }));
        expect(await waiting).toBe(false);
      });

      it("wakes when a task is released back or a lease is reclaimed", async () => {
        const t = await q.enqueue(task());
        const leased = await leaseOne();
        const onRelease = q.waitForWork("end_a", 20_000);
        await q.release(t.id, leased.leaseToken);
        expect(await onRelease).toBe(true);
        await leaseOne();
        advance(LEASE);
        const onSweep = q.waitForWork("end_a", 20_000);
        await q.sweep(time);
        expect(await onSweep).toBe(true);
      });

      it("stops waiting with false when aborted or when the queue closes", async () => {
        const controller = new AbortController();
        const aborted = q.waitForWork("end_a", 20_000, controller.signal);
        controller.abort();
        expect(await aborted).toBe(false);
        const closing = q.waitForWork("end_a", 20_000);
        q = await subject.reopen();
        expect(await closing).toBe(false);
      });
    });

    describe("waitForFinish", () => {
      /** Longer than any test may run: a wait that is not woken fails the test by its timeout. */
      const FOREVER = 3_600_000;
      const boom = { message: "ValueError: boom", traceback: "Traceback ...", statusCode: 500 };

      it("answers at once for a finished task, and undefined for an unknown one", async () => {
        const t = await q.enqueue(task());
        const leased = await leaseOne();
        await q.complete(t.id, leased.leaseToken, { output: 7, statusCode: 200 });
        expect(await q.waitForFinish(t.id, FOREVER)).toMatchObject({
          id: t.id,
          status: "SUCCESS",
          result: { output: 7, statusCode: 200 },
        });
        expect(await q.waitForFinish("tsk_unknown", FOREVER)).toBeUndefined();
      });

      it("does not wait on another owner's unfinished task", async () => {
        const t = await q.enqueue(task());
        const other = await q.waitForFinish(t.id, FOREVER, undefined, { owner: "someone-else" });
        expect(other?.status).toBe("PENDING");
        expect(other?.owner).not.toBe("someone-else");
      });

      it("wakes as soon as the task completes", async () => {
        const t = await q.enqueue(task());
        const leased = await leaseOne();
        const waiting = q.waitForFinish(t.id, FOREVER);
        await q.complete(t.id, leased.leaseToken, { output: { y: 1 }, statusCode: 200 });
        expect(await waiting).toMatchObject({ status: "SUCCESS", result: { output: { y: 1 } } });
      });

      it("wakes on a final failure, but not on a failed attempt that is retried", async () => {
        const t = await q.enqueue(task({ maxAttempts: 2 }));
        const retried = q.waitForFinish(t.id, 30);
        expect(await q.fail(t.id, (await leaseOne()).leaseToken, boom, { retry: true })).toBe("requeued");
        expect(await retried).toMatchObject({ status: "PENDING", attempts: 1 });
        const failing = q.waitForFinish(t.id, FOREVER);
        expect(await q.fail(t.id, (await leaseOne()).leaseToken, boom, { retry: true })).toBe("failed");
        expect(await failing).toMatchObject({ status: "FAILURE", error: boom });
      });

      it("wakes when the sweep fails a task whose last lease expired, or expires a queued task", async () => {
        const crashed = await q.enqueue(task({ maxAttempts: 1 }));
        await leaseOne();
        const stale = await q.enqueue(task({ expiresAt: START + LEASE }));
        const onCrash = q.waitForFinish(crashed.id, FOREVER);
        const onExpiry = q.waitForFinish(stale.id, FOREVER);
        advance(LEASE);
        expect(await q.sweep(time)).toMatchObject({ failed: 1, expired: 1 });
        const failed = await onCrash;
        expect(failed).toMatchObject({ status: "FAILURE" });
        expect(failed?.error?.message).toBe(leaseExpiredMessage(1));
        const expired = await onExpiry;
        expect(expired).toMatchObject({ status: "UNDEFINED", result: null });
        expect(expired?.error?.message).toContain("task_expires_seconds");
      });

      it("answers with the task as it is when the wait times out or is aborted", async () => {
        const t = await q.enqueue(task());
        expect(await q.waitForFinish(t.id, 20)).toMatchObject({ status: "PENDING", result: null });
        await leaseOne("end_a", "w9");
        expect(await q.waitForFinish(t.id, 20)).toMatchObject({ status: "STARTED", workerId: "w9" });
        const controller = new AbortController();
        const aborted = q.waitForFinish(t.id, FOREVER, controller.signal);
        controller.abort();
        expect(await aborted).toMatchObject({ status: "STARTED" });
      });

      it("reports a task queued past its expiry as UNDEFINED even before the sweep records it", async () => {
        const t = await q.enqueue(task({ expiresAt: START + 1_000 }));
        advance(1_000);
        expect(await q.waitForFinish(t.id, FOREVER)).toMatchObject({ status: "UNDEFINED" });
      });

      it("wakes every waiter of the task, and only them", async () => {
        const t = await q.enqueue(task());
        const other = await q.enqueue(task());
        const leased = await q.lease({ queue: "end_a", workerId: "w1", max: 2, leaseMs: LEASE });
        const first = q.waitForFinish(t.id, FOREVER);
        const second = q.waitForFinish(t.id, FOREVER);
        const unrelated = q.waitForFinish(other.id, 30);
        await q.complete(t.id, leased[0]!.leaseToken, { output: 1, statusCode: 200 });
        expect((await first)?.status).toBe("SUCCESS");
        expect((await second)?.status).toBe("SUCCESS");
        expect((await unrelated)?.status).toBe("STARTED");
      });

      it("stops waiting when the queue closes, with the task as last read", async () => {
        const t = await q.enqueue(task());
        const closing = q.waitForFinish(t.id, FOREVER);
        q = await subject.reopen();
        expect(await closing).toMatchObject({ id: t.id, status: "PENDING" });
      });
    });

    describe("durability", () => {
      it("keeps queued, running and finished tasks across a restart", async () => {
        const done = await q.enqueue(task());
        const running = await q.enqueue(task());
        const queued = await q.enqueue(task({ payload: { args: [1, 2, 3] } }));
        const doneLease = await leaseOne();
        await q.complete(done.id, doneLease.leaseToken, { output: { sum: 6 }, statusCode: 200 });
        const runningLease = await leaseOne();

        q = await subject.reopen();

        expect(await q.get(done.id)).toMatchObject({
          status: "SUCCESS",
          result: { output: { sum: 6 }, statusCode: 200 },
        });
        expect(await q.get(running.id)).toMatchObject({ status: "STARTED", attempts: 1 });
        expect(await q.counts("end_a")).toEqual({ queued: 1, inFlight: 1 });
        const again = await leaseOne();
        expect(again).toMatchObject({ id: queued.id, payload: { args: [1, 2, 3] } });
        // The old server's worker died with it: its lease runs out and the task comes back.
        advance(LEASE);
        expect(await q.sweep(time)).toMatchObject({ requeued: 2 });
        const retried = await q.lease({ queue: "end_a", workerId: "w2", max: 5, leaseMs: LEASE });
        expect(retried.map((l) => l.id)).toEqual([running.id, queued.id]);
        expect(await q.complete(running.id, runningLease.leaseToken, { output: 0, statusCode: 200 })).toBe(
          false,
        );
      });

      it("keeps every task of a burst of enqueues across a restart", async () => {
        const tasks = Array.from({ length: 300 }, () => task());
        await Promise.all(tasks.map((t) => q.enqueue(t)));
        q = await subject.reopen();
        expect(await q.counts("end_a")).toEqual({ queued: 300, inFlight: 0 });
        for (const t of tasks.slice(0, 10)) expect((await q.get(t.id))?.status).toBe("PENDING");
      });
    });
  });
}
