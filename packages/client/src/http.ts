/**
 * The SDK's one door to the network: JSON over the global `fetch`, HTTP Basic with the API key as the
 * username and an empty password, a timeout per request, and error responses turned into typed errors.
 */
import { ConnectionError, errorFromResponse } from "./errors.js";

export type HttpMethod = "GET" | "POST" | "PUT" | "DELETE" | "PATCH";

export interface HttpOptions {
  apiKey: string;
  /** The server's base URL, already including any path prefix, without a trailing slash. */
  baseUrl: string;
  timeoutMs: number;
  fetch: typeof globalThis.fetch;
}

export interface RequestOptions {
  /** Query parameters; `undefined` values are left out. */
  query?: Record<string, string | number | boolean | undefined> | undefined;
  /** A JSON body. */
  body?: unknown;
  /** This request's timeout instead of the transport's (for long-polls and long sync tasks). */
  timeoutMs?: number | undefined;
  /** Aborts the request; the promise then rejects with the signal's reason. */
  signal?: AbortSignal | undefined;
}

/**
 * `Authorization` header value for a key: Basic with the key as username and an empty password.
 *
 * @example basicAuthorization("lk_abc") // "Basic bGtfYWJjOg=="
 */
export function basicAuthorization(apiKey: string): string {
  const bytes = new TextEncoder().encode(`${apiKey}:`);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return `Basic ${btoa(binary)}`;
}

/**
 * Sends authenticated JSON requests to one Launch server.
 *
 * @example
 * const http = new HttpTransport({ apiKey, baseUrl: "http://127.0.0.1:5001", timeoutMs: 120_000, fetch });
 * const bundle = await http.request<BundleV2>("GET", "/v2/model-bundles/bun_1");
 */
export class HttpTransport {
  readonly baseUrl: string;
  readonly timeoutMs: number;
  readonly #authorization: string;
  readonly #fetch: typeof globalThis.fetch;

  constructor(options: HttpOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.timeoutMs = options.timeoutMs;
    this.#authorization = basicAuthorization(options.apiKey);
    this.#fetch = options.fetch;
  }

  /**
   * The absolute URL of a route path with its query (`undefined` values left out).
   *
   * @example http.url("/v2/model-bundles", { model_name: "echo" }) // "http://127.0.0.1:5001/v2/model-bundles?model_name=echo"
   */
  url(path: string, query?: RequestOptions["query"]): string {
    const url = new URL(`${this.baseUrl}${path}`);
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    return url.toString();
  }

  /**
   * Sends a request and returns the parsed JSON body, or throws the typed error for the response.
   *
   * @example await http.request<{ deleted: boolean }>("DELETE", "/v1/model-endpoints/end_1")
   */
  async request<T>(method: HttpMethod, path: string, options: RequestOptions = {}): Promise<T> {
    const label = `${method} ${path}`;
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    const signal = requestSignal(timeoutMs, options.signal);
    const response = await this.send(
      this.url(path, options.query),
      this.#init(method, options, "application/json"),
      label,
      { timeoutMs, signal },
    );
    let body: unknown;
    try {
      body = await readBody(response);
    } catch (error) {
      throw this.#failure(error, label, timeoutMs, options.signal);
    }
    if (!response.ok) throw errorFromResponse(response.status, body, response.headers, label);
    return body as T;
  }

  /**
   * Sends a request whose body is read as it arrives (server-sent events): the timeout covers only the
   * wait for the response headers, not the body. Error responses throw the typed error; on success the
   * caller owns `response.body` and must read or cancel it.
   *
   * @example const response = await http.openStream("POST", "/v1/streaming-tasks", { body, query });
   */
  async openStream(method: HttpMethod, path: string, options: RequestOptions = {}): Promise<Response> {
    const label = `${method} ${path}`;
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    const headersArrived = new AbortController();
    const timer = setTimeout(
      () => headersArrived.abort(new DOMException("headers timed out", "TimeoutError")),
      timeoutMs,
    );
    const signal = options.signal
      ? AbortSignal.any([headersArrived.signal, options.signal])
      : headersArrived.signal;
    let response: Response;
    try {
      response = await this.send(
        this.url(path, options.query),
        this.#init(method, options, "text/event-stream"),
        label,
        { timeoutMs, signal },
      );
    } finally {
      clearTimeout(timer);
    }
    if (!response.ok) {
      let body: unknown;
      try {
        body = await readBody(response);
      } catch (error) {
        throw this.#failure(error, label, timeoutMs, options.signal);
      }
      throw errorFromResponse(response.status, body, response.headers, label);
    }
    return response;
  }

  /**
   * `fetch` with this transport's timeout (or the given one and signal); network failures become
   * `ConnectionError`. Used for requests that are not JSON API calls (such as `PUT` to an upload URL).
   *
   * @example const response = await http.send(signedUrl, { method: "PUT", body: bytes }, "PUT upload URL");
   */
  async send(
    url: string,
    init: RequestInit,
    label: string,
    limits: { timeoutMs?: number | undefined; signal?: AbortSignal | undefined } = {},
  ): Promise<Response> {
    const timeoutMs = limits.timeoutMs ?? this.timeoutMs;
    try {
      return await this.#fetch(url, { ...init, signal: limits.signal ?? AbortSignal.timeout(timeoutMs) });
    } catch (error) {
      throw this.#failure(error, label, timeoutMs, init.signal ?? undefined);
    }
  }

  #init(method: HttpMethod, options: RequestOptions, accept: string): RequestInit {
    const headers: Record<string, string> = { authorization: this.#authorization, accept };
    const init: RequestInit = { method, headers };
    if (options.body !== undefined) {
      headers["content-type"] = "application/json";
      init.body = JSON.stringify(options.body);
    }
    // Kept so that failures can tell the caller's abort from a timeout.
    if (options.signal) init.signal = options.signal;
    return init;
  }

  /** The caller's abort reason when the caller aborted; a `ConnectionError` otherwise. */
  #failure(error: unknown, label: string, timeoutMs: number, callerSignal: AbortSignal | undefined): unknown {
    if (callerSignal?.aborted) return callerSignal.reason;
    return this.#connectionError(error, label, timeoutMs);
  }

  #connectionError(error: unknown, label: string, timeoutMs = this.timeoutMs): ConnectionError {
    const name = error instanceof Error ? error.name : "";
    if (name === "TimeoutError" || name === "AbortError") {
      return new ConnectionError({
        status: 0,
        code: "request_timed_out",
        detail: `No response from ${this.baseUrl} within ${timeoutMs} ms`,
        request: label,
        cause: error,
      });
    }
    return new ConnectionError({
      status: 0,
      code: "connection_failed",
      detail: `Could not reach ${this.baseUrl}: ${describeCause(error)}`,
      request: label,
      cause: error,
    });
  }
}

/** The signal of one request: its timeout, and the caller's signal when given. */
function requestSignal(timeoutMs: number, callerSignal: AbortSignal | undefined): AbortSignal {
  const timeout = AbortSignal.timeout(timeoutMs);
  return callerSignal ? AbortSignal.any([timeout, callerSignal]) : timeout;
}

async function readBody(response: Response): Promise<unknown> {
  const text = await response.text();
  if (text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function describeCause(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause as { code?: unknown; message?: unknown } | undefined;
  if (cause && typeof cause.code === "string") return cause.code;
  if (cause && typeof cause.message === "string") return cause.message;
  return error.message;
}
