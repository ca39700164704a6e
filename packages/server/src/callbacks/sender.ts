/**
 * One callback attempt (`callbacks.md` §3): POST the delivery's exact body to its URL, signed (Standard
 * Webhooks) and authenticated (basic auth header, or the mTLS client certificate's agent), within one
 * per-attempt timeout that covers connect, TLS handshake and the whole response. At most
 * {@link RESPONSE_READ_LIMIT} bytes of the answer are read (an excerpt goes to the attempt log).
 *
 * Failures come back as values with an error class (`timeout`, `connection_refused`, `connection_reset`,
 * `dns`, `tls`, `refused_address`, `invalid_url`, `http_<status>`, ...) and a message fit for the
 * delivery log. Nothing here logs, and no message carries credentials or the delivery's body.
 */
import { readFileSync } from "node:fs";
import type { IncomingHttpHeaders } from "node:http";
import { signWebhook, WEBHOOK_HEADERS } from "@launch/protocol";
import type { Dispatcher } from "undici";
import type { SecretsBox } from "../domain/secrets-box.js";
import { openCallbackAuth } from "../services/callback-auth.js";
import { type HttpAgents, isTlsError } from "./http-agents.js";
import type { DeliveryRecord } from "./port.js";
import { type AttemptResult, classifyStatus } from "./retry-policy.js";

/** The most bytes of a receiver's answer that are read; the rest is discarded. */
export const RESPONSE_READ_LIMIT = 4096;

const EXCERPT_CHARS = 200;

const SERVER_VERSION = (
  JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }
).version;

/** The `user-agent` of every callback. */
export const CALLBACK_USER_AGENT = `launch/${SERVER_VERSION}`;

/**
 * Where the sender gets an endpoint's signing secrets. The gateway implements it from the endpoint
 * record (the current secret, plus the previous one during a rotation's grace period).
 *
 * @example const keys: SigningKeys = { secretsFor: async () => ["whsec_..."] };
 */
export interface SigningKeys {
  /**
   * The `whsec_…` secrets that sign callbacks of this endpoint right now, current first. An empty list
   * sends the callback unsigned (e.g. the endpoint was deleted). A rejection fails the attempt as
   * `signing_keys` (retried).
   */
  secretsFor(endpointId: string): Promise<readonly string[]>;
}

export interface CallbackSenderOptions {
  agents: HttpAgents;
  /** Opens the delivery's sealed credentials. */
  secrets: SecretsBox;
  signingKeys: SigningKeys;
  /** Per-attempt timeout (`callbackTimeoutSeconds` × 1000). */
  timeoutMs: number;
  /** Epoch ms; replaceable in tests. */
  clock?: () => number;
}

/** What one attempt did. */
export interface SendOutcome {
  startedAt: number;
  latencyMs: number;
  /** The receiver's status; null when none answered. */
  statusCode: number | null;
  /** null on success. */
  errorClass: string | null;
  errorMessage: string | null;
  /** What the retry policy needs to know. */
  result: AttemptResult;
  /** The caller's signal stopped the attempt (dispatcher stopping): not a real attempt, do not record it. */
  aborted: boolean;
}

/**
 * Sends single attempts.
 *
 * @example
 * const sender = new CallbackSender({ agents, secrets: box, signingKeys, timeoutMs: 10_000 });
 * const outcome = await sender.send(delivery);
 */
export class CallbackSender {
  readonly #options: CallbackSenderOptions;
  readonly #clock: () => number;

  constructor(options: CallbackSenderOptions) {
    this.#options = options;
    this.#clock = options.clock ?? Date.now;
  }

