import { isLaunchError, newId } from "@launch/protocol";
import { describe, expect, it } from "vitest";
import { MemoryCallbackOutbox } from "./memory-outbox.js";
import type { ClaimedDelivery, NewAttempt, NewDelivery } from "./port.js";

const START = Date.UTC(2031, 0, 1);

function setup() {
  let time = START;
  const outbox = new MemoryCallbackOutbox({ clock: () => time });
  const advance = (ms: number) => {
    time += ms;
    return time;
  };
  const delivery = (overrides: Partial<NewDelivery> = {}): NewDelivery => ({
    id: newId("delivery"),
    taskId: null,
    endpointId: "end_a",
    owner: "team_1",
    event: "succeeded",
    url: "https://receiver.test/hook",
    auth: null,
    body: '{"task_id":null,"result":1}',
    status: "pending",
    createdAt: time,
    ...overrides,
  });
  const attempt = (outcome: NewAttempt["outcome"], nextAttemptAt: number | null = null): NewAttempt => ({
    startedAt: time,
    url: "https://receiver.test/hook",
    statusCode: outcome === "delivered" ? 200 : 503,
    errorClass: outcome === "delivered" ? null : "http_503",
    errorMessage: outcome === "delivered" ? null : "the receiver answered 503",
    latencyMs: 3,
    outcome,
    nextAttemptAt,
  });
  const claimOne = async (): Promise<ClaimedDelivery> => {
    const [claimed] = await outbox.claimDue(1, 30_000);
    if (!claimed) throw new Error("expected a due delivery");
    return claimed;
  };
  return { outbox, advance, delivery, attempt, claimOne, now: () => time };
}

