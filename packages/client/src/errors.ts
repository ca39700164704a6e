/**
 * The SDK's errors, one class per kind of failure, recognised by `name` (not `instanceof`, which breaks
 * across copies of this package):
 *
 * | name                  | when                                                                |
 * |-----------------------|---------------------------------------------------------------------|
 * | `AuthenticationError` | 401 (no or unknown key), 403 (key may not do this)                  |
 * | `NotFoundError`       | 404: missing, or owned by another team                              |
 * | `ConflictError`       | 409, and the 400 "already exists" for a duplicate name              |
 * | `BadRequestError`     | other 4xx (400 unknown hook, 413 body too large, ...)               |
 * | `ValidationError`     | 422; `fields` is the server's list of `{loc, msg, type}`            |
 * | `RateLimitError`      | 429; `retryAfterMs` from `Retry-After`                              |
 * | `ServerError`         | 5xx                                                                 |
 * | `ConnectionError`     | no response: connection refused, DNS failure, timeout (`status` 0)  |
 * | `WaitTimeoutError`    | a wait ran out: a task or an endpoint was not done in time          |
 * | `TaskExpiredError`    | the task expired in the queue (status `UNDEFINED`)                  |
 * | `EndpointFailedError` | an endpoint being waited for ended in `UPDATE_FAILED`               |
 *
 * All extend `LaunchClientError` with `status`, `detail` (the server's `detail`, a string or the 422
 * list) and `code` (the server's `code`, else one derived from the status). A few argument mistakes are
 * caught before sending; they throw the same class the server would have answered with.
 */
import type { ErrorCode, ValidationIssue } from "@launch/protocol";
import { REFERENCE_MESSAGES } from "@launch/protocol";

/** The server's error codes, plus the two failures that have no HTTP response. */
export type ClientErrorCode =
  | ErrorCode
  | "connection_failed"
  | "request_timed_out"
  | "wait_timed_out"
  | "task_expired"
  | "endpoint_failed";

export interface LaunchClientErrorOptions {
  /** HTTP status; 0 when there was no response. */
  status: number;
  detail: string | ValidationIssue[];
  code: ClientErrorCode;
  /** The request that failed, e.g. `GET /v1/model-endpoints/end_1`. */
  request?: string | undefined;
  cause?: unknown;
}

/**
 * The base of every error the SDK throws.
 *
 * @example
 * try { await client.getModelBundleV2("bun_missing"); }
 * catch (error) { if (isLaunchClientError(error, "NotFoundError")) console.log(error.detail); }
 */
export class LaunchClientError extends Error {
  override readonly name: string = "LaunchClientError";
  /** HTTP status; 0 when there was no response (`ConnectionError`). */
  readonly status: number;
  /** The server's `detail`: a message, or the list of issues of a 422. */
  readonly detail: string | ValidationIssue[];
  readonly code: ClientErrorCode;
  /** The request that failed, e.g. `GET /v1/model-endpoints/end_1`, when known. */
  readonly request: string | undefined;

