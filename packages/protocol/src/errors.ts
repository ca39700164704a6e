/**
 * The one closed set of error codes. Each code maps to one HTTP status; the gateway renders every error
 * through this table, so the same failure gives the same status and body whatever backend raised it.
 *
 * Wire shape (reference-compatible, `wire-protocol.md` §1): `{"detail": "<message>", "code": "<code>"}`;
 * validation errors carry a list in `detail`: `{"detail": [{"loc": [...], "msg": "...", "type": "..."}]}`.
 * `code` is our addition; clients that do not know it ignore it.
 */
export const ERROR_CODES = {
  /** No credentials were sent. */
  unauthenticated: { status: 401 },
  /** The credentials do not match a live key. */
  invalid_credentials: { status: 401 },
  /** The key is valid but may not do this (for example a non-admin key on admin routes). */
  forbidden: { status: 403 },
  /** The resource does not exist, or belongs to another team. */
  not_found: { status: 404 },
  /** A request that is well-formed JSON but not acceptable (duplicate name, unknown hook, wrong endpoint type). */
  bad_request: { status: 400 },
  /** A resource with that name already exists (the reference answers 400). */
  already_exists: { status: 400 },
  /** The body does not match the schema; `detail` is a list naming each field. */
  validation_failed: { status: 422 },
  /** The request body is larger than the configured limit. */
  payload_too_large: { status: 413 },
  /** The requested operation conflicts with the resource's state (for example editing a deleting endpoint). */
  conflict: { status: 409 },
  /** Too many requests; retry after the given delay. */
  rate_limited: { status: 429 },
  /** No worker became ready in time, or a dependency is down. */
  unavailable: { status: 503 },
  /** A sync task did not finish within its timeout. */
  timeout: { status: 504 },
  /** A bug or an unexpected failure; the server logs it with its cause. */
  internal: { status: 500 },
} as const satisfies Record<string, { status: number }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** One entry of a validation error's `detail` list, in the reference server's (FastAPI's) shape. */
export interface ValidationIssue {
  /** Where the problem is, e.g. `["body", "default_callback_auth", "cert"]`. */
  loc: (string | number)[];
  /** What was wrong and what was expected. */
  msg: string;
  /** A machine-readable kind, e.g. `missing`, `value_error`, `type_error`. */
  type: string;
}

/** The JSON body of every error response. */
export interface ErrorBody {
  detail: string | ValidationIssue[];
  code?: ErrorCode;
}

/** The HTTP status for a code. */
export function statusOf(code: ErrorCode): number {
  return ERROR_CODES[code].status;
}

/**
 * The error every layer of Launch throws for expected failures that reach a client. Anything else is a
 * bug and answers 500 `internal`.
 *
 * @example throw new LaunchError("not_found", `Model endpoint ${id} was not found.`)
 */
export class LaunchError extends Error {
  override readonly name = "LaunchError";
  readonly code: ErrorCode;
  readonly issues: ValidationIssue[] | undefined;
  /** Extra response headers, for example `Retry-After`. */
  readonly headers: Record<string, string> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { issues?: ValidationIssue[]; cause?: unknown; headers?: Record<string, string> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.issues = options.issues;
    this.headers = options.headers;
  }

  get status(): number {
    return statusOf(this.code);
  }

  /** The response body for this error. */
  toBody(): ErrorBody {
    return { detail: this.issues ?? this.message, code: this.code };
  }

  /**
   * A 422 naming each field.
   *
   * @example LaunchError.validation([{ loc: ["body", "name"], msg: "name is required", type: "missing" }])
   */
  static validation(issues: ValidationIssue[]): LaunchError {
    const summary = issues.map((i) => `${i.loc.filter((p) => p !== "body").join(".")}: ${i.msg}`).join("; ");
    return new LaunchError("validation_failed", summary, { issues });
  }
}

/** Whether `value` is a LaunchError (by name, so it works across copies of this package). */
export function isLaunchError(value: unknown): value is LaunchError {
  return value instanceof Error && value.name === "LaunchError" && "code" in value;
}

/** Messages that the reference server uses verbatim and clients may match on. */
export const REFERENCE_MESSAGES = {
  noAuth: "No authentication was passed in",
  badAuth: "Could not authenticate user",
  endpointExists: "The specified model endpoint already exists.",
} as const;
