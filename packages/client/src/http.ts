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
    const url = this.url(path, options.query);
    const headers: Record<string, string> = {
      authorization: this.#authorization,
      accept: "application/json",
    };
    const init: RequestInit = { method, headers };
    if (options.body !== undefined) {
      headers["content-type"] = "application/json";
      init.body = JSON.stringify(options.body);
    }
    const label = `${method} ${path}`;
    const response = await this.send(url, init, label);
    let body: unknown;
    try {
      body = await readBody(response);
    } catch (error) {
      throw this.#connectionError(error, label);
    }
    if (!response.ok) throw errorFromResponse(response.status, body, response.headers, label);
    return body as T;
  }

  /**
   * `fetch` with this transport's timeout; network failures become `ConnectionError`. Used for requests
   * that are not JSON API calls (such as `PUT` to an upload URL).
   *
   * @example const response = await http.send(signedUrl, { method: "PUT", body: bytes }, "PUT upload URL");
   */
  async send(url: string, init: RequestInit, label: string): Promise<Response> {
    try {
      return await this.#fetch(url, { ...init, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (error) {
      throw this.#connectionError(error, label);
    }
  }

  #connectionError(error: unknown, label: string): ConnectionError {
    const name = error instanceof Error ? error.name : "";
    if (name === "TimeoutError" || name === "AbortError") {
      return new ConnectionError({
        status: 0,
        code: "request_timed_out",
        detail: `No response from ${this.baseUrl} within ${this.timeoutMs} ms`,
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