  constructor(options: LaunchClientErrorOptions) {
    const text = detailText(options.detail);
    const where = options.request ? ` (${options.status ? `${options.status} ` : ""}${options.request})` : "";
    super(`${text}${where}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.status = options.status;
    this.detail = options.detail;
    this.code = options.code;
    this.request = options.request;
  }
}

/** 401 or 403: the API key is missing, unknown, revoked, or may not do this. */
export class AuthenticationError extends LaunchClientError {
  override readonly name = "AuthenticationError";
}

/** 404: the resource does not exist, or belongs to another team. */
export class NotFoundError extends LaunchClientError {
  override readonly name = "NotFoundError";
}

/** 409, or the 400 the server answers for a duplicate name (`code: "already_exists"`). */
export class ConflictError extends LaunchClientError {
  override readonly name = "ConflictError";
}

/** Any other 4xx the server rejects (unknown hook name, body too large, wrong content type). */
export class BadRequestError extends LaunchClientError {
  override readonly name = "BadRequestError";
}

/** 422: the body did not validate. `fields` names each problem. */
export class ValidationError extends LaunchClientError {
  override readonly name = "ValidationError";
  /** The server's issues, e.g. `[{ loc: ["body", "default_callback_auth", "cert"], msg, type }]`. */
  readonly fields: ValidationIssue[];

  constructor(options: LaunchClientErrorOptions) {
    super(options);
    this.fields = Array.isArray(options.detail) ? options.detail : [];
  }
}

/** 429: too many requests. Wait `retryAfterMs` (when the server said) before retrying. */
export class RateLimitError extends LaunchClientError {
  override readonly name = "RateLimitError";
  readonly retryAfterMs: number | undefined;

  constructor(options: LaunchClientErrorOptions & { retryAfterMs?: number | undefined }) {
    super(options);
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** 5xx: the server failed or a dependency is down. */
export class ServerError extends LaunchClientError {
  override readonly name = "ServerError";
}

/** No response: the connection failed or the request timed out. `status` is 0. */
export class ConnectionError extends LaunchClientError {
  override readonly name = "ConnectionError";
}

/**
 * A wait ran out before the thing waited for was done: `future.get({ timeoutMs })` while the task is
 * still `PENDING` or `STARTED`, or `endpoint.waitUntilReady({ timeoutMs })`. `status` is 0; the task or
 * endpoint carries on, and you may wait again.
 */
export class WaitTimeoutError extends LaunchClientError {
  override readonly name = "WaitTimeoutError";
}

/** The task expired in the queue before a worker took it (status `UNDEFINED`). `status` is 0. */
export class TaskExpiredError extends LaunchClientError {
  override readonly name = "TaskExpiredError";
  readonly taskId: string;

  constructor(options: LaunchClientErrorOptions & { taskId: string }) {
    super(options);
    this.taskId = options.taskId;
  }
}

/**
 * An endpoint being waited for ended in `UPDATE_FAILED` (or began deleting). `statusReason` is the
 * server's reason, for example the last lines a crashing model wrote to stderr. `status` is 0.
 */
export class EndpointFailedError extends LaunchClientError {
  override readonly name = "EndpointFailedError";
  readonly endpointStatus: string;
  readonly statusReason: string | null;

  constructor(options: LaunchClientErrorOptions & { endpointStatus: string; statusReason: string | null }) {
    super(options);
    this.endpointStatus = options.endpointStatus;
    this.statusReason = options.statusReason;
  }
}

interface ErrorsByName {
  LaunchClientError: LaunchClientError;
  AuthenticationError: AuthenticationError;
  NotFoundError: NotFoundError;
  ConflictError: ConflictError;
  BadRequestError: BadRequestError;
  ValidationError: ValidationError;
  RateLimitError: RateLimitError;
  ServerError: ServerError;
  ConnectionError: ConnectionError;
  WaitTimeoutError: WaitTimeoutError;
  TaskExpiredError: TaskExpiredError;
  EndpointFailedError: EndpointFailedError;
}

export type LaunchClientErrorName = keyof ErrorsByName;

const NAMES = new Set<string>([
  "LaunchClientError",
  "AuthenticationError",
  "NotFoundError",
  "ConflictError",
  "BadRequestError",
  "ValidationError",
  "RateLimitError",
  "ServerError",
  "ConnectionError",
  "WaitTimeoutError",
  "TaskExpiredError",
  "EndpointFailedError",
]);

/**
 * Whether `value` is an SDK error, optionally of one kind. Checks `name`, so it works across copies of
 * the package.
 *
 * @example
 * if (isLaunchClientError(error, "ValidationError")) console.log(error.fields);
 */
export function isLaunchClientError<N extends LaunchClientErrorName = "LaunchClientError">(
  value: unknown,
  name?: N,
): value is ErrorsByName[N] {
  if (!(value instanceof Error) || !NAMES.has(value.name) || !("code" in value) || !("status" in value)) {
    return false;
  }
  return name === undefined || name === "LaunchClientError" || value.name === name;
}

/**
 * The message of a `detail`: itself, or the 422 list as `field: message; ...`.
 *
 * @example detailText([{ loc: ["body", "cpus"], msg: "must be positive", type: "value_error" }]) // "cpus: must be positive"
 */
export function detailText(detail: string | ValidationIssue[]): string {
  if (typeof detail === "string") return detail;
  if (detail.length === 0) return "The request did not validate.";
  return detail
    .map((issue) => {
      const field = issue.loc.filter((part) => part !== "body").join(".");
      return field ? `${field}: ${issue.msg}` : issue.msg;
    })
    .join("; ");
}

const CODE_BY_STATUS: Record<number, ErrorCode> = {
  400: "bad_request",
  401: "invalid_credentials",
  403: "forbidden",
  404: "not_found",
  409: "conflict",
  413: "payload_too_large",
  422: "validation_failed",
  429: "rate_limited",
  503: "unavailable",
  504: "timeout",
};

/**
 * The error for an HTTP error response: the class by status, `detail` and `code` from the body.
 *
 * @example errorFromResponse(404, { detail: "Model bundle bun_1 was not found." }, new Headers(), "GET /v2/model-bundles/bun_1")
 */
export function errorFromResponse(
  status: number,
  body: unknown,
  headers: Headers,
  request: string,
): LaunchClientError {
  const record = typeof body === "object" && body !== null ? (body as Record<string, unknown>) : {};
  // Our server and the reference send `detail`; a proxy or a framework's own error may send `message`.
  const detail = parseDetail(record.detail ?? record.message, body, status);
  const code =
    typeof record.code === "string"
      ? (record.code as ErrorCode)
      : (CODE_BY_STATUS[status] ?? (status >= 500 ? "internal" : "bad_request"));
  const options: LaunchClientErrorOptions = { status, detail, code, request };
  if (status === 401 || status === 403) return new AuthenticationError(options);
  if (status === 404) return new NotFoundError(options);
  if (status === 409 || code === "already_exists" || detail === REFERENCE_MESSAGES.endpointExists) {
    return new ConflictError(options);
  }
  if (status === 422) return new ValidationError(options);
  if (status === 429) {
    return new RateLimitError({ ...options, retryAfterMs: retryAfterMs(headers.get("retry-after")) });
  }
  if (status >= 500) return new ServerError(options);
  return new BadRequestError(options);
}

function parseDetail(detail: unknown, body: unknown, status: number): string | ValidationIssue[] {
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail.map((item) => {
      const issue = (typeof item === "object" && item !== null ? item : {}) as Partial<ValidationIssue>;
      return {
        loc: Array.isArray(issue.loc) ? issue.loc : [],
        msg: typeof issue.msg === "string" ? issue.msg : JSON.stringify(item),
        type: typeof issue.type === "string" ? issue.type : "value_error",
      };
    });
  }
  if (typeof body === "string" && body.trim() !== "") return body.trim().slice(0, 500);
  return `The server answered ${status} without a detail.`;
}

/**
 * `Retry-After` as milliseconds: delta-seconds or an HTTP date; undefined when absent or unreadable.
 *
 * @example retryAfterMs("2") // 2000
 */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (header === null || header.trim() === "") return undefined;
  const seconds = Number(header.trim());
  if (Number.isFinite(seconds)) return Math.max(0, Math.round(seconds * 1000));
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