  /** Makes one attempt at `delivery`. Never throws: every failure is an outcome. */
  async send(delivery: DeliveryRecord, signal?: AbortSignal): Promise<SendOutcome> {
    const startedAt = this.#clock();
    const started = performance.now();

    const url = parseUrl(delivery.url);
    if (typeof url === "string") return failure(startedAt, started, "invalid_url", url, false);

    // A flat name/value list: undici takes it as it is, without walking an object.
    const headers: string[] = [
      "content-type",
      "application/json",
      "user-agent",
      CALLBACK_USER_AGENT,
      WEBHOOK_HEADERS.id,
      delivery.id,
    ];
    let dispatcher: ReturnType<HttpAgents["forDelivery"]>;
    try {
      const auth = delivery.auth ? openCallbackAuth(delivery.auth, this.#options.secrets) : null;
      if (auth?.kind === "basic") {
        headers.push(
          "authorization",
          `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString("base64")}`,
        );
      }
      dispatcher = this.#options.agents.forDelivery(
        auth?.kind === "mtls" ? { cert: auth.cert, key: auth.key } : null,
      );
    } catch (error) {
      return failure(
        startedAt,
        started,
        "credentials",
        `the callback credentials could not be used: ${messageOf(error)}`,
        true,
      );
    }
    // The bytes are made once: they are signed and sent as they are.
    const body = Buffer.from(delivery.body);
    try {
      const secrets = await this.#options.signingKeys.secretsFor(delivery.endpointId);
      const timestamp = Math.floor(this.#clock() / 1000);
      headers.push(WEBHOOK_HEADERS.timestamp, String(timestamp));
      if (secrets.length > 0) {
        headers.push(
          WEBHOOK_HEADERS.signature,
          signWebhook({ secret: secrets, id: delivery.id, timestamp, body }),
        );
      }
    } catch (error) {
      return failure(
        startedAt,
        started,
        "signing_keys",
        `the endpoint's signing secret could not be read: ${messageOf(error)}`,
        true,
      );
    }

    const timeoutMs = this.#options.timeoutMs;
    const exchange = new Exchange(timeoutMs);
    const unfollow = signal ? follow(signal, exchange) : undefined;
    try {
      dispatcher.dispatch(
        {
          origin: url.origin,
          path: url.path,
          method: "POST",
          headers,
          body,
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
        },
        exchange,
      );
      await exchange.done;
    } finally {
      unfollow?.();
    }

    if (exchange.timedOut) {
      return failure(startedAt, started, "timeout", `no complete answer within ${formatMs(timeoutMs)}`, true);
    }
    if (exchange.stopped) {
      return {
        ...failure(startedAt, started, "aborted", "the dispatcher stopped during the attempt", true),
        aborted: true,
      };
    }
    if (exchange.error !== undefined) {
      const { errorClass, message, retryable } = classifyError(
        this.#options.agents.tlsErrorBehind(exchange.error) ?? exchange.error,
        timeoutMs,
      );
      return failure(startedAt, started, errorClass, message, retryable);
    }
    const status = exchange.status;
    if (classifyStatus(status) === "delivered") {
      return outcome(startedAt, started, status, null, null, { kind: "response", status });
    }
    const answer = exchange.headers ?? {};
    const excerpt = exchange.excerpt();
    const retryAfter = headerValue(answer["retry-after"]);
    const location = headerValue(answer.location);
    let message = `the receiver answered ${status}`;
    if (status >= 300 && status < 400) {
      message += `; redirects are not followed${location ? ` (Location: ${clip(location)})` : ""}, fix the callback URL`;
    }
    if (retryAfter && (status === 429 || status === 503)) message += ` (Retry-After: ${clip(retryAfter)})`;
    if (excerpt) message += `: ${excerpt}`;
    return outcome(startedAt, started, status, `http_${status}`, message, {
      kind: "response",
      status,
      retryAfter,
    });
  }
}

/** An outcome of an attempt that started at `startedAt` (epoch ms) and `started` (`performance.now()`). */
function outcome(
  startedAt: number,
  started: number,
  statusCode: number | null,
  errorClass: string | null,
  errorMessage: string | null,
  result: AttemptResult,
): SendOutcome {
  return {
    startedAt,
    latencyMs: Math.max(0, Math.round((performance.now() - started) * 1000) / 1000),
    statusCode,
    errorClass,
    errorMessage,
    result,
    aborted: false,
  };
}

/** An outcome where no receiver answered. */
function failure(
  startedAt: number,
  started: number,
  errorClass: string,
  errorMessage: string,
  retryable: boolean,
): SendOutcome {
  return outcome(startedAt, started, null, errorClass, errorMessage, { kind: "error", retryable });
}

/**
 * One POST in flight, as undici's handler of it: it keeps the status, and for an answer other than 2xx
 * its headers and the first {@link RESPONSE_READ_LIMIT} bytes; it ends the exchange at the per-attempt
 * timeout or when the caller aborts. `done` resolves once, when the outcome is known (it never rejects),
 * without a response stream or a promise per step.
 */
class Exchange implements Dispatcher.DispatchHandler {
  readonly done: Promise<void>;
  /** The receiver's status (0 until it answers). */
  status = 0;
  /** The answer's headers, kept only for a status other than 2xx. */
  headers: IncomingHttpHeaders | null = null;
  /** Why the request failed, when it did. */
  error: unknown = undefined;
  timedOut = false;
  /** The caller aborted (the dispatcher is stopping). */
  stopped = false;
  #settled = false;
  #resolve!: () => void;
  #controller: Dispatcher.DispatchController | null = null;
  /** An abort asked for before undici started the request; applied when it does. */
  #pendingAbort: Error | null = null;
  readonly #timer: NodeJS.Timeout;
  #chunks: Buffer[] | null = null;
  #size = 0;

