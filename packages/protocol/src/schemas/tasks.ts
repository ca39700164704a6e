/**
 * JSON schemas of the task routes (`wire-protocol.md` §5) and of `GET /v1/model-endpoints/{id}/logs`
 * [ext]. The gateway validates requests with them and publishes them in `/openapi.json`; the server
 * checks the rest (callback URL and credentials, that some input is given). Unknown body keys are
 * ignored, as the reference server does.
 */
import { CALLBACK_EVENTS } from "../endpoints.js";
import { TASK_STATUSES } from "../tasks.js";
import { type JsonSchema, nullable } from "./common.js";
import { callbackAuthSchema } from "./endpoints.js";

/** Longest `?wait=` of `GET /v1/async-tasks/{id}` [ext], in seconds. */
export const TASK_WAIT_MAX_SECONDS = 60;
/** `timeout_seconds` of a sync or streaming task when the request gives none. */
export const SYNC_TIMEOUT_DEFAULT_SECONDS = 60;
/** Largest `timeout_seconds` a sync or streaming task may ask for. */
export const SYNC_TIMEOUT_MAX_SECONDS = 3600;
/** `num_retries` of a sync or streaming task when the request gives none (connection failures only). */
export const SYNC_RETRIES_DEFAULT = 3;
/** Largest `num_retries`. */
export const SYNC_RETRIES_MAX = 10;
/** Lines `GET /v1/model-endpoints/{id}/logs` returns without `?tail=`, and the most it returns. */
export const LOG_TAIL_DEFAULT = 200;
export const LOG_TAIL_MAX = 2000;

const predictRequestProperties = {
  args: {
    description: "The model's input: any JSON value. Give `args` or `url`.",
  },
  url: {
    type: ["string", "null"],
    description: "A URL of a JSON input for the worker to fetch, instead of `args`.",
  },
  cloudpickle: {
    type: ["string", "null"],
    description: "A base64 cloudpickle input (Python bundles; not accepted yet).",
  },
  return_pickled: {
    type: ["boolean", "null"],
    description: "Return the output pickled, as a `result_url` (Python bundles). Default false.",
  },
  callback_url: {
    type: ["string", "null"],
    description: "Send this task's callback here instead of the endpoint's `default_callback_url`.",
  },
  callback_auth: {
    ...callbackAuthSchema,
    description:
      "Credentials for this task's callback, instead of the endpoint's `default_callback_auth` (even of another kind). Stored encrypted, never returned.",
  },
  callback_events: {
    type: ["array", "null"],
    items: { type: "string", enum: [...CALLBACK_EVENTS] },
    description: "[ext] Task outcomes that send a callback for this task, instead of the endpoint's.",
  },
  destination_path: {
    type: ["string", "null"],
    description: "Accepted for compatibility; ignored.",
  },
} as const satisfies Record<string, JsonSchema>;

/** `PredictRequest`: the body of `POST /v1/async-tasks`. */
export const predictRequestBodySchema = {
  type: "object",
  properties: predictRequestProperties,
} as const satisfies JsonSchema;

/** `PredictRequest` plus `timeout_seconds` and `num_retries`: the body of sync and streaming tasks. */
export const syncPredictRequestBodySchema = {
  type: "object",
  properties: {
    ...predictRequestProperties,
    timeout_seconds: {
      type: ["number", "null"],
      exclusiveMinimum: 0,
      maximum: SYNC_TIMEOUT_MAX_SECONDS,
      description: `Seconds to wait for a worker and its answer (for streaming: its first byte); default ${SYNC_TIMEOUT_DEFAULT_SECONDS}, at most ${SYNC_TIMEOUT_MAX_SECONDS}.`,
    },
    num_retries: {
      type: ["integer", "null"],
      minimum: 0,
      maximum: SYNC_RETRIES_MAX,
      description: `Tries on another worker when the connection to one fails (never on a model error); default ${SYNC_RETRIES_DEFAULT}.`,
    },
  },
} as const satisfies JsonSchema;

/** `?model_endpoint_id=` of the task creation routes. */
export const modelEndpointQuerySchema = {
  type: "object",
  properties: { model_endpoint_id: { type: "string", minLength: 1, description: "The endpoint to run on." } },
  required: ["model_endpoint_id"],
} as const satisfies JsonSchema;

export const taskIdParamsSchema = {
  type: "object",
  properties: { task_id: { type: "string" } },
  required: ["task_id"],
} as const satisfies JsonSchema;

/** `?wait=` of `GET /v1/async-tasks/{id}` [ext]. */
export const getTaskQuerySchema = {
  type: "object",
  properties: {
    wait: {
      type: "number",
      minimum: 0,
      maximum: TASK_WAIT_MAX_SECONDS,
      description: `[ext] Long poll: wait up to this many seconds (at most ${TASK_WAIT_MAX_SECONDS}) for the task to finish before answering.`,
    },
  },
} as const satisfies JsonSchema;

/** `{task_id}`: the answer to `POST /v1/async-tasks`, once the task is durable. */
export const asyncTaskCreatedSchema = {
  type: "object",
  properties: { task_id: { type: "string", description: "Poll GET /v1/async-tasks/{task_id}." } },
  required: ["task_id"],
} as const satisfies JsonSchema;

const outcomeProperties = {
  status: { type: "string", enum: [...TASK_STATUSES] },
  result: {
    description:
      'SUCCESS: `{"result": <output>}`. FAILURE and UNDEFINED (async): the error message. Otherwise null.',
  },
  traceback: nullable({ type: "string" }),
  status_code: nullable({ type: "integer" }),
} as const;

/** `GetAsyncTaskV1Response`. */
export const taskResponseSchema = {
  type: "object",
  properties: { task_id: { type: "string" }, ...outcomeProperties },
  required: ["task_id", "status", "result", "traceback", "status_code"],
} as const satisfies JsonSchema;

/** `SyncEndpointPredictV1Response`: the answer to a sync task (also each streaming event's data). */
export const syncTaskResponseSchema = {
  type: "object",
  properties: outcomeProperties,
  required: ["status", "result", "traceback", "status_code"],
} as const satisfies JsonSchema;

/** `?tail=` of `GET /v1/model-endpoints/{id}/logs` [ext]. */
export const endpointLogsQuerySchema = {
  type: "object",
  properties: {
    tail: {
      type: "integer",
      minimum: 0,
      maximum: LOG_TAIL_MAX,
      default: LOG_TAIL_DEFAULT,
      description: `The most recent lines to return (default ${LOG_TAIL_DEFAULT}, at most ${LOG_TAIL_MAX}).`,
    },
  },
} as const satisfies JsonSchema;

/** `{logs: [...]}` [ext]: recent worker output, oldest first. */
export const endpointLogsResponseSchema = {
  type: "object",
  properties: {
    logs: {
      type: "array",
      items: {
        type: "object",
        properties: {
          worker_id: { type: "string" },
          time: { type: "string", format: "date-time" },
          stream: { type: "string", enum: ["stdout", "stderr"] },
          line: { type: "string" },
        },
        required: ["worker_id", "time", "stream", "line"],
      },
    },
  },
  required: ["logs"],
} as const satisfies JsonSchema;
