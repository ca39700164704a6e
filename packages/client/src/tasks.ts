/**
 * Tasks as the Python client models them: an `EndpointRequest` (what to predict, where to send the
 * callback) mapped to the wire `PredictRequest`, and an `EndpointResponse` read from the wire task
 * shapes of `wire-protocol.md` §5 (`{status, result: {result}, traceback, status_code}`).
 */
import { randomUUID } from "node:crypto";
import type {
  CallbackAuthKind,
  CallbackEvent,
  PredictRequest,
  SyncTaskResponse,
  TaskResponse,
  TaskStatus,
  ValidationIssue,
} from "@launch/protocol";
import { buildCallbackAuth } from "./callback-auth.js";
import { ValidationError } from "./errors.js";

export interface EndpointRequestOptions {
  /** The model's input: any JSON value (a Node model receives it as `predict(args)`). */
  args?: unknown;
  /** A URL the worker fetches and passes to the model instead of `args`. */
  url?: string | undefined;
  /** Pickle the output and answer its location (`resultUrl`) instead of the value (Python bundles). */
  returnPickled?: boolean | undefined;
  /** Send this task's callback here instead of the endpoint's `default_callback_url`. */
  callbackUrl?: string | undefined;
  /** Authenticate this task's callback with `"basic"` (username, password) or `"mtls"` (cert, key). */
  callbackAuthKind?: CallbackAuthKind | undefined;
  callbackAuthUsername?: string | undefined;
  callbackAuthPassword?: string | undefined;
  /** PEM client certificate for an mTLS callback. */
  callbackAuthCert?: string | undefined;
  /** PEM private key matching `callbackAuthCert`. */
  callbackAuthKey?: string | undefined;
  /** [ext] Which outcomes of this task send a callback (default: the endpoint's `callback_events`). */
  callbackEvents?: CallbackEvent[] | undefined;
  /** Your own id for this request, kept on the SDK side (default: a random UUID). Not sent. */
  requestId?: string | undefined;
}

/**
 * One request to an endpoint, as the Python client's `EndpointRequest`.
 *
 * @example
 * const request = new EndpointRequest({ args: { x: 2, y: "hello" }, callbackUrl: "https://example.com/cb" });
 * const future = await endpoint.predict({ request });
 */
export class EndpointRequest {
  readonly args: unknown;
  readonly url: string | undefined;
  readonly returnPickled: boolean;
  readonly callbackUrl: string | undefined;
  readonly callbackAuthKind: CallbackAuthKind | undefined;
  readonly callbackAuthUsername: string | undefined;
  readonly callbackAuthPassword: string | undefined;
  readonly callbackAuthCert: string | undefined;
  readonly callbackAuthKey: string | undefined;
  readonly callbackEvents: CallbackEvent[] | undefined;
  readonly requestId: string;

  constructor(options: EndpointRequestOptions = {}) {
    const issues: ValidationIssue[] = [];
    const expect = (ok: boolean, field: string, msg: string) => {
      if (!ok) issues.push({ loc: ["body", field], msg, type: "type_error" });
    };
    expect(options.url === undefined || typeof options.url === "string", "url", "url must be a string");
    expect(
      options.returnPickled === undefined || typeof options.returnPickled === "boolean",
      "return_pickled",
      "returnPickled must be true or false",
    );
    expect(
      options.callbackUrl === undefined || typeof options.callbackUrl === "string",
      "callback_url",
      "callbackUrl must be a string",
    );
    expect(
      options.callbackEvents === undefined || Array.isArray(options.callbackEvents),
      "callback_events",
      'callbackEvents must be a list of event names, e.g. ["succeeded", "failed"]',
    );
    expect(
      options.requestId === undefined || typeof options.requestId === "string",
      "request_id",
      "requestId must be a string",
    );
    if (issues.length > 0)
      throw new ValidationError({ status: 422, code: "validation_failed", detail: issues });

    this.args = options.args;
    this.url = options.url;
    this.returnPickled = options.returnPickled ?? false;
    this.callbackUrl = options.callbackUrl;
    this.callbackAuthKind = options.callbackAuthKind;
    this.callbackAuthUsername = options.callbackAuthUsername;
    this.callbackAuthPassword = options.callbackAuthPassword;
    this.callbackAuthCert = options.callbackAuthCert;
    this.callbackAuthKey = options.callbackAuthKey;
    this.callbackEvents = options.callbackEvents;
    this.requestId = options.requestId ?? randomUUID();
    // Checks the credentials now, so a mistake shows where the request is built.
    this.toPredictRequest();
  }

