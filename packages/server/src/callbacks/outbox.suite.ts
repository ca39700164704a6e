/**
 * The behaviour suite of the callback outbox port, for adapters that are both the task queue and its
 * outbox (deliveries are written by the queue when a task finishes). Every such adapter runs it unchanged
 * (`describeCallbackOutbox` in the adapter's test file), next to `describeTaskQueue`. Time is a
 * controllable clock handed to the adapter; only `waitForDue` uses real (short) timers.
 */
import { isLaunchError, newId } from "@launch/protocol";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { leaseExpiredMessage } from "../queue/messages.js";
import type { LeasedTask, NewTask, QueueWithOutbox, TaskError } from "../queue/port.js";
import type { StoredCallbackAuth } from "../store/port.js";
import type {
  AttemptRecord,
  CallbackOutbox,
  CallbackSpec,
  ClaimedDelivery,
  DeliveryRecord,
  NewDelivery,
} from "./port.js";

/** What the suite hands to an adapter's factory. */
export interface OutboxSuiteOptions {
  /** The current time in epoch milliseconds; the adapter must read time only from it (and `now` arguments). */
  clock: () => number;
  /** The result retention the adapter must apply (to tasks, and to delivered and skipped deliveries). */
  resultRetentionMs: number;
}

/** An adapter opened (and `ready`) on fresh, isolated data. */
export interface OutboxUnderTest {
  subject: QueueWithOutbox;
  /** Closes the current adapter and opens a new one on the same data (a server restart). */
  reopen(): Promise<QueueWithOutbox>;
  /** Closes the current adapter and removes its data. */
  cleanup(): Promise<void>;
}

const START = Date.UTC(2031, 0, 1);
const RETENTION = 60_000;
const LEASE = 10_000;
const CLAIM = 30_000;
/** Longer than any test may run: a wait that is not woken fails the test by its timeout. */
const FOREVER = 3_600_000;
const URL = "https://receiver.test/hook";
const AUTH: StoredCallbackAuth = { kind: "basic", username: "hook-user", sealed: "v1.c2VhbGVk" };
const BOOM: TaskError = {
  message: 'ValueError: boom "x"',
  traceback: 'Traceback (most recent call last):\n  File "model.py", line 3\nValueError: boom',
  statusCode: 500,
};

/**
 * Registers the behaviour suite for one adapter.
 *
 * @example describeCallbackOutbox("embedded", async (options) => openEmbeddedForTest(options));
 */
