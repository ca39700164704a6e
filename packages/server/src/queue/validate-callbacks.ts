/**
 * Input checks of the callback outbox port (`callbacks/port.ts`), shared by every adapter that implements
 * it, so bad input gets the same `validation_failed` LaunchError (naming each field) before anything is
 * written. Sealed credentials are never echoed in a message.
 */
import { CALLBACK_EVENTS, type CallbackEvent, type ValidationIssue } from "@launch/protocol";
import {
  type CallbackSpec,
  DELIVERY_STATUSES,
  type DeliveryListQuery,
  type NewAttempt,
  type NewDelivery,
} from "../callbacks/port.js";
import { issue, raise, show } from "./issues.js";

type Loc = (string | number)[];

const OUTCOMES = ["delivered", "retry", "failed"] as const;
const isText = (v: unknown): v is string => typeof v === "string" && v.length > 0;
const isTime = (v: unknown): v is number => Number.isSafeInteger(v);
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 1;

/**
 * Checks a task's callback spec (adding issues under `loc`) and returns it as JSON text, or undefined
 * when it is malformed.
 *
 * @example const json = checkCallbackSpec(task.callback, ["task", "callback"], issues);
 */
export function checkCallbackSpec(
  spec: CallbackSpec,
  loc: Loc,
  issues: ValidationIssue[],
): string | undefined {
  const before = issues.length;
  if (typeof spec !== "object" || spec === null) {
    issues.push(issue(loc, `callback must be an object { url, auth, events } or null, got ${show(spec)}`));
    return undefined;
  }
  checkUrl(spec.url, [...loc, "url"], issues);
  checkAuth(spec.auth, [...loc, "auth"], issues);
  checkEvents(spec.events, [...loc, "events"], issues);
  if (issues.length > before) return undefined;
  return JSON.stringify({ url: spec.url, auth: spec.auth, events: spec.events });
}

/** Checks a delivery given to `addDelivery`. */
export function checkNewDelivery(delivery: NewDelivery): void {
  const issues: ValidationIssue[] = [];
  const loc = (field: string): Loc => ["delivery", field];
  for (const field of ["id", "endpointId", "owner"] as const) {
    if (!isText(delivery[field])) {
      issues.push(issue(loc(field), `${field} must be a non-empty string, got ${show(delivery[field])}`));
    }
  }
  if (delivery.taskId !== null && !isText(delivery.taskId)) {
    issues.push(issue(loc("taskId"), `taskId must be a task id or null, got ${show(delivery.taskId)}`));
  }
  if (!CALLBACK_EVENTS.includes(delivery.event)) {
    issues.push(
      issue(loc("event"), `event must be one of ${CALLBACK_EVENTS.join(", ")}, got ${show(delivery.event)}`),
    );
  }
  checkUrl(delivery.url, loc("url"), issues);
  checkAuth(delivery.auth, loc("auth"), issues);
  if (typeof delivery.body !== "string" || !isJson(delivery.body)) {
    issues.push(issue(loc("body"), "body must be JSON text (the exact bytes to POST)"));
  }
  if (delivery.status !== "pending" && delivery.status !== "skipped") {
    issues.push(issue(loc("status"), `status must be pending or skipped, got ${show(delivery.status)}`));
  } else if (delivery.status === "pending" && delivery.url === null) {
    issues.push(
      issue(loc("url"), "a pending delivery needs a url; without one, add it as skipped with a note"),
    );
  }
  if (delivery.note != null && typeof delivery.note !== "string") {
    issues.push(issue(loc("note"), `note must be a string or null, got ${show(delivery.note)}`));
  }
  if (!isTime(delivery.createdAt)) {
    issues.push(
      issue(
        loc("createdAt"),
        `createdAt must be integer epoch milliseconds, got ${show(delivery.createdAt)}`,
      ),
    );
  }
  raise(issues);
}

