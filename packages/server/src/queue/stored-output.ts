/**
 * How a task's result is kept as one text column by queue adapters: the output's JSON text, or, for a
 * `return_pickled` task whose output was pickled and stored as an artifact, `@result_url <location>`.
 * JSON text never starts with `@`, so the two cannot be confused.
 */
import type { TaskResult } from "./port.js";
import { checkResult } from "./validate.js";

const RESULT_URL_PREFIX = "@result_url ";

/** The stored text of a result (validated: a bad output throws a `bad_request` LaunchError). */
export function storedOutput(result: TaskResult): string {
  if (result.resultUrl !== undefined) {
    checkResult({ output: null, statusCode: result.statusCode });
    return `${RESULT_URL_PREFIX}${result.resultUrl}`;
  }
  return checkResult(result);
}

/** A result back from its stored text. */
export function resultFromStored(text: string, statusCode: number): TaskResult {
  if (text.startsWith(RESULT_URL_PREFIX)) {
    return { output: null, statusCode, resultUrl: text.slice(RESULT_URL_PREFIX.length) };
  }
  return { output: JSON.parse(text), statusCode };
}

/**
 * The JSON text a callback carries as `result`: the output, or `{"result_url": …}` for a pickled one
 * (the same object the task's `result` shows).
 */
export function callbackResultJson(stored: string): string {
  return stored.startsWith(RESULT_URL_PREFIX)
    ? JSON.stringify({ result_url: stored.slice(RESULT_URL_PREFIX.length) })
    : stored;
}
