/**
 * The external worker's door to the gateways (the `/v1/workers/*` external worker API): JSON requests with the
 * API key, sent to one of several gateway base URLs. Gateways are stateless, so a request that meets a
 * connection error, a timeout, a 429 or a 5xx is retried on the next URL after a short backoff (growing
 * each time every URL has failed), until it gets an answer, its attempts or deadline run out, or it is
 * aborted. The URL that answered last is tried first next time. The API key is only ever put in the
 * `Authorization` header: it is never logged nor part of an error message.
 */
import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import type { WorkerLog } from "./log.js";

export interface GatewayClientOptions {
  /** Gateway base URLs (`http(s)://host:port`, optionally with a path prefix), tried in order. */
  servers: readonly string[];
  /** The API key; requests carry no `Authorization` header without one (a server in `open` auth). */
  apiKey?: string | undefined;
  log: WorkerLog;
  /** The wait before the first retry; doubled each time every server has failed. Default 100 ms. */
  retryDelayMs?: number;
  /** The longest wait between two retries. Default 5,000 ms. */
  maxRetryDelayMs?: number;
  /** How long one request may take before it counts as failed. Default 30,000 ms. */
  timeoutMs?: number;
}

export interface GatewayRequestOptions {
  body?: unknown;
  /** Aborts the request and its retries (the promise rejects with the signal's reason). */
  signal?: AbortSignal;
  /** This request's timeout per attempt (a long poll's is its wait plus a margin). */
  timeoutMs?: number;
  /** How many attempts at most. Default: unlimited (until `deadline` or `signal`). */
  attempts?: number;
  /** `Date.now()` value after which no new attempt is made. */
  deadline?: number;
}

/** A gateway's answer that is not a retryable failure (2xx, 3xx, or 4xx other than 429). */
export interface GatewayAnswer {
  status: number;
  /** The parsed JSON body, or undefined when there was none or it was not JSON. */
  body: unknown;
}

/** Every attempt failed (no gateway answered, or they answered 5xx/429) within the attempts or deadline. */
export class GatewayUnavailableError extends Error {
  override readonly name = "GatewayUnavailableError";
}

const DEFAULT_TIMEOUT_MS = 30_000;

/** One kind of failure that makes a request go to the next gateway. */
type Retry = { retry: string };

/** Talks to the gateways. One instance per worker process. */
export class GatewayClient {
  readonly servers: readonly string[];
  private current = 0;
  /** Servers that failed last time, so that each outage and recovery is logged once. */
  private readonly down = new Set<string>();
  private readonly authorization: string | undefined;

  constructor(private readonly options: GatewayClientOptions) {
    if (options.servers.length === 0) throw new Error("GatewayClient needs at least one server URL");
    this.servers = options.servers.map((url) => url.replace(/\/+$/, ""));
    this.authorization =
      options.apiKey === undefined || options.apiKey === ""
        ? undefined
        : `Basic ${Buffer.from(`${options.apiKey}:`).toString("base64")}`;
  }

