/**
 * What an attempt's result means for its delivery (`callbacks.md` §3), as pure functions:
 *
 * - any 2xx: delivered;
 * - network errors, timeouts, TLS and DNS failures, 408, 429 and 5xx: retried, after a delay drawn with
 *   full jitter from [0, step) where step is the schedule's entry for this retry; 429 and 503 with a
 *   `Retry-After` (seconds or an HTTP date) wait exactly that long instead, capped at the schedule's
 *   largest step;
 * - other 4xx (410 included), 3xx (redirects are never followed, and retrying would get the same
 *   redirect: the URL needs fixing), other statuses, and a refused address: a permanent failure;
 * - a retryable failure after the last step of the schedule: failed (a dead letter).
 */
import { LaunchError } from "@launch/protocol";

/** The default schedule: seconds of the largest delay before each retry; spans about a day (27.5 h at most). */
export const DEFAULT_RETRY_SCHEDULE = "5,30,120,600,1800,3600,7200,14400,28800,43200";

/**
 * Parses `callbackRetrySchedule`: comma-separated seconds (> 0, fractions allowed) of the largest delay
 * before each retry. Empty means no retries. Bad input is a `validation_failed` LaunchError naming the
 * setting.
 *
 * @example parseRetrySchedule("5,30,120") // [5000, 30000, 120000]
 */
export function parseRetrySchedule(text: string): number[] {
  const parts = text
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part !== "");
  return parts.map((part, i) => {
    const seconds = /^\d+(\.\d+)?$/.test(part) ? Number(part) : Number.NaN;
    if (!(seconds > 0)) {
      throw LaunchError.validation([
        {
          loc: ["env", "LAUNCH_CALLBACK_RETRY_SCHEDULE"],
          msg: `LAUNCH_CALLBACK_RETRY_SCHEDULE entry ${i + 1} is ${JSON.stringify(part)}; expected a number of seconds greater than 0 (e.g. "5,30,120")`,
          type: "value_error",
        },
      ]);
    }
    return Math.round(seconds * 1000);
  });
}

/** How an HTTP status is judged. */
export type StatusVerdict = "delivered" | "retry" | "permanent";

/** 2xx delivered; 408, 429 and 5xx retried; everything else (3xx, other 4xx, 410) permanent. */
export function classifyStatus(status: number): StatusVerdict {
  if (status >= 200 && status < 300) return "delivered";
  if (status === 408 || status === 429 || (status >= 500 && status < 600)) return "retry";
  return "permanent";
}

/**
 * The delay a `Retry-After` header asks for, in ms (never negative): delta seconds or an HTTP date
 * relative to `now`. Undefined when absent or unreadable.
 *
 * @example parseRetryAfter("120", Date.now()) // 120000
 */
export function parseRetryAfter(value: string | null | undefined, now: number): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  if (!/[a-z]/i.test(text)) return undefined;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** The result of one attempt, as far as the retry policy cares. */
export type AttemptResult =
  | { kind: "response"; status: number; retryAfter?: string | null | undefined }
  | { kind: "error"; retryable: boolean };

/** What happens to the delivery next. */
export type NextStep =
  | { outcome: "delivered" }
  | { outcome: "retry"; delayMs: number; nextAttemptAt: number }
  | { outcome: "failed"; why: "permanent" | "exhausted" };

export interface NextStepInput {
  result: AttemptResult;
  /** Retries already made in this run of the schedule (0 after the first attempt fails). */
  retriesSoFar: number;
  /** Largest delay before each retry, ms ({@link parseRetrySchedule}). */
  scheduleMs: readonly number[];
  now: number;
  /** Uniform in [0, 1); `Math.random` in production, a seeded generator in tests. */
  random: () => number;
}

/**
 * Decides the delivery's next state after an attempt.
 *
 * @example nextStep({ result: { kind: "response", status: 503 }, retriesSoFar: 0, scheduleMs: [5000], now, random: Math.random })
 * // { outcome: "retry", delayMs: <0..4999>, nextAttemptAt: now + delayMs }
 */
export function nextStep(input: NextStepInput): NextStep {
  const { result, retriesSoFar, scheduleMs, now } = input;
  if (result.kind === "response") {
    const verdict = classifyStatus(result.status);
    if (verdict === "delivered") return { outcome: "delivered" };
    if (verdict === "permanent") return { outcome: "failed", why: "permanent" };
  } else if (!result.retryable) {
    return { outcome: "failed", why: "permanent" };
  }
  const step = scheduleMs[retriesSoFar];
  if (step === undefined) return { outcome: "failed", why: "exhausted" };
  let delayMs = Math.floor(input.random() * step);
  if (result.kind === "response" && (result.status === 429 || result.status === 503)) {
    const asked = parseRetryAfter(result.retryAfter, now);
    if (asked !== undefined) delayMs = Math.min(asked, Math.max(...scheduleMs));
  }
  return { outcome: "retry", delayMs, nextAttemptAt: now + delayMs };
}