  /**
   * The wire body of `POST /v1/async-tasks` (and of sync and streaming tasks): only the fields given.
   *
   * @example new EndpointRequest({ args: { x: 2 }, callbackAuthKind: "basic", callbackAuthUsername: "u", callbackAuthPassword: "p" }).toPredictRequest()
   * // { args: { x: 2 }, return_pickled: false, callback_auth: { kind: "basic", username: "u", password: "p" } }
   */
  toPredictRequest(): PredictRequest {
    const body: PredictRequest = { return_pickled: this.returnPickled };
    if (this.args !== undefined) body.args = this.args;
    if (this.url !== undefined) body.url = this.url;
    if (this.callbackUrl !== undefined) body.callback_url = this.callbackUrl;
    const auth = buildCallbackAuth(
      this.callbackAuthKind,
      {
        username: this.callbackAuthUsername,
        password: this.callbackAuthPassword,
        cert: this.callbackAuthCert,
        key: this.callbackAuthKey,
      },
      "callbackAuth",
      "callback_auth",
    );
    if (auth !== undefined) body.callback_auth = auth;
    if (this.callbackEvents !== undefined) body.callback_events = this.callbackEvents;
    return body;
  }

  /**
   * What `JSON.stringify(request)` shows: the wire body without secrets (the callback password and
   * private key are left out), plus `request_id`.
   *
   * @example JSON.stringify(request) // '{"return_pickled":false,"args":{"x":2},"request_id":"..."}'
   */
  toJSON(): Record<string, unknown> {
    const { callback_auth: auth, ...rest } = this.toPredictRequest();
    const shown: Record<string, unknown> = { ...rest, request_id: this.requestId };
    if (auth)
      shown.callback_auth =
        auth.kind === "basic" ? { kind: auth.kind, username: auth.username } : { kind: auth.kind };
    return shown;
  }
}

/** An `EndpointRequest`, or the options to build one. */
export type EndpointRequestInput = EndpointRequest | EndpointRequestOptions;

/**
 * The request as an `EndpointRequest` (built from options when needed).
 *
 * @example toEndpointRequest({ args: { x: 2 } }).requestId
 */
export function toEndpointRequest(input: EndpointRequestInput): EndpointRequest {
  if (input instanceof EndpointRequest) return input;
  // Another copy of this package: recognised by shape, not class.
  if (typeof (input as EndpointRequest).toPredictRequest === "function") return input as EndpointRequest;
  return new EndpointRequest(input as EndpointRequestOptions);
}

/**
 * The outcome of a task, as the Python client's `EndpointResponse`.
 *
 * - `result`: the model's output (the wire `result.result`) when the task succeeded; null otherwise.
 * - `resultUrl`: where the pickled output is, for `returnPickled` requests.
 * - `error`: the failure message of a failed async task (the wire `result` string); null otherwise.
 * - `raw`: the wire object as the server sent it.
 */
export interface EndpointResponse {
  status: TaskStatus;
  result: unknown;
  resultUrl?: string | undefined;
  error: string | null;
  traceback: string | null;
  statusCode: number | null;
  /** The async task's id (absent for sync and streaming responses). */
  taskId?: string | undefined;
  raw: TaskResponse | SyncTaskResponse;
}

/**
 * Reads a wire task response (`GET /v1/async-tasks/{id}`, a sync response, or one streaming event).
 *
 * @example responseFromWire({ task_id: "tsk_1", status: "SUCCESS", result: { result: 7 }, traceback: null, status_code: 200 }).result // 7
 */
export function responseFromWire(raw: TaskResponse | SyncTaskResponse): EndpointResponse {
  const wrapped =
    typeof raw.result === "object" && raw.result !== null && !Array.isArray(raw.result)
      ? (raw.result as { result?: unknown; result_url?: unknown })
      : undefined;
  const response: EndpointResponse = {
    status: raw.status,
    result: raw.status === "SUCCESS" && wrapped && "result" in wrapped ? wrapped.result : null,
    error: raw.status === "FAILURE" && typeof raw.result === "string" ? raw.result : null,
    traceback: raw.traceback ?? null,
    statusCode: raw.status_code ?? null,
    raw,
  };
  if (typeof wrapped?.result_url === "string") response.resultUrl = wrapped.result_url;
  if ("task_id" in raw && typeof raw.task_id === "string") response.taskId = raw.task_id;
  return response;
}

/** Whether a task status is final: `SUCCESS`, `FAILURE` or `UNDEFINED` (expired). */
export function isFinishedStatus(status: TaskStatus): boolean {
  return status === "SUCCESS" || status === "FAILURE" || status === "UNDEFINED";
}
