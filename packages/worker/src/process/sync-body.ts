/**
 * The body of a sync response and of one streaming event (`wire-protocol.md` §5), as compact JSON with
 * the keys in the reference's order: `status`, `result`, `traceback`, `status_code`, plus `error` [ext]
 * on failures.
 */
import type { PredictOutcome } from "../runtimes/port.js";

/**
 * `{"status":"SUCCESS","result":{"result":<output>},"traceback":null,"status_code":<code>}`, or for a
 * failure `{"status":"FAILURE","result":null,"traceback":"…","status_code":<code or null>,"error":"…"}`.
 * A failure without a traceback carries its message as the traceback, the only field the reference
 * clients show.
 *
 * @example syncResponseBody({ ok: true, output: 7, statusCode: 200 }) // '{"status":"SUCCESS","result":{"result":7},"traceback":null,"status_code":200}'
 */
export function syncResponseBody(outcome: PredictOutcome): string {
  if (outcome.ok) {
    const output = JSON.stringify(outcome.output) ?? "null";
    return `{"status":"SUCCESS","result":{"result":${output}},"traceback":null,"status_code":${outcome.statusCode}}`;
  }
  return JSON.stringify({
    status: "FAILURE",
    result: null,
    traceback: outcome.traceback ?? outcome.error,
    status_code: outcome.statusCode,
    error: outcome.error,
  });
}