describe("MemoryCallbackOutbox", () => {
  it("claims due deliveries oldest first, once per live claim, and again after the claim expires", async () => {
    const { outbox, advance, delivery } = setup();
    const late = await outbox.addDelivery(delivery({ createdAt: START + 20 }));
    const early = await outbox.addDelivery(delivery({ createdAt: START + 10 }));
    await outbox.addDelivery(delivery({ createdAt: START + 5_000 }));
    advance(20);
    const claimed = await outbox.claimDue(10, 1_000);
    expect(claimed.map((d) => d.id)).toEqual([early.id, late.id]);
    expect(new Set(claimed.map((d) => d.claimToken)).size).toBe(2);
    expect(await outbox.claimDue(10, 1_000)).toEqual([]);
    advance(1_000);
    expect((await outbox.claimDue(1, 1_000)).map((d) => d.id)).toEqual([early.id]);
  });

  it("records attempts, numbering them, and moves the delivery: retry, then delivered", async () => {
    const { outbox, advance, delivery, attempt, claimOne, now } = setup();
    const d = await outbox.addDelivery(delivery());
    const first = await claimOne();
    expect(await outbox.recordAttempt(d.id, first.claimToken, attempt("retry", now() + 500))).toBe(true);
    expect(await outbox.getDelivery(d.id)).toMatchObject({
      status: "pending",
      attempts: 1,
      nextAttemptAt: START + 500,
      lastError: "the receiver answered 503",
      lastStatusCode: 503,
    });
    expect(await outbox.claimDue(1, 1_000)).toEqual([]);
    advance(500);
    const second = await claimOne();
    // The old token no longer proves a claim.
    expect(await outbox.recordAttempt(d.id, first.claimToken, attempt("delivered"))).toBe(false);
    expect(await outbox.recordAttempt(d.id, second.claimToken, attempt("delivered"))).toBe(true);
    expect(await outbox.getDelivery(d.id)).toMatchObject({
      status: "delivered",
      attempts: 2,
      lastError: null,
    });
    expect((await outbox.listAttempts(d.id)).map((a) => [a.n, a.outcome, a.deliveryId])).toEqual([
      [1, "retry", d.id],
      [2, "delivered", d.id],
    ]);
    expect(await outbox.recordAttempt(d.id, second.claimToken, attempt("delivered"))).toBe(false);
  });

  it("gives a claim back: claimable at once, the old token then records nothing", async () => {
    const { outbox, delivery, attempt, claimOne } = setup();
    const d = await outbox.addDelivery(delivery());
    const claimed = await claimOne();
    const woken = outbox.waitForDue(3_600_000);
    expect(await outbox.releaseClaim(d.id, claimed.claimToken)).toBe(true);
    expect(await woken).toBe(true);
    expect(await outbox.releaseClaim(d.id, claimed.claimToken)).toBe(false);
    expect(await outbox.getDelivery(d.id)).toMatchObject({ status: "pending", attempts: 0 });
    const again = await claimOne();
    expect(again.id).toBe(d.id);
    expect(await outbox.recordAttempt(d.id, claimed.claimToken, attempt("delivered"))).toBe(false);
    expect(await outbox.releaseClaim("dlv_unknown", again.claimToken)).toBe(false);
    expect(await outbox.recordAttempt(d.id, again.claimToken, attempt("delivered"))).toBe(true);
    expect(await outbox.releaseClaim(d.id, again.claimToken)).toBe(false);
  });

  it("replays dead letters, refuses skipped ones, and lists newest first", async () => {
    const { outbox, delivery, attempt, claimOne } = setup();
    const dead = await outbox.addDelivery(delivery());
    const skipped = await outbox.addDelivery(
      delivery({ status: "skipped", url: null, note: "no callback URL" }),
    );
    const claimed = await claimOne();
    await outbox.recordAttempt(dead.id, claimed.claimToken, attempt("failed"));
    expect((await outbox.listDeliveries({ endpointId: "end_a", status: "failed" })).map((d) => d.id)).toEqual(
      [dead.id],
    );
    expect((await outbox.listDeliveries({ endpointId: "end_a" })).map((d) => d.id)).toEqual([
      skipped.id,
      dead.id,
    ]);
    expect(await outbox.replayFailed("end_a")).toBe(1);
    expect(await outbox.getDelivery(dead.id)).toMatchObject({ status: "pending", attempts: 1 });
    const error = await outbox.replay(skipped.id).catch((e: unknown) => e);
    expect(isLaunchError(error) && error.code).toBe("bad_request");
    expect(await outbox.replay("dlv_unknown")).toBeUndefined();
  });

  it("checks input like every adapter: a used id is a conflict, bad fields are named", async () => {
    const { outbox, delivery } = setup();
    const d = delivery();
    await outbox.addDelivery(d);
    await expect(outbox.addDelivery(d)).rejects.toMatchObject({ code: "conflict" });
    await expect(outbox.addDelivery(delivery({ url: null }))).rejects.toMatchObject({
      code: "validation_failed",
    });
    await expect(outbox.claimDue(0, 1_000)).rejects.toThrow(/max must be an integer/);
  });

  it("waitForDue: at once when due, woken by an add, at a retry's time, false on abort or close", async () => {
    const { outbox, delivery, attempt, claimOne, now } = setup();
    expect(await outbox.waitForDue(10)).toBe(false);
    const woken = outbox.waitForDue(3_600_000);
    const d = await outbox.addDelivery(delivery());
    expect(await woken).toBe(true);
    expect(await outbox.waitForDue(3_600_000)).toBe(true);
    const claimed = await claimOne();
    await outbox.recordAttempt(d.id, claimed.claimToken, attempt("retry", now() + 30));
    // The clock is frozen, so "due" is judged against the real timer: the wait ends after 30 ms.
    expect(await outbox.waitForDue(3_600_000)).toBe(true);
    const controller = new AbortController();
    const aborted = outbox.waitForDue(3_600_000, controller.signal);
    controller.abort();
    expect(await aborted).toBe(false);
    const closing = new MemoryCallbackOutbox();
    const pending = closing.waitForDue(3_600_000);
    closing.close();
    expect(await pending).toBe(false);
  });
});