export function describeCallbackOutbox(
  name: string,
  open: (options: OutboxSuiteOptions) => Promise<OutboxUnderTest>,
): void {
  describe(`CallbackOutbox: ${name}`, () => {
    let time = START;
    let subject: OutboxUnderTest;
    let q: QueueWithOutbox;
    const advance = (ms: number): number => {
      time += ms;
      return time;
    };
    const spec = (overrides: Partial<CallbackSpec> = {}): CallbackSpec => ({
      url: URL,
      auth: AUTH,
      events: ["succeeded"],
      ...overrides,
    });
    const task = (overrides: Partial<NewTask> = {}): NewTask => ({
      id: newId("task"),
      queue: "end_a",
      owner: "team_1",
      createdBy: "user_1",
      payload: { args: { x: 2, y: "hello" } },
      maxAttempts: 1,
      expiresAt: null,
      callback: spec(),
      ...overrides,
    });
    const leaseOne = async (queue = "end_a"): Promise<LeasedTask> => {
      const [leased] = await q.lease({ queue, workerId: "w1", max: 1, leaseMs: LEASE });
      if (!leased) throw new Error(`expected a task to lease on ${queue}`);
      return leased;
    };
    /** Runs a task to SUCCESS with `output`; resolves its id. */
    const succeed = async (
      callback: CallbackSpec | null | undefined,
      output: unknown = 7,
    ): Promise<string> => {
      const t = await q.enqueue(task({ callback }));
      const leased = await leaseOne();
      expect(await q.complete(t.id, leased.leaseToken, { output, statusCode: 200 })).toBe(true);
      return t.id;
    };
    /** Runs a task to FAILURE (no retry); resolves its id. */
    const failForGood = async (callback: CallbackSpec | null | undefined, error = BOOM): Promise<string> => {
      const t = await q.enqueue(task({ callback }));
      const leased = await leaseOne();
      expect(await q.fail(t.id, leased.leaseToken, error, { retry: false })).toBe("failed");
      return t.id;
    };
    /** The one delivery of a task. */
    const deliveryOf = async (taskId: string): Promise<DeliveryRecord> => {
      const deliveries = await q.listDeliveriesOfTask(taskId);
      expect(deliveries).toHaveLength(1);
      return deliveries[0]!;
    };
    const newDelivery = (overrides: Partial<NewDelivery> = {}): NewDelivery => ({
      id: newId("delivery"),
      taskId: null,
      endpointId: "end_a",
      owner: "team_1",
      event: "succeeded",
      url: URL,
      auth: null,
      body: '{"task_id":null,"result":1}',
      status: "pending",
      createdAt: time,
      ...overrides,
    });
    const claimOne = async (now?: number): Promise<ClaimedDelivery> => {
      const [claimed] = await q.claimDue(1, CLAIM, now);
      if (!claimed) throw new Error("expected a delivery to claim");
      return claimed;
    };
    const attempt = (
      claimed: ClaimedDelivery,
      outcome: AttemptRecord["outcome"],
      overrides: Partial<AttemptRecord> = {},
    ): AttemptRecord => ({
      deliveryId: claimed.id,
      n: claimed.attempts + 1,
      startedAt: time,
      url: claimed.url ?? URL,
      statusCode: outcome === "delivered" ? 200 : outcome === "retry" ? 503 : 400,
      errorClass: outcome === "delivered" ? null : outcome === "retry" ? "http_5xx" : "http_4xx",
      errorMessage: outcome === "delivered" ? null : `receiver answered ${outcome === "retry" ? 503 : 400}`,
      latencyMs: 12,
      outcome,
      nextAttemptAt: outcome === "retry" ? time + 60_000 : null,
      ...overrides,
    });
    /** Claims the next due delivery and records one attempt with `outcome`. */
    const tryOnce = async (outcome: AttemptRecord["outcome"], overrides: Partial<AttemptRecord> = {}) => {
      const claimed = await claimOne();
      const record = attempt(claimed, outcome, overrides);
      expect(await q.recordAttempt(claimed.id, claimed.claimToken, record)).toBe(true);
      return { claimed, record };
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
    const successBody = (taskId: string, outputJson: string): string =>
      `{"task_id":"${taskId}","result":${outputJson}}`;

    beforeEach(async () => {
      time = START;
      subject = await open({ clock: () => time, resultRetentionMs: RETENTION });
      q = subject.subject;
    });

    afterEach(async () => {
      await subject.cleanup();
    });

    describe("deliveries written when a task finishes", () => {
      it("complete writes the succeeded delivery with the result: it exists once complete resolves", async () => {
        const t = await q.enqueue(task());
        const leased = await leaseOne();
        advance(5);
        expect(await q.complete(t.id, leased.leaseToken, { output: 7, statusCode: 200 })).toBe(true);
        const [delivery] = await q.listDeliveriesOfTask(t.id);
        expect(delivery).toEqual({
          id: expect.stringMatching(/^dlv_/),
          taskId: t.id,
          endpointId: "end_a",
          owner: "team_1",
          event: "succeeded",
          url: URL,
          auth: AUTH,
          body: `{"task_id":"${t.id}","result":7}`,
          status: "pending",
          attempts: 0,
          nextAttemptAt: START + 5,
          lastError: null,
          lastStatusCode: null,
          createdAt: START + 5,
          deliveredAt: null,
        });
        expect(await q.getDelivery(delivery!.id)).toEqual(delivery);
        expect(await q.listDeliveries({ endpointId: "end_a" })).toEqual([delivery]);
      });

      it("sends structured outputs as compact JSON", async () => {
        const output = { y: [1, null, "é"], nested: { ok: true } };
        const taskId = await succeed(spec(), output);
        expect((await deliveryOf(taskId)).body).toBe(
          `{"task_id":"${taskId}","result":{"y":[1,null,"é"],"nested":{"ok":true}}}`,
        );
      });

      it("writes nothing for a complete whose lease was lost, and one delivery for the winner", async () => {
        const t = await q.enqueue(task({ maxAttempts: 2 }));
        const first = await leaseOne();
        advance(LEASE);
        expect(await q.sweep(time)).toMatchObject({ requeued: 1 });
        expect(await q.complete(t.id, first.leaseToken, { output: "late", statusCode: 200 })).toBe(false);
        expect(await q.listDeliveriesOfTask(t.id)).toEqual([]);
        const second = await leaseOne();
        expect(await q.complete(t.id, second.leaseToken, { output: 8, statusCode: 200 })).toBe(true);
        expect(await q.complete(t.id, second.leaseToken, { output: 9, statusCode: 200 })).toBe(false);
        expect((await deliveryOf(t.id)).body).toBe(successBody(t.id, "8"));
      });

      it("sends only succeeded events by default: a failed task writes nothing", async () => {
        const taskId = await failForGood(spec());
        expect(await q.listDeliveriesOfTask(taskId)).toEqual([]);
      });

      it("sends only failed events when asked, with the exact failure body", async () => {
        const failed = spec({ events: ["failed"] });
        const okId = await succeed(failed);
        expect(await q.listDeliveriesOfTask(okId)).toEqual([]);
        const failId = await failForGood(failed);
        const delivery = await deliveryOf(failId);
        expect(delivery).toMatchObject({ event: "failed", status: "pending", taskId: failId });
        expect(delivery.body).toBe(
          `{"task_id":"${failId}","status":"FAILURE","result":null,"error":"ValueError: boom \\"x\\"",` +
            '"traceback":"Traceback (most recent call last):\\n  File \\"model.py\\", line 3\\nValueError: boom"}',
        );
        expect(JSON.parse(delivery.body)).toEqual({
          task_id: failId,
          status: "FAILURE",
          result: null,
          error: BOOM.message,
          traceback: BOOM.traceback,
        });
      });

      it("sends both events when asked; a failed attempt that is retried sends nothing", async () => {
        const both = spec({ events: ["succeeded", "failed"] });
        const t = await q.enqueue(task({ callback: both, maxAttempts: 2 }));
        expect(await q.fail(t.id, (await leaseOne()).leaseToken, BOOM, { retry: true })).toBe("requeued");
        expect(await q.listDeliveriesOfTask(t.id)).toEqual([]);
        expect(await q.complete(t.id, (await leaseOne()).leaseToken, { output: 7, statusCode: 200 })).toBe(
          true,
        );
        expect((await deliveryOf(t.id)).event).toBe("succeeded");
        const failId = await failForGood(both, {
          message: "no traceback",
          traceback: null,
          statusCode: null,
        });
        expect((await deliveryOf(failId)).body).toBe(
          `{"task_id":"${failId}","status":"FAILURE","result":null,"error":"no traceback","traceback":null}`,
        );
      });

      it("writes the failed delivery when the sweep fails a task whose last lease expired", async () => {
        const callback = spec({ events: ["failed"] });
        const crashed = await q.enqueue(task({ callback, maxAttempts: 1 }));
        const retried = await q.enqueue(task({ callback, maxAttempts: 2 }));
        await q.lease({ queue: "end_a", workerId: "w1", max: 2, leaseMs: LEASE });
        advance(LEASE);
        expect(await q.sweep(time)).toMatchObject({ failed: 1, requeued: 1 });
        expect(await q.listDeliveriesOfTask(retried.id)).toEqual([]);
        const delivery = await deliveryOf(crashed.id);
        expect(delivery).toMatchObject({
          event: "failed",
          status: "pending",
          createdAt: time,
          nextAttemptAt: time,
        });
        expect(delivery.body).toBe(
          `{"task_id":"${crashed.id}","status":"FAILURE","result":null,"error":${JSON.stringify(leaseExpiredMessage(1))},"traceback":null}`,
        );
      });

      it("writes nothing for a task without a callback spec, absent or null", async () => {
        const absent = await q.enqueue({ ...task(), callback: undefined });
        await q.complete(absent.id, (await leaseOne()).leaseToken, { output: 1, statusCode: 200 });
        const nullOk = await succeed(null);
        const nullFailed = await failForGood(null);
        for (const id of [absent.id, nullOk, nullFailed])
          expect(await q.listDeliveriesOfTask(id)).toEqual([]);
        expect(await q.listDeliveries({ endpointId: "end_a" })).toEqual([]);
        expect(await q.claimDue(10, CLAIM)).toEqual([]);
      });

      it("sends nothing for a task that expires while queued", async () => {
        const t = await q.enqueue(
          task({ callback: spec({ events: ["succeeded", "failed"] }), expiresAt: START + 1_000 }),
        );
        advance(1_000);
        expect(await q.sweep(time)).toMatchObject({ expired: 1 });
        expect((await q.get(t.id))?.status).toBe("UNDEFINED");
        expect(await q.listDeliveriesOfTask(t.id)).toEqual([]);
      });

      it("records a task with the hook but no URL as skipped, with the reason, and never sends it", async () => {
        const taskId = await succeed(spec({ url: null, auth: null }));
        const delivery = await deliveryOf(taskId);
        expect(delivery).toMatchObject({
          status: "skipped",
          url: null,
          lastError: "no callback URL",
          nextAttemptAt: null,
          attempts: 0,
          body: successBody(taskId, "7"),
        });
        expect(await q.claimDue(10, CLAIM)).toEqual([]);
        expect(await q.waitForDue(20)).toBe(false);
      });

      it("rejects a malformed callback spec naming the field, and creates nothing", async () => {
        const bad = task({
          callback: { url: 5, auth: null, events: ["sometimes"] } as unknown as CallbackSpec,
        });
        await expectLaunchError(q.enqueue(bad), "validation_failed", "callback", "url", "events");
        expect(await q.get(bad.id)).toBeUndefined();
        const badAuth = task({
          callback: spec({ auth: { kind: "basic" } as unknown as StoredCallbackAuth }),
        });
        await expectLaunchError(q.enqueue(badAuth), "validation_failed", "auth");
      });
    });

    describe("claims and attempts", () => {
      it("claims due deliveries oldest due first, at most max, each with its own token", async () => {
        const d1 = await q.addDelivery(newDelivery({ createdAt: START + 20 }));
        const d2 = await q.addDelivery(newDelivery({ createdAt: START + 10 }));
        const d3 = await q.addDelivery(newDelivery({ createdAt: START + 30 }));
        const later = await q.addDelivery(newDelivery({ createdAt: START + 5_000 }));
        advance(100);
        const first = await q.claimDue(2, CLAIM);
        expect(first.map((d) => d.id)).toEqual([d2.id, d1.id]);
        expect(first[0]).toMatchObject({ status: "pending", attempts: 0, body: d2.body, url: URL });
        expect(new Set(first.map((d) => d.claimToken)).size).toBe(2);
        expect((await q.claimDue(10, CLAIM)).map((d) => d.id)).toEqual([d3.id]);
        expect(await q.claimDue(10, CLAIM)).toEqual([]);
        expect((await q.claimDue(10, CLAIM, START + 5_000)).map((d) => d.id)).toEqual([later.id]);
      });

      it("skips deliveries under a live claim, and hands out one whose claim ran out with a new token", async () => {
        const d = await q.addDelivery(newDelivery());
        const first = await claimOne();
        expect(first.id).toBe(d.id);
        expect(await q.claimDue(10, CLAIM)).toEqual([]);
        advance(CLAIM - 1);
        expect(await q.claimDue(10, CLAIM)).toEqual([]);
        advance(1);
        const second = await claimOne();
        expect(second.id).toBe(d.id);
        expect(second.claimToken).not.toBe(first.claimToken);
        expect(await q.recordAttempt(d.id, first.claimToken, attempt(first, "delivered"))).toBe(false);
        expect(await q.recordAttempt(d.id, second.claimToken, attempt(second, "delivered"))).toBe(true);
      });

      it("takes deliveries whose claim ran out in due order with the unclaimed ones", async () => {
        const lapsing = await q.addDelivery(newDelivery({ createdAt: START + 10 }));
        advance(100);
        const first = await claimOne();
        expect(first.id).toBe(lapsing.id);
        const older = await q.addDelivery(newDelivery({ createdAt: START + 5 }));
        const newer = await q.addDelivery(newDelivery({ createdAt: START + 20 }));
        advance(CLAIM);
        const claimed = await q.claimDue(10, CLAIM);
        expect(claimed.map((d) => d.id)).toEqual([older.id, lapsing.id, newer.id]);
        expect(claimed[1]!.claimToken).not.toBe(first.claimToken);
        expect(await q.claimDue(10, CLAIM)).toEqual([]);
      });

      it("gives a claim back: due again at once, as it was; the old token records nothing", async () => {
        const d = await q.addDelivery(newDelivery());
        await tryOnce("retry", { nextAttemptAt: START + 1_000 });
        advance(1_000);
        const claimed = await claimOne();
        expect(await q.claimDue(10, CLAIM)).toEqual([]);
        expect(await q.releaseClaim(d.id, claimed.claimToken)).toBe(true);
        expect(await q.releaseClaim(d.id, claimed.claimToken)).toBe(false);
        expect(await q.getDelivery(d.id)).toMatchObject({
          status: "pending",
          attempts: 1,
          nextAttemptAt: START + 1_000,
        });
        expect(await q.recordAttempt(d.id, claimed.claimToken, attempt(claimed, "delivered"))).toBe(false);
        const again = await claimOne();
        expect(again).toMatchObject({ id: d.id, attempts: 1 });
        expect(again.claimToken).not.toBe(claimed.claimToken);
        expect(await q.releaseClaim(d.id, claimed.claimToken)).toBe(false);
        expect(await q.releaseClaim("dlv_unknown", again.claimToken)).toBe(false);
        expect(await q.releaseClaim(d.id, "not-the-token")).toBe(false);
        expect(await q.recordAttempt(d.id, again.claimToken, attempt(again, "delivered"))).toBe(true);
        expect(await q.releaseClaim(d.id, again.claimToken)).toBe(false);
        expect(await q.getDelivery(d.id)).toMatchObject({ status: "delivered", attempts: 2 });
        expect(await q.listAttempts(d.id)).toHaveLength(2);
      });

      it("records nothing with a wrong token or for an unknown delivery", async () => {
        const d = await q.addDelivery(newDelivery());
        const claimed = await claimOne();
        expect(await q.recordAttempt(d.id, "not-the-token", attempt(claimed, "delivered"))).toBe(false);
        expect(await q.recordAttempt("dlv_unknown", claimed.claimToken, attempt(claimed, "delivered"))).toBe(
          false,
        );
        expect(await q.getDelivery(d.id)).toEqual(d);
        expect(await q.listAttempts(d.id)).toEqual([]);
        expect(await q.claimDue(10, CLAIM)).toEqual([]);
      });

      it("a retry logs the attempt and makes the delivery due again at the time given, not before", async () => {
        const d = await q.addDelivery(newDelivery());
        const { record } = await tryOnce("retry", { nextAttemptAt: START + 60_000 });
        expect(await q.getDelivery(d.id)).toMatchObject({
          status: "pending",
          attempts: 1,
          nextAttemptAt: START + 60_000,
          lastError: "receiver answered 503",
          lastStatusCode: 503,
          deliveredAt: null,
        });
        expect(await q.listAttempts(d.id)).toEqual([record]);
        expect(await q.claimDue(10, CLAIM)).toEqual([]);
        advance(60_000 - 1);
        expect(await q.claimDue(10, CLAIM)).toEqual([]);
        advance(1);
        expect(await claimOne()).toMatchObject({ id: d.id, attempts: 1 });
      });

      it("a success marks the delivery delivered and releases the claim", async () => {
        const d = await q.addDelivery(newDelivery());
        advance(3);
        const { claimed } = await tryOnce("delivered", { latencyMs: 12 });
        expect(await q.getDelivery(d.id)).toMatchObject({
          status: "delivered",
          attempts: 1,
          nextAttemptAt: null,
          lastError: null,
          lastStatusCode: 200,
          deliveredAt: START + 3 + 12,
        });
        expect(await q.recordAttempt(d.id, claimed.claimToken, attempt(claimed, "delivered"))).toBe(false);
        expect(await q.listAttempts(d.id)).toHaveLength(1);
        expect(await q.claimDue(10, CLAIM, START + 10 * CLAIM)).toEqual([]);
      });

      it("a permanent failure makes a dead letter that is never claimed again", async () => {
        const d = await q.addDelivery(newDelivery());
        await tryOnce("failed");
        expect(await q.getDelivery(d.id)).toMatchObject({
          status: "failed",
          attempts: 1,
          nextAttemptAt: null,
          lastError: "receiver answered 400",
          lastStatusCode: 400,
          deliveredAt: null,
        });
        expect(await q.claimDue(10, CLAIM, START + 10 * CLAIM)).toEqual([]);
        expect((await q.listDeliveries({ endpointId: "end_a", status: "failed" })).map((x) => x.id)).toEqual([
          d.id,
        ]);
      });

      it("lists every attempt in order with what it recorded", async () => {
        const d = await q.addDelivery(newDelivery());
        const records: AttemptRecord[] = [];
        records.push(
          (
            await tryOnce("retry", {
              statusCode: null,
              errorClass: "timeout",
              errorMessage: "no answer in 10 s",
            })
          ).record,
        );
        advance(60_000);
        records.push((await tryOnce("retry", { latencyMs: 4.5 })).record);
        advance(60_000);
        records.push((await tryOnce("delivered")).record);
        expect(await q.listAttempts(d.id)).toEqual(records);
        expect(records.map((r) => r.n)).toEqual([1, 2, 3]);
        expect(await q.getDelivery(d.id)).toMatchObject({ status: "delivered", attempts: 3 });
      });

      it("rejects a malformed attempt naming the field, keeping the claim", async () => {
        const d = await q.addDelivery(newDelivery());
        const claimed = await claimOne();
        await expectLaunchError(
          q.recordAttempt(d.id, claimed.claimToken, attempt(claimed, "retry", { nextAttemptAt: null })),
          "validation_failed",
          "nextAttemptAt",
        );
        expect(await q.listAttempts(d.id)).toEqual([]);
        expect(await q.recordAttempt(d.id, claimed.claimToken, attempt(claimed, "delivered"))).toBe(true);
      });
    });

    describe("listing", () => {
      it("lists an endpoint's deliveries newest first, by status, with a limit, before a given one", async () => {
        const ids: string[] = [];
        for (let i = 0; i < 5; i++) {
          ids.push((await q.addDelivery(newDelivery())).id);
          advance(1);
        }
        const skipped = await q.addDelivery(
          newDelivery({ status: "skipped", url: null, note: "no callback URL" }),
        );
        ids.push(skipped.id);
        await q.addDelivery(newDelivery({ endpointId: "end_b" }));
        // The oldest is delivered, the second oldest is a dead letter.
        await tryOnce("delivered");
        await tryOnce("failed");
        const newestFirst = [...ids].reverse();
        const list = async (query: Parameters<CallbackOutbox["listDeliveries"]>[0]) =>
          (await q.listDeliveries(query)).map((d) => d.id);
        expect(await list({ endpointId: "end_a" })).toEqual(newestFirst);
        expect(await list({ endpointId: "end_a", limit: 2 })).toEqual(newestFirst.slice(0, 2));
        expect(await list({ endpointId: "end_a", before: newestFirst[1] })).toEqual(newestFirst.slice(2));
        expect(await list({ endpointId: "end_a", before: newestFirst[1], limit: 2 })).toEqual(
          newestFirst.slice(2, 4),
        );
        expect(await list({ endpointId: "end_a", status: "pending" })).toEqual([ids[4], ids[3], ids[2]]);
        expect(await list({ endpointId: "end_a", status: "delivered" })).toEqual([ids[0]]);
        expect(await list({ endpointId: "end_a", status: "failed" })).toEqual([ids[1]]);
        expect(await list({ endpointId: "end_a", status: "skipped" })).toEqual([skipped.id]);
        expect(await list({ endpointId: "end_a", status: "pending", before: ids[3] })).toEqual([ids[2]]);
        expect(await list({ endpointId: "end_b" })).toHaveLength(1);
        expect(await list({ endpointId: "end_nobody" })).toEqual([]);
      });

      it("lists a task's deliveries oldest first, and answers empty or undefined for unknown ids", async () => {
        const taskId = await succeed(spec());
        const extra = await q.addDelivery(newDelivery({ taskId, body: successBody(taskId, "7") }));
        const deliveries = await q.listDeliveriesOfTask(taskId);
        expect(deliveries.map((d) => d.id)).toEqual([deliveries[0]!.id, extra.id]);
        expect(await q.listDeliveriesOfTask("tsk_unknown")).toEqual([]);
        expect(await q.getDelivery("dlv_unknown")).toBeUndefined();
        expect(await q.listAttempts("dlv_unknown")).toEqual([]);
      });

      it("rejects a bad listing query naming the field", async () => {
        await expectLaunchError(
          q.listDeliveries({ endpointId: "end_a", status: "lost" as never, limit: 0 }),
          "validation_failed",
          "status",
          "limit",
        );
      });
    });

    describe("replay", () => {
      it("replays a dead letter: due now, same id and body, attempt numbering continues", async () => {
        const d = await q.addDelivery(newDelivery());
        await tryOnce("retry");
        advance(60_000);
        await tryOnce("failed");
        advance(1_000);
        const replayed = await q.replay(d.id);
        expect(replayed).toMatchObject({
          id: d.id,
          body: d.body,
          status: "pending",
          attempts: 2,
          nextAttemptAt: time,
        });
        expect(await q.getDelivery(d.id)).toEqual(replayed);
        const { record } = await tryOnce("delivered");
        expect(record.n).toBe(3);
        expect((await q.listAttempts(d.id)).map((a) => [a.n, a.outcome])).toEqual([
          [1, "retry"],
          [2, "failed"],
          [3, "delivered"],
        ]);
      });

      it("replays a delivered delivery, clearing its delivery time", async () => {
        const taskId = await succeed(spec());
        const d = await deliveryOf(taskId);
        await tryOnce("delivered");
        advance(5);
        expect(await q.replay(d.id)).toMatchObject({
          id: d.id,
          body: d.body,
          status: "pending",
          deliveredAt: null,
        });
        const claimed = await claimOne();
        expect(claimed).toMatchObject({ id: d.id, attempts: 1 });
        expect(await q.recordAttempt(d.id, claimed.claimToken, attempt(claimed, "delivered"))).toBe(true);
        expect((await q.listAttempts(d.id)).map((a) => a.n)).toEqual([1, 2]);
        expect((await q.get(taskId))?.result).toEqual({ output: 7, statusCode: 200 });
      });

      it("refuses to replay a skipped delivery, leaves a pending one as it is, and ignores unknown ids", async () => {
        const taskId = await succeed(spec({ url: null }));
        const skipped = await deliveryOf(taskId);
        await expectLaunchError(q.replay(skipped.id), "bad_request", skipped.id);
        expect(await q.getDelivery(skipped.id)).toEqual(skipped);
        const pending = await q.addDelivery(newDelivery());
        const claimed = await claimOne();
        advance(10);
        expect(await q.replay(pending.id)).toEqual(pending);
        expect(await q.recordAttempt(pending.id, claimed.claimToken, attempt(claimed, "delivered"))).toBe(
          true,
        );
        expect(await q.replay("dlv_unknown")).toBeUndefined();
      });

      it("replays every dead letter of one endpoint and says how many", async () => {
        const dead: string[] = [];
        for (let i = 0; i < 3; i++) dead.push((await q.addDelivery(newDelivery())).id);
        const delivered = await q.addDelivery(newDelivery());
        const otherEndpoint = await q.addDelivery(newDelivery({ endpointId: "end_b" }));
        for (let i = 0; i < 3; i++) await tryOnce("failed");
        await tryOnce("delivered");
        await tryOnce("failed");
        advance(7);
        expect(await q.replayFailed("end_a")).toBe(3);
        for (const id of dead)
          expect(await q.getDelivery(id)).toMatchObject({ status: "pending", nextAttemptAt: time });
        expect((await q.getDelivery(delivered.id))?.status).toBe("delivered");
        expect((await q.getDelivery(otherEndpoint.id))?.status).toBe("failed");
        expect((await q.claimDue(10, CLAIM)).map((d) => d.id).sort()).toEqual([...dead].sort());
        expect(await q.replayFailed("end_a")).toBe(0);
      });
    });

    describe("waitForDue", () => {
      it("answers at once when a delivery is due, and times out with false when none is", async () => {
        expect(await q.waitForDue(20)).toBe(false);
        await q.addDelivery(newDelivery());
        expect(await q.waitForDue(FOREVER)).toBe(true);
      });

      it("wakes when a delivery is added, or written by a task's completion", async () => {
        const onAdd = q.waitForDue(FOREVER);
        await q.addDelivery(newDelivery());
        expect(await onAdd).toBe(true);
        await claimOne();
        const t = await q.enqueue(task());
        const leased = await leaseOne();
        const onComplete = q.waitForDue(FOREVER);
        await q.complete(t.id, leased.leaseToken, { output: 7, statusCode: 200 });
        expect(await onComplete).toBe(true);
      });

      it("wakes at a retry's due time, and when a replay makes a dead letter due", async () => {
        const d = await q.addDelivery(newDelivery());
        await tryOnce("retry", { nextAttemptAt: time + 40 });
        // Nothing is due now: the wait ends when the retry comes due (40 ms on the real timer).
        const onRetry = q.waitForDue(FOREVER);
        expect(await onRetry).toBe(true);
        advance(40);
        await tryOnce("failed");
        const onReplay = q.waitForDue(FOREVER);
        await q.replay(d.id);
        expect(await onReplay).toBe(true);
      });

      it("wakes when a claim on a due delivery runs out (its dispatcher died)", async () => {
        await q.addDelivery(newDelivery());
        await q.claimDue(1, 40);
        expect(await q.waitForDue(FOREVER)).toBe(true);
      });

      it("wakes when a claim is given back, and answers at once once one ran out", async () => {
        const d = await q.addDelivery(newDelivery());
        const claimed = await claimOne();
        const onRelease = q.waitForDue(FOREVER);
        expect(await q.releaseClaim(d.id, claimed.claimToken)).toBe(true);
        expect(await onRelease).toBe(true);
        await claimOne();
        advance(CLAIM);
        expect(await q.waitForDue(FOREVER)).toBe(true);
      });

      it("stops waiting with false when aborted or when the adapter closes", async () => {
        const controller = new AbortController();
        const aborted = q.waitForDue(FOREVER, controller.signal);
        controller.abort();
        expect(await aborted).toBe(false);
        const closing = q.waitForDue(FOREVER);
        q = await subject.reopen();
        expect(await closing).toBe(false);
      });
    });

    describe("retention", () => {
      it("deletes delivered and skipped deliveries with their tasks, and keeps pending and failed ones", async () => {
        // A sweep with nothing to delete first: whatever an adapter remembers from it must not hide
        // deliveries finished afterwards.
        await q.sweep(time);
        const deliveredTask = await succeed(spec());
        const delivered = await deliveryOf(deliveredTask);
        await tryOnce("delivered");
        const skipped = await deliveryOf(await succeed(spec({ url: null })));
        const deadTask = await succeed(spec());
        const dead = await deliveryOf(deadTask);
        await tryOnce("failed");
        const sync = await q.addDelivery(newDelivery());
        await tryOnce("delivered");
        const pending = await deliveryOf(await succeed(spec()));
        advance(RETENTION - 1);
        await q.sweep(time);
        for (const d of [delivered, skipped, dead, pending, sync])
          expect(await q.getDelivery(d.id)).toBeDefined();
        advance(1);
        expect(await q.sweep(time)).toMatchObject({ purged: 4 });
        expect(await q.get(deliveredTask)).toBeUndefined();
        for (const d of [delivered, skipped, sync]) {
          expect(await q.getDelivery(d.id)).toBeUndefined();
          expect(await q.listAttempts(d.id)).toEqual([]);
        }
        expect(await q.getDelivery(dead.id)).toMatchObject({ status: "failed", attempts: 1 });
        expect(await q.listAttempts(dead.id)).toHaveLength(1);
        expect((await q.getDelivery(pending.id))?.status).toBe("pending");
        // A dead letter stays replayable after its task is gone.
        expect(await q.get(deadTask)).toBeUndefined();
        expect(await q.replay(dead.id)).toMatchObject({ status: "pending" });
      });

      for (const [how, finish] of [
        ["delivered by a receiver", async () => (await q.addDelivery(newDelivery())).id],
        ["skipped by a task", async () => (await deliveryOf(await succeed(spec({ url: null })))).id],
        [
          "added as skipped",
          async () => (await q.addDelivery(newDelivery({ status: "skipped", url: null }))).id,
        ],
      ] as const) {
        it(`deletes a lone delivery ${how} after an idle sweep, once older than the retention`, async () => {
          await q.sweep(time);
          const id = await finish();
          if ((await q.getDelivery(id))?.status === "pending") await tryOnce("delivered");
          advance(RETENTION);
          await q.sweep(time);
          expect(await q.getDelivery(id)).toBeUndefined();
        });
      }
    });

    describe("durability", () => {
      it("keeps deliveries, attempts and claims across a restart", async () => {
        const retrying = await q.addDelivery(newDelivery());
        const { record } = await tryOnce("retry", { nextAttemptAt: START + 1_000 });
        const claimedTask = await succeed(spec());
        const claimed = await claimOne();
        expect(claimed.taskId).toBe(claimedTask);

        q = await subject.reopen();

        expect(await q.getDelivery(retrying.id)).toMatchObject({
          status: "pending",
          attempts: 1,
          nextAttemptAt: START + 1_000,
        });
        expect(await q.listAttempts(retrying.id)).toEqual([record]);
        expect(await q.listDeliveriesOfTask(claimedTask)).toHaveLength(1);
        if (q.capabilities.multiProcess) {
          // Another process's dispatcher may still hold the claim: it comes back only when it runs out.
          expect(await q.claimDue(10, CLAIM)).toEqual([]);
          advance(1_000);
          expect((await claimOne()).id).toBe(retrying.id);
          advance(CLAIM);
        }
        // One process owns a single-process queue, so a claim found at start belonged to a dispatcher
        // that died with it: it is released at once instead of after the claim time.
        const again = await claimOne();
        expect(again.id).toBe(claimed.id);
        expect(await q.recordAttempt(claimed.id, claimed.claimToken, attempt(claimed, "delivered"))).toBe(
          false,
        );
        expect(await q.recordAttempt(again.id, again.claimToken, attempt(again, "delivered"))).toBe(true);
        if (!q.capabilities.multiProcess) {
          advance(1_000);
          expect((await claimOne()).id).toBe(retrying.id);
        }
      });
    });

    describe("addDelivery (sync tasks)", () => {
      it("adds a delivery with no task, durable and claimable at once", async () => {
        const input = newDelivery({ auth: AUTH, body: '{"task_id":null,"result":{"y":1}}' });
        const record = await q.addDelivery(input);
        expect(record).toEqual({
          id: input.id,
          taskId: null,
          endpointId: "end_a",
          owner: "team_1",
          event: "succeeded",
          url: URL,
          auth: AUTH,
          body: '{"task_id":null,"result":{"y":1}}',
          status: "pending",
          attempts: 0,
          nextAttemptAt: START,
          lastError: null,
          lastStatusCode: null,
          createdAt: START,
          deliveredAt: null,
        });
        expect(await q.getDelivery(input.id)).toEqual(record);
        expect(await claimOne()).toEqual({ ...record, claimToken: expect.any(String) });
      });

      it("adds a skipped delivery with its note", async () => {
        const record = await q.addDelivery(
          newDelivery({ status: "skipped", url: null, note: "no callback URL" }),
        );
        expect(record).toMatchObject({
          status: "skipped",
          lastError: "no callback URL",
          nextAttemptAt: null,
        });
        expect(await q.getDelivery(record.id)).toEqual(record);
      });

      it("rejects a delivery id already used, and bad fields naming each one", async () => {
        const input = newDelivery();
        await q.addDelivery(input);
        await expectLaunchError(q.addDelivery({ ...input, endpointId: "end_b" }), "conflict", input.id);
        expect((await q.getDelivery(input.id))?.endpointId).toBe("end_a");
        const bad = newDelivery({ endpointId: "", event: "maybe" as never, body: "{not json" });
        await expectLaunchError(q.addDelivery(bad), "validation_failed", "endpointId", "event", "body");
        await expectLaunchError(q.addDelivery(newDelivery({ url: null })), "validation_failed", "url");
        expect(await q.getDelivery(bad.id)).toBeUndefined();
      });
    });
  });
}
