import { describe, expect, it } from "vitest";
import {
  classifyStatus,
  DEFAULT_RETRY_SCHEDULE,
  type NextStepInput,
  nextStep,
  parseRetryAfter,
  parseRetrySchedule,
} from "./retry-policy.js";

/** mulberry32: a small seeded generator, so jittered delays are reproducible. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NOW = Date.UTC(2025, 0, 1, 12, 0, 0);
const SCHEDULE = [1_000, 10_000, 60_000];
const step = (result: NextStepInput["result"], retriesSoFar = 0, random: () => number = () => 0.5) =>
  nextStep({ result, retriesSoFar, scheduleMs: SCHEDULE, now: NOW, random });

describe("parseRetrySchedule", () => {
  it("reads seconds into milliseconds; the default spans about a day", () => {
    expect(parseRetrySchedule("5, 30,120 ,0.25")).toEqual([5_000, 30_000, 120_000, 250]);
    const total = parseRetrySchedule(DEFAULT_RETRY_SCHEDULE).reduce((a, b) => a + b, 0);
    expect(total / 3_600_000).toBeGreaterThan(20);
    expect(total / 3_600_000).toBeLessThan(30);
    expect(parseRetrySchedule("")).toEqual([]);
  });

  it("names the setting and the bad entry", () => {
    expect(() => parseRetrySchedule("5,soon,10")).toThrow(
      /LAUNCH_CALLBACK_RETRY_SCHEDULE entry 2 is "soon"; expected a number of seconds greater than 0/,
    );
    expect(() => parseRetrySchedule("0")).toThrow(/entry 1 is "0"/);
    expect(() => parseRetrySchedule("-1")).toThrow(/entry 1/);
  });
});

describe("classifyStatus", () => {
  it("delivers on any 2xx, retries 408, 429 and 5xx, and gives up on the rest", () => {
    for (const s of [200, 201, 202, 204, 299]) expect(classifyStatus(s)).toBe("delivered");
    for (const s of [408, 429, 500, 502, 503, 504, 599]) expect(classifyStatus(s)).toBe("retry");
    for (const s of [100, 301, 302, 307, 308, 400, 401, 403, 404, 410, 413, 422, 600]) {
      expect(classifyStatus(s)).toBe("permanent");
    }
  });
});

describe("parseRetryAfter", () => {
  it("reads delta seconds and HTTP dates", () => {
    expect(parseRetryAfter("1", NOW)).toBe(1_000);
    expect(parseRetryAfter(" 120 ", NOW)).toBe(120_000);
    expect(parseRetryAfter(new Date(NOW + 30_000).toUTCString(), NOW)).toBe(30_000);
    expect(parseRetryAfter(new Date(NOW - 30_000).toUTCString(), NOW)).toBe(0);
  });

  it("ignores what it cannot read", () => {
    for (const v of [undefined, null, "", "-5", "1.5", "soon", "12abc"])
      expect(parseRetryAfter(v, NOW)).toBeUndefined();
  });
});

describe("nextStep", () => {
  it("delivers on 2xx", () => {
    expect(step({ kind: "response", status: 204 })).toEqual({ outcome: "delivered" });
  });

  it("draws each delay with full jitter below that retry's step, reproducibly", () => {
    const draw = (seed: number) => {
      const random = seeded(seed);
      return SCHEDULE.map((_, i) => step({ kind: "error", retryable: true }, i, random));
    };
    const first = draw(42);
    expect(draw(42)).toEqual(first);
    first.forEach((result, i) => {
      if (result.outcome !== "retry") throw new Error("expected a retry");
      expect(result.delayMs).toBeGreaterThanOrEqual(0);
      expect(result.delayMs).toBeLessThan(SCHEDULE[i]!);
      expect(result.nextAttemptAt).toBe(NOW + result.delayMs);
    });
    // Full jitter covers the whole range: the extremes of the generator map to the extremes of the step.
    expect(step({ kind: "error", retryable: true }, 1, () => 0)).toMatchObject({ delayMs: 0 });
    expect(step({ kind: "error", retryable: true }, 1, () => 0.999999)).toMatchObject({ delayMs: 9_999 });
    // Many draws spread over the step.
    const random = seeded(7);
    const delays = Array.from({ length: 1000 }, () => {
      const r = step({ kind: "response", status: 500 }, 2, random);
      return r.outcome === "retry" ? r.delayMs : -1;
    });
    expect(Math.min(...delays)).toBeLessThan(6_000);
    expect(Math.max(...delays)).toBeGreaterThan(54_000);
  });

  it("fails the delivery once the schedule is spent", () => {
    expect(step({ kind: "response", status: 503 }, 3)).toEqual({ outcome: "failed", why: "exhausted" });
    expect(step({ kind: "error", retryable: true }, 3)).toEqual({ outcome: "failed", why: "exhausted" });
  });

  it("fails at once on permanent errors: 400, 410, a redirect, a refused address", () => {
    for (const status of [400, 404, 410, 301, 302]) {
      expect(step({ kind: "response", status })).toEqual({ outcome: "failed", why: "permanent" });
    }
    expect(step({ kind: "error", retryable: false })).toEqual({ outcome: "failed", why: "permanent" });
  });

  it("honours Retry-After on 429 and 503, capped at the largest step", () => {
    expect(step({ kind: "response", status: 429, retryAfter: "2" })).toEqual({
      outcome: "retry",
      delayMs: 2_000,
      nextAttemptAt: NOW + 2_000,
    });
    expect(
      step({ kind: "response", status: 503, retryAfter: new Date(NOW + 5_000).toUTCString() }),
    ).toMatchObject({
      delayMs: 5_000,
    });
    expect(step({ kind: "response", status: 429, retryAfter: "86400" })).toMatchObject({ delayMs: 60_000 });
    // Not on other statuses, and not when unreadable: full jitter then.
    expect(step({ kind: "response", status: 500, retryAfter: "30" }, 0, () => 0.5)).toMatchObject({
      delayMs: 500,
    });
    expect(step({ kind: "response", status: 429, retryAfter: "later" }, 0, () => 0.5)).toMatchObject({
      delayMs: 500,
    });
  });
});
