/**
 * The task routes of `wire-protocol.md` §5 as functions over the transport: create and read async
 * tasks (with the `?wait=` long-poll [ext]), run sync tasks, stream streaming tasks, and read an
 * endpoint's worker logs [ext].
 */
import type { SyncPredictRequest, SyncTaskResponse, TaskResponse } from "@launch/protocol";
import { TASK_WAIT_MAX_SECONDS } from "@launch/protocol";
import { ServerError } from "./errors.js";
import type { HttpTransport } from "./http.js";
import { readEventStream } from "./sse.js";
import { type EndpointRequest, type EndpointResponse, responseFromWire } from "./tasks.js";

/** The longest `?wait=` the server honours, in seconds (60). */
export const MAX_WAIT_SECONDS = TASK_WAIT_MAX_SECONDS;
/** Added to a long-poll's or a sync task's own time limit before the HTTP request gives up. */
const NETWORK_MARGIN_MS = 10_000;

/** One line a worker wrote (`GET /v1/model-endpoints/{id}/logs` [ext]). */
export interface EndpointLogLine {
  worker_id: string;
  /** When the worker saw the line (ISO 8601). */
  time: string;
  stream: "stdout" | "stderr";
  line: string;
}

/** `GET /v1/model-endpoints/{id}/logs` response [ext]: recent worker output, oldest first. */
export interface EndpointLogs {
  logs: EndpointLogLine[];
}

export interface GetAsyncTaskOptions {
  /** Long-poll: let the server answer as soon as the task is finished, or after this many seconds (≤ 60). */
  waitSeconds?: number | undefined;
  signal?: AbortSignal | undefined;
}

export interface SyncTaskOptions {
  /** How long the server waits for the model (`timeout_seconds`). The HTTP request waits that long too. */
  timeoutSeconds?: number | undefined;
  /** `num_retries`, as the Python client sends it. */
  numRetries?: number | undefined;
  signal?: AbortSignal | undefined;
}

/**
 * `POST /v1/async-tasks?model_endpoint_id=` → the new task's id.
 *
 * @example const taskId = await createAsyncTask(http, "end_1", request);
 */
export async function createAsyncTask(
  http: HttpTransport,
  endpointId: string,
  request: EndpointRequest,
  signal?: AbortSignal,
): Promise<string> {
  const { task_id: taskId } = await http.request<{ task_id: string }>("POST", "/v1/async-tasks", {
    query: { model_endpoint_id: endpointId },
    body: request.toPredictRequest(),
    signal,
  });
  if (typeof taskId !== "string" || taskId === "") {
    throw new ServerError({
      status: 502,
      code: "internal",
      detail: "The server accepted the task but answered without a task_id.",
      request: "POST /v1/async-tasks",
    });
  }
  return taskId;
}

/**
 * `GET /v1/async-tasks/{id}` (with `?wait=` when `waitSeconds` is given): the task's wire state.
 *
 * @example const task = await getAsyncTask(http, "tsk_1", { waitSeconds: 30 });
 */
export function getAsyncTask(
  http: HttpTransport,
  taskId: string,
  options: GetAsyncTaskOptions = {},
): Promise<TaskResponse> {
  const wait =
    options.waitSeconds === undefined
      ? undefined
      : Math.min(MAX_WAIT_SECONDS, Math.max(0, Math.ceil(options.waitSeconds)));
  return http.request<TaskResponse>("GET", `/v1/async-tasks/${encodeURIComponent(taskId)}`, {
    query: { wait },
    timeoutMs: wait ? Math.max(http.timeoutMs, wait * 1000 + NETWORK_MARGIN_MS) : undefined,
    signal: options.signal,
  });
}

/**
 * `POST /v1/sync-tasks?model_endpoint_id=`: runs the task and returns its outcome.
 *
 * @example const response = await runSyncTask(http, "end_1", request, { timeoutSeconds: 30 });
 */
export async function runSyncTask(
  http: HttpTransport,
  endpointId: string,
  request: EndpointRequest,
  options: SyncTaskOptions = {},
): Promise<EndpointResponse> {
  const raw = await http.request<SyncTaskResponse>("POST", "/v1/sync-tasks", {
    query: { model_endpoint_id: endpointId },
    body: syncBody(request, options),
    timeoutMs: modelTimeoutMs(http, options.timeoutSeconds),
    signal: options.signal,
  });
  return responseFromWire(raw);
}

/**
 * `POST /v1/streaming-tasks?model_endpoint_id=`: the model's events, each yielded as it arrives.
 * Stopping the loop early closes the connection.
 *
 * @example for await (const event of streamTask(http, "end_1", request)) console.log(event.result);
 */
export async function* streamTask(
  http: HttpTransport,
  endpointId: string,
  request: EndpointRequest,
  options: SyncTaskOptions = {},
): AsyncGenerator<EndpointResponse> {
  const label = "POST /v1/streaming-tasks";
  const response = await http.openStream("POST", "/v1/streaming-tasks", {
    query: { model_endpoint_id: endpointId },
    body: syncBody(request, options),
    timeoutMs: modelTimeoutMs(http, options.timeoutSeconds),
    signal: options.signal,
  });
  const type = response.headers.get("content-type") ?? "";
  if (!type.includes("text/event-stream")) {
    // A server that answered one JSON object instead of a stream: that object is the one event.
    const text = await response.text();
    yield responseFromWire(parseEvent(text, label));
    return;
  }
  if (!response.body) return;
  for await (const event of readEventStream(response.body)) {
    yield responseFromWire(parseEvent(event.data, label));
  }
}

/**
 * `GET /v1/model-endpoints/{id}/logs?tail=` [ext]: the endpoint's recent worker output.
 *
 * @example const { logs } = await getEndpointLogs(http, "end_1", 100);
 */
export function getEndpointLogs(
  http: HttpTransport,
  endpointId: string,
  tail: number | undefined,
): Promise<EndpointLogs> {
  return http.request<EndpointLogs>("GET", `/v1/model-endpoints/${encodeURIComponent(endpointId)}/logs`, {
    query: { tail },
  });
}

function syncBody(request: EndpointRequest, options: SyncTaskOptions): SyncPredictRequest {
  const body: SyncPredictRequest = request.toPredictRequest();
  if (options.timeoutSeconds !== undefined) body.timeout_seconds = options.timeoutSeconds;
  if (options.numRetries !== undefined) body.num_retries = options.numRetries;
  return body;
}

/** The HTTP timeout for a request that may wait `timeoutSeconds` for the model. */
function modelTimeoutMs(http: HttpTransport, timeoutSeconds: number | undefined): number | undefined {
  if (timeoutSeconds === undefined) return undefined;
  return Math.max(http.timeoutMs, timeoutSeconds * 1000 + NETWORK_MARGIN_MS);
}

function parseEvent(data: string, label: string): SyncTaskResponse {
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch (error) {
    throw new ServerError({
      status: 502,
      code: "internal",
      detail: `A streaming event is not JSON (expected {"status", "result", ...}): ${data.slice(0, 200)}`,
      request: label,
      cause: error,
    });
  }
  if (
    typeof parsed !== "object" ||
    parsed === null ||
    typeof (parsed as { status?: unknown }).status !== "string"
  ) {
    throw new ServerError({
      status: 502,
      code: "internal",
      detail: `A streaming event has no status (expected {"status", "result", ...}): ${data.slice(0, 200)}`,
      request: label,
    });
  }
  return parsed as SyncTaskResponse;
}
