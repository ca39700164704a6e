/**
 * The exact bytes a callback POSTs (`callbacks.md` §3): compact JSON, keys in a fixed order, built once
 * when the delivery is written so that every attempt and replay sends the same body (and signature input).
 *
 * - success: `{"task_id":"<id>","result":<output>}`, the seed document's shape;
 * - failure: `{"task_id":"<id>","status":"FAILURE","result":null,"error":"<message>","traceback":<text or null>}`.
 *
 * `task_id` is null for sync tasks, as the reference server sends.
 */

/**
 * A success body from the model output as JSON text (already serialized, so it is not done twice).
 *
 * @example successBodyFromJson("tsk_01", "7") // '{"task_id":"tsk_01","result":7}'
 */
export function successBodyFromJson(taskId: string | null, outputJson: string): string {
  return `{"task_id":${JSON.stringify(taskId)},"result":${outputJson}}`;
}

/**
 * A success body from the model output (a JSON value; `undefined` is sent as `null`).
 *
 * @example successBody("tsk_01", 7) // '{"task_id":"tsk_01","result":7}'
 */
export function successBody(taskId: string | null, output: unknown): string {
  return successBodyFromJson(taskId, JSON.stringify(output) ?? "null");
}

/**
 * A failure body from the task's error.
 *
 * @example failureBody("tsk_01", { message: "boom", traceback: null })
 * // '{"task_id":"tsk_01","status":"FAILURE","result":null,"error":"boom","traceback":null}'
 */
export function failureBody(
  taskId: string | null,
  error: { message: string; traceback: string | null },
): string {
  return JSON.stringify({
    task_id: taskId,
    status: "FAILURE",
    result: null,
    error: error.message,
    traceback: error.traceback,
  });
}