  constructor(timeoutMs: number) {
    this.done = new Promise<void>((resolve) => {
      this.#resolve = resolve;
    });
    this.#timer = setTimeout(() => {
      this.timedOut = true;
      this.#end(new Error(`no complete answer within ${formatMs(timeoutMs)}`));
    }, timeoutMs);
  }

  /** The caller's signal aborted. */
  abort(reason: unknown): void {
    if (this.#settled) return;
    this.stopped = true;
    this.#end(reason instanceof Error ? reason : new Error("the dispatcher is stopping"));
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#pendingAbort) controller.abort(this.#pendingAbort);
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
  ): void {
    if (statusCode < 200) return; // 1xx: the final answer follows
    this.status = statusCode;
    if (statusCode >= 300) {
      this.headers = headers;
      this.#chunks = [];
    }
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.#size += chunk.length;
    this.#chunks?.push(chunk);
    // The status decides the outcome: past the read limit the rest is not waited for (the connection closes).
    if (this.#size >= RESPONSE_READ_LIMIT && !this.#settled) {
      this.#settle();
      controller.abort(new Error("the answer is longer than the read limit"));
    }
  }

  onResponseEnd(): void {
    this.#settle();
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    if (this.#settled) return;
    this.error = error;
    this.#settle();
  }

  /** A short printable excerpt of what was read of the answer. */
  excerpt(): string {
    if (this.#chunks === null || this.#chunks.length === 0) return "";
    return clip(Buffer.concat(this.#chunks).subarray(0, RESPONSE_READ_LIMIT).toString("utf8"));
  }

  #end(reason: Error): void {
    if (this.#settled) return;
    this.#settle();
    if (this.#controller) this.#controller.abort(reason);
    else this.#pendingAbort = reason;
  }

  #settle(): void {
    if (this.#settled) return;
    this.#settled = true;
    clearTimeout(this.#timer);
    this.#resolve();
  }
}

/** The attempts following each caller's signal; one listener per signal, not one per attempt. */
const followers = new WeakMap<AbortSignal, Set<Exchange>>();

/** Ends `exchange` when `signal` aborts (at once if it has); returns how to stop following. */
function follow(signal: AbortSignal, exchange: Exchange): () => void {
  if (signal.aborted) {
    exchange.abort(signal.reason);
    return () => undefined;
  }
  let exchanges = followers.get(signal);
  if (exchanges === undefined) {
    const set = new Set<Exchange>();
    exchanges = set;
    followers.set(signal, set);
    signal.addEventListener(
      "abort",
      () => {
        for (const each of set) each.abort(signal.reason);
        set.clear();
      },
      { once: true },
    );
  }
  exchanges.add(exchange);
  const set = exchanges;
  return () => {
    set.delete(exchange);
  };
}

/** Turns a failed request's error into an error class and a message for the delivery log. */
export function classifyError(
  error: unknown,
  timeoutMs: number,
): { errorClass: string; message: string; retryable: boolean } {
  const chain: (Error & { code?: string })[] = [];
  for (let e: unknown = error; e instanceof Error && chain.length < 5; e = e.cause) chain.push(e);
  const codes = chain.map((e) => (typeof e.code === "string" ? e.code : ""));
  const has = (...wanted: string[]): boolean => codes.some((code) => wanted.includes(code));
  const detail = chain.map((e) => e.message).find((m) => m) ?? String(error);
  if (has("LAUNCH_REFUSED_ADDRESS"))
    return { errorClass: "refused_address", message: detail, retryable: false };
  if (has("UND_ERR_CONNECT_TIMEOUT", "UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT", "ETIMEDOUT")) {
    return {
      errorClass: "timeout",
      message: `no complete answer within ${formatMs(timeoutMs)} (${detail})`,
      retryable: true,
    };
  }
  if (has("ECONNREFUSED"))
    return { errorClass: "connection_refused", message: `connection refused (${detail})`, retryable: true };
  if (has("ENOTFOUND", "EAI_AGAIN", "EAI_FAIL", "EAI_NODATA", "EAI_NONAME")) {
    return { errorClass: "dns", message: `the host name did not resolve (${detail})`, retryable: true };
  }
  if (chain.some((e) => isTlsError(e))) {
    return { errorClass: "tls", message: `TLS failed: ${detail}`, retryable: true };
  }
  if (has("ECONNRESET", "EPIPE", "UND_ERR_SOCKET", "UND_ERR_CLOSED")) {
    return {
      errorClass: "connection_reset",
      message: `the connection closed before an answer (${detail})`,
      retryable: true,
    };
  }
  if (has("EHOSTUNREACH", "ENETUNREACH", "EADDRNOTAVAIL")) {
    return { errorClass: "unreachable", message: `the receiver is unreachable (${detail})`, retryable: true };
  }
  if (has("UND_ERR_INVALID_ARG", "ERR_INVALID_URL"))
    return { errorClass: "invalid_url", message: detail, retryable: false };
  return { errorClass: "network", message: detail, retryable: true };
}

/** A callback URL split as undici takes it. */
interface Target {
  origin: string;
  /** Path and query. */
  path: string;
}

/** Recently parsed callback URLs (most deliveries go to a few URLs); bounded. */
const parsedUrls = new Map<string, Target | string>();
const PARSED_URLS_SIZE = 1024;

/** The URL to POST to, or why it cannot be used. */
function parseUrl(text: string | null): Target | string {
  if (text === null) return "the delivery has no callback URL";
  let parsed = parsedUrls.get(text);
  if (parsed === undefined) {
    parsed = checkUrl(text);
    if (parsedUrls.size >= PARSED_URLS_SIZE) parsedUrls.delete(parsedUrls.keys().next().value as string);
    parsedUrls.set(text, parsed);
  }
  return parsed;
}

function checkUrl(text: string): Target | string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return "the callback URL is not a valid URL";
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return `the callback URL scheme is ${url.protocol.slice(0, -1)}; expected http or https`;
  }
  if (url.username || url.password) return "the callback URL carries credentials; use callback_auth instead";
  return { origin: url.origin, path: `${url.pathname}${url.search}` };
}

function clip(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: strips control characters from receiver text
  const flat = text.replace(/[\u0000-\u001f\u007f]+/g, " ").trim();
  return flat.length > EXCERPT_CHARS ? `${flat.slice(0, EXCERPT_CHARS)}…` : flat;
}

function headerValue(value: string | string[] | undefined): string | null {
  if (value === undefined) return null;
  return typeof value === "string" ? value : (value[0] ?? null);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