  /**
   * Sends a JSON request and resolves with the first answer that is not a retryable failure. Rejects with
   * `GatewayUnavailableError` when the attempts or the deadline run out, or with the signal's reason.
   *
   * @example const { status, body } = await client.request("POST", "/v1/workers", { body: registration });
   */
  request(method: string, path: string, options: GatewayRequestOptions = {}): Promise<GatewayAnswer> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (options.body !== undefined) headers["content-type"] = "application/json";
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    return this.withFailover(`${method} ${path}`, options, async (base, signal) => {
      const res = await fetch(`${base}${path}`, { method, headers: this.headers(headers), body, signal });
      const text = await res.text();
      if (res.status >= 500 || res.status === 429)
        return { retry: `answered ${res.status}${detailOf(text)}` };
      return { status: res.status, body: parseJson(text) };
    });
  }

  /**
   * Downloads `path` into `file`: written to a temporary file next to it, then renamed into place, so that
   * `file` is either absent or complete. Resolves with the answer's status (200 when written); a 4xx
   * other than 429 resolves without writing, with its body.
   */
  download(path: string, file: string, options: GatewayRequestOptions = {}): Promise<GatewayAnswer> {
    return this.withFailover(`GET ${path}`, options, async (base, signal) => {
      const res = await fetch(`${base}${path}`, { headers: this.headers({}), signal });
      if (res.status !== 200 || !res.body) {
        const text = await res.text();
        if (res.status >= 500 || res.status === 429)
          return { retry: `answered ${res.status}${detailOf(text)}` };
        return { status: res.status, body: parseJson(text) };
      }
      await mkdir(dirname(file), { recursive: true });
      const temp = `${file}.tmp-${randomBytes(6).toString("hex")}`;
      try {
        await pipeline(Readable.fromWeb(res.body as WebReadableStream<Uint8Array>), createWriteStream(temp));
        await rename(temp, file);
      } catch (error) {
        await rm(temp, { force: true });
        throw error;
      }
      return { status: 200, body: undefined };
    });
  }

  private headers(base: Record<string, string>): Record<string, string> {
    return this.authorization === undefined ? base : { ...base, authorization: this.authorization };
  }

  private async withFailover(
    what: string,
    options: GatewayRequestOptions,
    attempt: (base: string, signal: AbortSignal) => Promise<GatewayAnswer | Retry>,
  ): Promise<GatewayAnswer> {
    const attempts = options.attempts ?? Number.POSITIVE_INFINITY;
    const baseDelay = this.options.retryDelayMs ?? 100;
    const maxDelay = this.options.maxRetryDelayMs ?? 5_000;
    let last = "";
    for (let n = 0; n < attempts; n++) {
      if (n > 0) {
        const cycles = Math.floor((n - 1) / this.servers.length);
        const delay = Math.min(maxDelay, baseDelay * 2 ** Math.min(cycles, 20));
        if (options.deadline !== undefined && Date.now() + delay > options.deadline) break;
        await sleep(delay, options.signal);
      }
      options.signal?.throwIfAborted();
      const index = this.current;
      const base = this.servers[index]!;
      const timeout = AbortSignal.timeout(options.timeoutMs ?? this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
      const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
      let outcome: GatewayAnswer | Retry;
      try {
        outcome = await attempt(base, signal);
      } catch (error) {
        options.signal?.throwIfAborted();
        outcome = { retry: describeFailure(error, timeout.aborted) };
      }
      if (!("retry" in outcome)) {
        if (this.down.delete(base)) this.options.log.info(`gateway ${base} answers again`);
        return outcome;
      }
      last = `${base} ${outcome.retry}`;
      if (!this.down.has(base)) {
        this.down.add(base);
        const next =
          this.servers.length > 1 ? `; trying ${this.servers[(index + 1) % this.servers.length]}` : "";
        this.options.log.error(`gateway ${base} failed (${what}: ${outcome.retry})${next}`);
      }
      // Move on unless another request already did.
      if (this.current === index) this.current = (index + 1) % this.servers.length;
    }
    throw new GatewayUnavailableError(`No gateway answered ${what} (last: ${last || "no attempt made"})`);
  }
}

/** The `detail` of an error body, as ": detail", or nothing. */
export function detailOf(bodyOrText: unknown): string {
  const body = typeof bodyOrText === "string" ? parseJson(bodyOrText) : bodyOrText;
  const detail = (body as { detail?: unknown } | undefined)?.detail;
  if (typeof detail === "string" && detail !== "") return `: ${detail}`;
  return "";
}

function parseJson(text: string): unknown {
  if (text === "") return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** "ECONNREFUSED", "timed out after …" and the like: never the request's headers. */
function describeFailure(error: unknown, timedOut: boolean): string {
  if (timedOut) return "timed out";
  const cause = (error as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause;
  if (cause && typeof cause.code === "string") return cause.code;
  if (cause && typeof cause.message === "string") return cause.message;
  return error instanceof Error ? error.message : String(error);
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