/** Checks an attempt given to `recordAttempt`. */
export function checkAttempt(attempt: NewAttempt): void {
  const issues: ValidationIssue[] = [];
  const loc = (field: string): Loc => ["attempt", field];
  if (!isTime(attempt.startedAt)) {
    issues.push(
      issue(loc("startedAt"), `startedAt must be integer epoch milliseconds, got ${show(attempt.startedAt)}`),
    );
  }
  if (!isText(attempt.url))
    issues.push(issue(loc("url"), `url must be a non-empty string, got ${show(attempt.url)}`));
  if (attempt.statusCode !== null && !Number.isInteger(attempt.statusCode)) {
    issues.push(
      issue(loc("statusCode"), `statusCode must be an integer or null, got ${show(attempt.statusCode)}`),
    );
  }
  for (const field of ["errorClass", "errorMessage"] as const) {
    if (attempt[field] !== null && typeof attempt[field] !== "string") {
      issues.push(issue(loc(field), `${field} must be a string or null, got ${show(attempt[field])}`));
    }
  }
  if (
    typeof attempt.latencyMs !== "number" ||
    !(attempt.latencyMs >= 0) ||
    !Number.isFinite(attempt.latencyMs)
  ) {
    issues.push(issue(loc("latencyMs"), `latencyMs must be a number ≥ 0, got ${show(attempt.latencyMs)}`));
  }
  if (!OUTCOMES.includes(attempt.outcome)) {
    issues.push(
      issue(loc("outcome"), `outcome must be one of ${OUTCOMES.join(", ")}, got ${show(attempt.outcome)}`),
    );
  }
  if (
    attempt.outcome === "retry"
      ? !isTime(attempt.nextAttemptAt)
      : attempt.nextAttemptAt !== null && !isTime(attempt.nextAttemptAt)
  ) {
    issues.push(
      issue(
        loc("nextAttemptAt"),
        `nextAttemptAt must be integer epoch milliseconds${attempt.outcome === "retry" ? " (required to retry)" : " or null"}, got ${show(attempt.nextAttemptAt)}`,
      ),
    );
  }
  raise(issues);
}

/** Checks the arguments of `claimDue`. */
export function checkClaim(max: number, claimMs: number, now: number): void {
  const issues: ValidationIssue[] = [];
  if (!isCount(max)) issues.push(issue(["max"], `max must be an integer ≥ 1, got ${show(max)}`));
  if (!isCount(claimMs)) {
    issues.push(
      issue(["claimMs"], `claimMs must be an integer number of milliseconds ≥ 1, got ${show(claimMs)}`),
    );
  }
  if (!isTime(now)) issues.push(issue(["now"], `now must be integer epoch milliseconds, got ${show(now)}`));
  raise(issues);
}

/** Checks a `now` argument (replays). */
export function checkNow(now: number): void {
  if (!isTime(now)) raise([issue(["now"], `now must be integer epoch milliseconds, got ${show(now)}`)]);
}

/** Checks a `listDeliveries` query. */
export function checkListQuery(query: DeliveryListQuery): void {
  const issues: ValidationIssue[] = [];
  if (!isText(query.endpointId)) {
    issues.push(
      issue(["query", "endpointId"], `endpointId must be a non-empty string, got ${show(query.endpointId)}`),
    );
  }
  if (query.status !== undefined && !DELIVERY_STATUSES.includes(query.status)) {
    issues.push(
      issue(
        ["query", "status"],
        `status must be one of ${DELIVERY_STATUSES.join(", ")}, got ${show(query.status)}`,
      ),
    );
  }
  if (query.limit !== undefined && !isCount(query.limit)) {
    issues.push(issue(["query", "limit"], `limit must be an integer ≥ 1, got ${show(query.limit)}`));
  }
  if (query.before !== undefined && !isText(query.before)) {
    issues.push(issue(["query", "before"], `before must be a delivery id, got ${show(query.before)}`));
  }
  raise(issues);
}

function checkUrl(url: unknown, loc: Loc, issues: ValidationIssue[]): void {
  if (url !== null && !isText(url))
    issues.push(issue(loc, `url must be a non-empty string or null, got ${show(url)}`));
}

function checkAuth(auth: unknown, loc: Loc, issues: ValidationIssue[]): void {
  if (auth === null) return;
  // Never show the value: it holds sealed credentials.
  const a = auth as { kind?: unknown; username?: unknown; sealed?: unknown } | undefined;
  const ok =
    typeof a === "object" &&
    isText(a.sealed) &&
    (a.kind === "mtls" || (a.kind === "basic" && typeof a.username === "string"));
  if (!ok) {
    issues.push(
      issue(
        loc,
        'auth must be null, { kind: "basic", username, sealed } or { kind: "mtls", sealed } (sealed credentials)',
      ),
    );
  }
}

function checkEvents(events: unknown, loc: Loc, issues: ValidationIssue[]): void {
  const known = (e: unknown): e is CallbackEvent => CALLBACK_EVENTS.includes(e as CallbackEvent);
  if (!Array.isArray(events) || !events.every(known)) {
    issues.push(issue(loc, `events must be a list of ${CALLBACK_EVENTS.join(", ")}, got ${show(events)}`));
  }
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
