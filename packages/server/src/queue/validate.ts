/**
 * Input checks shared by every queue adapter, so bad input gets the same `validation_failed` LaunchError
 * (naming each field and what was expected) whatever the backend, before anything is written.
 */
import type { ValidationIssue } from "@launch/protocol";
import { issue, raise, show } from "./issues.js";
import type { FailOptions, LeaseRequest, NewTask, TaskError, TaskResult } from "./port.js";
import { checkCallbackSpec } from "./validate-callbacks.js";

const isText = (v: unknown): v is string => typeof v === "string" && v.length > 0;
const isCount = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 1;
const isTime = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

/** A task's columns serialized once: the payload, and the callback spec (null when it has none). */
export interface CheckedTask {
  payloadJson: string;
  callbackJson: string | null;
}

/**
 * Checks a task and returns its payload and callback spec as JSON text (serialized once, here).
 *
 * @example const { payloadJson, callbackJson } = checkNewTask(task);
 */
export function checkNewTask(task: NewTask): CheckedTask {
  const issues: ValidationIssue[] = [];
  for (const field of ["id", "queue", "owner", "createdBy"] as const) {
    if (!isText(task[field])) {
      issues.push(issue(["task", field], `${field} must be a non-empty string, got ${show(task[field])}`));
    }
  }
  if (!isCount(task.maxAttempts)) {
    issues.push(
      issue(["task", "maxAttempts"], `maxAttempts must be an integer ≥ 1, got ${show(task.maxAttempts)}`),
    );
  }
  if (task.expiresAt !== null && !isTime(task.expiresAt)) {
    issues.push(
      issue(
        ["task", "expiresAt"],
        `expiresAt must be epoch milliseconds or null, got ${show(task.expiresAt)}`,
      ),
    );
  }
  const payloadJson = serialize(task.payload, ["task", "payload"], issues);
  const callback = task.callback;
  const callbackJson = callback == null ? null : checkCallbackSpec(callback, ["task", "callback"], issues);
  raise(issues);
  return { payloadJson: payloadJson as string, callbackJson: callbackJson ?? null };
}

/** Checks a lease request. */
export function checkLeaseRequest(request: LeaseRequest): void {
  const issues: ValidationIssue[] = [];
  if (!isText(request.queue)) issues.push(issue(["lease", "queue"], "queue must be a non-empty string"));
  if (!isText(request.workerId))
    issues.push(issue(["lease", "workerId"], "workerId must be a non-empty string"));
  if (!isCount(request.max)) {
    issues.push(issue(["lease", "max"], `max must be an integer ≥ 1, got ${show(request.max)}`));
  }
  checkLeaseMs(request.leaseMs, ["lease", "leaseMs"], issues);
  raise(issues);
}

/** Checks a lease time (for `extendLease`). */
export function checkLeaseTime(leaseMs: number): void {
  const issues: ValidationIssue[] = [];
  checkLeaseMs(leaseMs, ["leaseMs"], issues);
  raise(issues);
}

/** Checks a result and returns its output as JSON text. */
export function checkResult(result: TaskResult): string {
  const issues: ValidationIssue[] = [];
  if (!Number.isInteger(result.statusCode)) {
    issues.push(
      issue(["result", "statusCode"], `statusCode must be an integer, got ${show(result.statusCode)}`),
    );
  }
  const outputJson = serialize(result.output, ["result", "output"], issues);
  raise(issues);
  return outputJson as string;
}

/** Checks a failure. */
export function checkError(error: TaskError, options: FailOptions): void {
  const issues: ValidationIssue[] = [];
  if (typeof error.message !== "string") issues.push(issue(["error", "message"], "message must be a string"));
  if (error.traceback !== null && typeof error.traceback !== "string") {
    issues.push(issue(["error", "traceback"], "traceback must be a string or null"));
  }
  if (error.statusCode !== null && !Number.isInteger(error.statusCode)) {
    issues.push(issue(["error", "statusCode"], "statusCode must be an integer or null"));
  }
  if (typeof options?.retry !== "boolean")
    issues.push(issue(["options", "retry"], "retry must be a boolean"));
  raise(issues);
}

function checkLeaseMs(value: unknown, loc: string[], issues: ValidationIssue[]): void {
  if (!Number.isInteger(value) || (value as number) < 1) {
    issues.push(issue(loc, `leaseMs must be an integer number of milliseconds ≥ 1, got ${show(value)}`));
  }
}

function serialize(value: unknown, loc: string[], issues: ValidationIssue[]): string | undefined {
  try {
    const json = JSON.stringify(value);
    if (json === undefined) issues.push(issue(loc, `${loc.at(-1)} must be a JSON value, got ${show(value)}`));
    return json;
  } catch (error) {
    issues.push(issue(loc, `${loc.at(-1)} must be a JSON value: ${(error as Error).message}`));
    return undefined;
  }
}
