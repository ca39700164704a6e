/** Small helpers the queue's input checks share, so every message has the same shape. */
import { LaunchError, type ValidationIssue } from "@launch/protocol";

/** A `value_error` issue at `loc`. */
export function issue(loc: (string | number)[], msg: string): ValidationIssue {
  return { loc, msg, type: "value_error" };
}

/** Throws one `validation_failed` LaunchError naming every issue, if there is any. */
export function raise(issues: ValidationIssue[]): void {
  if (issues.length > 0) throw LaunchError.validation(issues);
}

/**
 * A value as it appears in a message.
 *
 * @example show(undefined) // "nothing"
 */
export function show(value: unknown): string {
  if (value === undefined) return "nothing";
  if (typeof value === "function" || typeof value === "symbol") return typeof value;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
