/**
 * How a model's answer to one predict becomes the sync response (`wire-protocol.md` §5), shared by the
 * worker (which answers the gateway with it) and the gateway (which, for runnable images, calls the
 * model's own HTTP server directly and must answer the very same bytes). No I/O here.
 *
 * - `modelReplyOutcome`: a runnable image's reply to `POST predict_route` (`bundles.md` §2): parsed as
 *   JSON whatever its HTTP status, which becomes `status_code`; a reply that is not JSON fails the task.
 * - `syncResponseBody`: an outcome as the sync response text, keys in the reference's order.
 */

/**
 * How one predict ended. `statusCode` is the model's HTTP status (200 for in-process runtimes); on
 * failure it is known only when the model answered.
 */
export type PredictOutcome =
  | { ok: true; output: unknown; statusCode: number; pickled?: string }
  | { ok: false; error: string; traceback: string | null; statusCode: number | null };

/**
 * The outcome of a model server's reply `text` with HTTP `statusCode` to `POST <route>`.
 *
 * @example modelReplyOutcome("7", 200, "/predict") // { ok: true, output: 7, statusCode: 200 }
 */
export function modelReplyOutcome(text: string, statusCode: number, route: string): PredictOutcome {
  try {
    return { ok: true, output: JSON.parse(text), statusCode };
  } catch {
    const shown =
      text.length === 0 ? "an empty body" : `a body that is not JSON: ${JSON.stringify(text.slice(0, 200))}`;
    return {
      ok: false,
      error: `The model server answered POST ${route} with ${statusCode} and ${shown}.`,
      traceback: null,
      statusCode,
    };
  }
}

/**
 * `{"status":"SUCCESS","result":{"result":<output>},"traceback":null,"status_code":<code>}`, or for a
 * failure `{"status":"FAILURE","result":null,"traceback":"…","status_code":<code or null>,"error":"…"}`
 * [ext: `error`]. A failure without a traceback carries its message as the traceback, the only field the
 * reference clients show. Compact JSON.
 *
 * @example syncResponseBody({ ok: true, output: 7, statusCode: 200 }) // '{"status":"SUCCESS","result":{"result":7},"traceback":null,"status_code":200}'
 */
export function syncResponseBody(outcome: PredictOutcome): string {
  if (outcome.ok && outcome.pickled !== undefined) {
    // `return_pickled`: an internal shape between worker and gateway, which stores the pickle.
    return `{"status":"SUCCESS","result":{"result_pickle":${JSON.stringify(outcome.pickled)}},"traceback":null,"status_code":${outcome.statusCode}}`;
  }
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
