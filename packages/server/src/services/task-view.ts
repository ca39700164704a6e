/**
 * The `GET /v1/async-tasks/{task_id}` answer (`wire-protocol.md` §5), exactly:
 * - PENDING (queued, or STARTED: being run by a worker, which the wire shows as PENDING like the
 *   reference): `result`, `traceback`, `status_code` all null (a failed attempt being retried shows as
 *   PENDING, without its error);
 * - SUCCESS: `result` is `{"result": <output>}` (`{"result_url": "s3://…"}` for a `return_pickled` task),
 *   `traceback` null, `status_code` the model's status;
 * - FAILURE: `result` is the error message (a string), `traceback` its text or null, `status_code` as
 *   known or null;
 * - UNDEFINED (expired): `result` is the message saying why, `traceback` and `status_code` null.
 *
 * With `results_as_string`, a SUCCESS output is the JSON text Python's `json.dumps` would write.
 */
import type { TaskResponse } from "@launch/protocol";
import { expiredMessage } from "../queue/messages.js";
import type { TaskRecord } from "../queue/port.js";
import { pythonJsonDumps } from "./python-json.js";

export interface TaskViewOptions {
  /** The server's `results_as_string` setting. */
  resultsAsString: boolean;
}

/**
 * The wire view of a task.
 *
 * @example taskView(record, { resultsAsString: false })
 * // { task_id: "tsk_…", status: "SUCCESS", result: { result: 7 }, traceback: null, status_code: 200 }
 */
export function taskView(record: TaskRecord, options: TaskViewOptions): TaskResponse {
  const view: TaskResponse = {
    task_id: record.id,
    // A task a worker is running reads PENDING, as on the reference server (its Celery apps do not
    // track STARTED): the Python client's future raises on any status it does not know.
    status: record.status === "STARTED" ? "PENDING" : record.status,
    result: null,
    traceback: null,
    status_code: null,
  };
  switch (record.status) {
    case "SUCCESS":
      view.result = record.result?.resultUrl
        ? { result_url: record.result.resultUrl }
        : { result: outputView(record.result?.output ?? null, options) };
      view.status_code = record.result?.statusCode ?? 200;
      break;
    case "FAILURE":
      view.result = record.error?.message ?? "the task failed";
      view.traceback = record.error?.traceback ?? null;
      view.status_code = record.error?.statusCode ?? null;
      break;
    case "UNDEFINED":
      view.result = record.error?.message ?? expiredMessage();
      break;
  }
  return view;
}

/** A non-streaming model output as the client sees it: the value, or its Python JSON text. */
export function outputView(output: unknown, options: TaskViewOptions): unknown {
  return options.resultsAsString ? pythonJsonDumps(output) : output;
}
