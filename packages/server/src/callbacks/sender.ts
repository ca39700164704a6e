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
import { signWebhook, WEBHOOK_HEADERS } from "@launch/protocol";
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
    const finish = (
      fields: Pick<SendOutcome, "statusCode" | "errorClass" | "errorMessage" | "result"> & {
        aborted?: boolean;
      },
    ): SendOutcome => ({
      startedAt,
      latencyMs: Math.max(0, Math.round((performance.now() - started) * 1000) / 1000),
      aborted: false,
      ...fields,
    });
    const fail = (errorClass: string, errorMessage: string, retryable: boolean): SendOutcome =>
      finish({ statusCode: null, errorClass, errorMessage, result: { kind: "error", retryable } });

    const url = parseUrl(delivery.url);
    if (typeof url === "string") return fail("invalid_url", url, false);

    const headers: Record<string, string> = {
      "content-type": "application/json",
      "user-agent": CALLBACK_USER_AGENT,
      [WEBHOOK_HEADERS.id]: delivery.id,
    };
    let dispatcher: ReturnType<HttpAgents["forDelivery"]>;
    try {
      const auth = delivery.auth ? openCallbackAuth(delivery.auth, this.#options.secrets) : null;
      if (auth?.kind === "basic") {
        headers.authorization = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString("base64")}`;
      }
      dispatcher = this.#options.agents.forDelivery(
        auth?.kind === "mtls" ? { cert: auth.cert, key: auth.key } : null,
      );
    } catch (error) {
      return fail("credentials", `the callback credentials could not be used: ${messageOf(error)}`, true);
    }
    try {
      const secrets = await this.#options.signingKeys.secretsFor(delivery.endpointId);
      const timestamp = Math.floor(this.#clock() / 1000);
      headers[WEBHOOK_HEADERS.timestamp] = String(timestamp);
      if (secrets.length > 0) {
        headers[WEBHOOK_HEADERS.signature] = signWebhook({
          secret: secrets,
          id: delivery.id,
          timestamp,
          body: delivery.body,
        });
      }
    } catch (error) {
      return fail(
        "signing_keys",
        `the endpoint's signing secret could not be read: ${messageOf(error)}`,
        true,
      );
    }

    const timeoutMs = this.#options.timeoutMs;
    const abort = new AttemptAbort();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      abort.abort(new Error(`no complete answer within ${formatMs(timeoutMs)}`));
    }, timeoutMs);
    const unfollow = signal ? follow(signal, abort) : undefined;
    try {
      const response = await dispatcher.request({
        origin: url.origin,
        path: url.path,
        method: "POST",
        headers,
        body: delivery.body,
        signal: abort as unknown as AbortSignal,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      const status = response.statusCode;
      const verdict = classifyStatus(status);
      if (verdict === "delivered") {
        // No excerpt is kept for a success: just drain (at most the read limit) so the connection is reused.
        await drain(response.body);
        return finish({
          statusCode: status,
          errorClass: null,
          errorMessage: null,
          result: { kind: "response", status },
        });
      }
      const excerpt = await readExcerpt(response.body);
      const retryAfter = headerValue(response.headers["retry-after"]);
      const location = headerValue(response.headers.location);
      let message = `the receiver answered ${status}`;
      if (status >= 300 && status < 400) {
        message += `; redirects are not followed${location ? ` (Location: ${clip(location)})` : ""}, fix the callback URL`;
      }
      if (retryAfter && (status === 429 || status === 503)) message += ` (Retry-After: ${clip(retryAfter)})`;
      if (excerpt) message += `: ${excerpt}`;
      return finish({
        statusCode: status,
        errorClass: `http_${status}`,
        errorMessage: message,
        result: { kind: "response", status, retryAfter },
      });
    } catch (error) {
      if (timedOut) return fail("timeout", `no complete answer within ${formatMs(timeoutMs)}`, true);
      if (signal?.aborted)
        return { ...fail("aborted", "the dispatcher stopped during the attempt", true), aborted: true };
      const { errorClass, message, retryable } = classifyError(
        this.#options.agents.tlsErrorBehind(error) ?? error,
        timeoutMs,
      );
      return fail(errorClass, message, retryable);
    } finally {
      clearTimeout(timer);
      unfollow?.();
    }
  }
}

/**
 * The abort signal of one attempt, in the shape undici accepts (`aborted`, `reason`, add/remove an
 * `abort` listener): much lighter than an `AbortController` per attempt.
 */
class AttemptAbort {
  aborted = false;
  reason: unknown = undefined;
  #listeners: (() => void)[] = [];

  addEventListener(_type: "abort", listener: () => void): void {
    this.#listeners.push(listener);
  }

  removeEventListener(_type: "abort", listener: () => void): void {
    const i = this.#listeners.indexOf(listener);
    if (i >= 0) this.#listeners.splice(i, 1);
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const listeners = this.#listeners;
    this.#listeners = [];
    for (const listener of listeners) listener();
  }
}

/** The attempts following each caller's signal; one listener per signal, not one per attempt. */
const followers = new WeakMap<AbortSignal, Set<AttemptAbort>>();

/** Aborts `attempt` when `signal` aborts (at once if it has); returns how to stop following. */
function follow(signal: AbortSignal, attempt: AttemptAbort): () => void {
  if (signal.aborted) {
    attempt.abort(signal.reason);
    return () => undefined;
  }
  let attempts = followers.get(signal);
  if (attempts === undefined) {
    const set = new Set<AttemptAbort>();
    attempts = set;
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
  attempts.add(attempt);
  const set = attempts;
  return () => {
    set.delete(attempt);
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

/** Reads and drops the answer: at most {@link RESPONSE_READ_LIMIT} bytes, then the connection is closed. */
async function drain(body: { dump(options: { limit: number }): Promise<void> }): Promise<void> {
  try {
    await body.dump({ limit: RESPONSE_READ_LIMIT });
  } catch {
    // The status decides the outcome; a body cut short does not change it.
  }
}

/** Reads at most {@link RESPONSE_READ_LIMIT} bytes (then drops the rest) and returns a short printable excerpt. */
async function readExcerpt(body: AsyncIterable<Buffer> & { destroy(): unknown }): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= RESPONSE_READ_LIMIT) break;
    }
  } catch {
    // The status decides the outcome; a body cut short (or stalled until the timeout) only shortens the excerpt.
  } finally {
    body.destroy();
  }
  return clip(Buffer.concat(chunks).subarray(0, RESPONSE_READ_LIMIT).toString("utf8"));
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
