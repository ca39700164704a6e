/**
 * For receivers of Launch callbacks: `verifyCallback` checks a callback's Standard Webhooks signature and
 * returns its JSON payload, and `createCallbackHandler` is a ready `(req, res)` handler for Node's HTTP
 * server built on it. Both use `verifyWebhook` of `@launch/protocol`, the same code the server signs with.
 *
 * **Verify the RAW body.** The signature covers the exact bytes Launch sent. A body that was parsed and
 * re-serialised (`JSON.stringify(req.body)` after a JSON body parser) has other bytes (key order, spaces,
 * number formats) and will NOT verify. Read the body as a string or a Buffer before any JSON parser.
 *
 * Deliveries are **at-least-once**: a callback may arrive more than once (a retry after a lost answer, a
 * replay). `webhook-id` is the delivery's id and stays the same across its retries and replays; use it to
 * drop duplicates (the handler's `seen` option does).
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import {
  DEFAULT_WEBHOOK_TOLERANCE_SECONDS,
  signWebhook,
  verifyWebhook,
  type WebhookHeaders,
  type WebhookVerificationReason,
} from "@launch/protocol";

/** The body of a callback for a task that succeeded: the seed document's `{"task_id", "result"}`. */
export interface CallbackSucceededPayload<Result = unknown> {
  /** The task's id; null for a sync task's callback. */
  task_id: string | null;
  result: Result;
}

/** The body of a callback for a task that failed (sent when the `failed` event is asked for). */
export interface CallbackFailedPayload {
  task_id: string | null;
  status: "FAILURE";
  result: null;
  error: string;
  traceback: string | null;
}

/** What a verified callback carries. Tell the two apart with {@link isFailedCallback}. */
export type CallbackPayload<Result = unknown> = CallbackSucceededPayload<Result> | CallbackFailedPayload;

/**
 * Whether a callback reports a failed task.
 *
 * @example if (isFailedCallback(payload)) console.error(payload.error); else console.log(payload.result);
 */
export function isFailedCallback(payload: CallbackPayload): payload is CallbackFailedPayload {
  return (payload as { status?: unknown }).status === "FAILURE";
}

/** Why a callback failed verification: a signature check of `verifyWebhook`, or a body that is not JSON. */
export type CallbackVerificationReason = WebhookVerificationReason | "invalid_json";

/**
 * Thrown by {@link verifyCallback} when a callback must not be trusted or read. Recognise it by `name`
 * (`"CallbackVerificationError"`); `reason` says which check failed.
 */
export class CallbackVerificationError extends Error {
  override readonly name = "CallbackVerificationError";
  readonly reason: CallbackVerificationReason;

  constructor(reason: CallbackVerificationReason, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.reason = reason;
  }
}

/**
 * Whether `value` is a {@link CallbackVerificationError} (checked by `name`, so it works across copies of
 * the package).
 *
 * @example catch (error) { if (isCallbackVerificationError(error)) return res.writeHead(401).end(); throw error; }
 */
export function isCallbackVerificationError(value: unknown): value is CallbackVerificationError {
  return value instanceof Error && value.name === "CallbackVerificationError" && "reason" in value;
}

/** Request headers: Node's `req.headers`, a fetch `Headers`, or a plain object (names in any case). */
export type CallbackHeaders = IncomingHttpHeaders | WebhookHeaders;

/** What {@link verifyCallback} checks. */
export interface VerifyCallbackOptions {
  headers: CallbackHeaders;
  /** The RAW body exactly as received, as text or bytes. A re-serialised JSON body will not verify. */
  body: string | Uint8Array;
  /**
   * The endpoint's signing secret (`whsec_…`, from `client.getCallbackSecret(endpoint)`). Several are
   * accepted, any one matching is enough (for example the old and the new one while you switch).
   */
  secret: string | readonly string[];
  /** Largest accepted distance between `webhook-timestamp` and the receiver's clock. Default 300 s. */
  toleranceSeconds?: number | undefined;
}

/** A verified callback: its payload, and its `webhook-id` and `webhook-timestamp`. */
export interface VerifiedCallback<Result = unknown> {
  payload: CallbackPayload<Result>;
  /** `webhook-id`: the delivery id (`dlv_…`), the same on every retry and replay of the delivery. */
  webhookId: string;
  /** `webhook-timestamp`: Unix seconds when this attempt was signed. */
  timestamp: number;
}

/**
 * Verifies a callback from Launch and returns its JSON payload (`{task_id, result}`, or the failure shape
 * `{task_id, status: "FAILURE", result: null, error, traceback}`).
 *
 * Throws a {@link CallbackVerificationError} whose `reason` says what failed: `missing_headers`,
 * `bad_timestamp`, `timestamp_too_old` (a replayed request; or a clock off by more than
 * `toleranceSeconds`), `timestamp_too_new`, `bad_signature` (wrong secret, or the body was changed or
 * re-serialised), `invalid_json` (signed, but not JSON). A malformed `secret` throws a `TypeError`
 * instead: that is a configuration mistake on your side, not a forged callback.
 *
 * Pass the RAW body: a body parsed and re-serialised with `JSON.stringify` does not verify.
 *
 * @example
 * const payload = verifyCallback({ headers: req.headers, body: rawBody, secret: process.env.LAUNCH_WHSEC! });
 * console.log(payload.task_id, payload.result); // "tsk_01…" 7
 */
export function verifyCallback<Result = unknown>(options: VerifyCallbackOptions): CallbackPayload<Result> {
  return verifyCallbackDelivery<Result>(options).payload;
}

/**
 * As {@link verifyCallback}, but also returns the callback's `webhook-id` (for dropping duplicates) and
 * `webhook-timestamp`.
 *
 * @example
 * const { webhookId, payload } = verifyCallbackDelivery({ headers: req.headers, body: rawBody, secret });
 * if (!processed.has(webhookId)) await handle(payload);
 */
export function verifyCallbackDelivery<Result = unknown>(
  options: VerifyCallbackOptions,
): VerifiedCallback<Result> {
  let verified: { id: string; timestamp: number };
  try {
    verified = verifyWebhook({
      headers: options.headers as WebhookHeaders,
      body: options.body,
      secret: options.secret,
      toleranceSeconds: options.toleranceSeconds ?? DEFAULT_WEBHOOK_TOLERANCE_SECONDS,
    });
  } catch (error) {
    if (error instanceof Error && error.name === "WebhookVerificationError" && "reason" in error) {
      const reason = error.reason as WebhookVerificationReason;
      const hint =
        reason === "bad_signature"
          ? " (check the secret, and pass the raw body: a re-serialised JSON body does not verify)"
          : "";
      throw new CallbackVerificationError(reason, `${error.message}${hint}`, { cause: error });
    }
    throw error;
  }
  const text = typeof options.body === "string" ? options.body : new TextDecoder().decode(options.body);
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch (error) {
    throw new CallbackVerificationError(
      "invalid_json",
      `the callback is signed but its body is not JSON (${error instanceof Error ? error.message : String(error)})`,
      { cause: error },
    );
  }
  if (typeof payload !== "object" || payload === null || Array.isArray(payload) || !("task_id" in payload)) {
    throw new CallbackVerificationError(
      "invalid_json",
      'the callback is signed but its body is not a JSON object with "task_id"',
    );
  }
  return {
    payload: payload as CallbackPayload<Result>,
    webhookId: verified.id,
    timestamp: verified.timestamp,
  };
}

// ---- the Node HTTP handler ---------------------------------------------------------------------------

/** The largest body the handler reads by default: 10 MiB. */
export const DEFAULT_CALLBACK_MAX_BODY_BYTES = 10 * 1024 * 1024;

/** What `onCallback` gets besides the payload. */
export interface CallbackMeta {
  /** `webhook-id`: the delivery id, the same on every retry and replay. */
  webhookId: string;
  /** `webhook-timestamp`, Unix seconds. */
  timestamp: number;
  /** The request, for its headers (e.g. `authorization` when the endpoint uses basic auth). */
  request: IncomingMessage;
}

/**
 * The ids of callbacks already handled, to drop duplicates. A `Set<string>` fits (in one process, kept
 * in memory, growing without bound); for several processes or restarts, back it with a shared store and
 * expire ids after a while. `has` may be async.
 */
export interface CallbackSeenIds {
  has(id: string): boolean | PromiseLike<boolean>;
  add(id: string): unknown;
}

/** Options of {@link createCallbackHandler}. */
export interface CallbackHandlerOptions<Result = unknown> {
  /** The endpoint's signing secret, or several (any one matching is enough). */
  secret: string | readonly string[];
  /**
   * Called once per verified callback (once per `webhook-id` when `seen` is given). Resolve to accept it
   * (204); throw or reject to have Launch retry it later (500).
   */
  onCallback(payload: CallbackPayload<Result>, meta: CallbackMeta): unknown;
  /** Largest accepted distance between `webhook-timestamp` and now. Default 300 s. */
  toleranceSeconds?: number | undefined;
  /** Bodies larger than this answer 413. Default 10 MiB. */
  maxBodyBytes?: number | undefined;
  /**
   * Drop duplicates: a callback whose `webhook-id` is in `seen` answers 204 without calling
   * `onCallback`; one that `onCallback` accepted is added. A duplicate that arrives while the first copy
   * is still being handled waits for it and answers as it did.
   */
  seen?: CallbackSeenIds | undefined;
  /**
   * Told when `onCallback` throws (the handler answers 500). Default: `console.error`. Rejected
   * callbacks (401, 400, 413) are not reported here; Launch's delivery log records them.
   */
  onError?: ((error: unknown, meta: CallbackMeta) => void) | undefined;
}

/**
 * A handler for Launch callbacks on Node's HTTP server: reads the raw body (at most `maxBodyBytes`),
 * verifies its signature, and calls `onCallback(payload, meta)`. It answers:
 *
 * | status | when |
 * |---|---|
 * | 204 | `onCallback` resolved (or the callback is a duplicate in `seen`) |
 * | 400 | signed, but the body is not a JSON callback (Launch does not retry) |
 * | 401 | a header is missing, the timestamp is out of tolerance, or no signature matches |
 * | 405 | not a POST |
 * | 413 | the body is larger than `maxBodyBytes` |
 * | 500 | `onCallback` threw or rejected: Launch retries later |
 *
 * Use it as `http.createServer(handler)` or as a route handler (e.g. `app.post("/launch", handler)` in
 * Express), mounted before any JSON body parser; a framework that already read the raw body into
 * `req.body` as a Buffer or string (`express.raw({ type: "application/json" })`) works too.
 * Deliveries are at-least-once: pass `seen` to drop duplicates.
 *
 * @example
 * const handler = createCallbackHandler({
 *   secret: process.env.LAUNCH_WHSEC!,
 *   seen: new Set(),
 *   async onCallback(payload, { webhookId }) {
 *     if (isFailedCallback(payload)) console.error(webhookId, payload.error);
 *     else await saveResult(payload.task_id, payload.result);
 *   },
 * });
 * http.createServer(handler).listen(8080);
 */
export function createCallbackHandler<Result = unknown>(
  options: CallbackHandlerOptions<Result>,
): (req: IncomingMessage, res: ServerResponse) => void {
  checkSecrets(options.secret);
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_CALLBACK_MAX_BODY_BYTES;
  if (!Number.isInteger(maxBodyBytes) || maxBodyBytes < 0) {
    throw new TypeError(`maxBodyBytes must be a whole number of bytes (got ${String(options.maxBodyBytes)})`);
  }
  const onError =
    options.onError ??
    ((error: unknown, meta: CallbackMeta) =>
      console.error(`launch callback handler: onCallback failed for webhook-id ${meta.webhookId}:`, error));
  /** Callbacks being handled, by `webhook-id`, so a concurrent duplicate waits for the first. */
  const inFlight = new Map<string, Promise<boolean>>();

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== "POST") {
      return answer(res, 405, "callbacks are POSTed", { allow: "POST" });
    }
    const body = await readRawBody(req, maxBodyBytes);
    if (body === "too_large") {
      return answer(res, 413, `the body is larger than ${maxBodyBytes} bytes`, { connection: "close" });
    }
    if (body === "parsed") {
      onError(
        new TypeError(
          "req.body was already parsed as JSON by a body parser, so the signature cannot be checked: mount the callback handler before it, or read the raw body (express.raw)",
        ),
        { webhookId: "", timestamp: 0, request: req },
      );
      return answer(res, 500, "the receiver cannot read the raw body");
    }
    if (body === "aborted") return;

    let verified: VerifiedCallback<Result>;
    try {
      verified = verifyCallbackDelivery<Result>({
        headers: req.headers,
        body,
        secret: options.secret,
        toleranceSeconds: options.toleranceSeconds,
      });
    } catch (error) {
      if (!isCallbackVerificationError(error)) throw error;
      return answer(res, error.reason === "invalid_json" ? 400 : 401, error.message);
    }
    const meta: CallbackMeta = { webhookId: verified.webhookId, timestamp: verified.timestamp, request: req };
    const seen = options.seen;

    let accepted: boolean;
    if (seen === undefined) {
      accepted = await run(options, verified.payload, meta, onError);
    } else {
      const running = inFlight.get(meta.webhookId);
      if (running !== undefined) accepted = await running;
      else {
        // Registered before the first await, so a concurrent duplicate finds it.
        const first = (async () => {
          if (await seen.has(meta.webhookId)) return true;
          const ok = await run(options, verified.payload, meta, onError);
          if (ok) await seen.add(meta.webhookId);
          return ok;
        })();
        inFlight.set(meta.webhookId, first);
        try {
          accepted = await first;
        } finally {
          inFlight.delete(meta.webhookId);
        }
      }
    }
    if (accepted) return answer(res, 204);
    return answer(res, 500, "the receiver failed to handle the callback; Launch will retry it");
  };

  return (req, res) => {
    handle(req, res).catch((error: unknown) => {
      onError(error, { webhookId: "", timestamp: 0, request: req });
      if (!res.headersSent) answer(res, 500, "the receiver failed");
      else res.destroy();
    });
  };
}

async function run<Result>(
  options: CallbackHandlerOptions<Result>,
  payload: CallbackPayload<Result>,
  meta: CallbackMeta,
  onError: (error: unknown, meta: CallbackMeta) => void,
): Promise<boolean> {
  try {
    await options.onCallback(payload, meta);
    return true;
  } catch (error) {
    onError(error, meta);
    return false;
  }
}

/** Fails at set-up, not on every callback, when a secret is malformed. */
function checkSecrets(secret: string | readonly string[]): void {
  if (typeof secret !== "string" && !Array.isArray(secret)) {
    throw new TypeError(
      "secret is required: the endpoint's signing secret ('whsec_…', from client.getCallbackSecret(endpoint))",
    );
  }
  const secrets = typeof secret === "string" ? [secret] : secret;
  if (secrets.length === 0) throw new TypeError("secret must name at least one signing secret ('whsec_…')");
  // signWebhook rejects a secret that is not `whsec_` and base64, with a message saying so.
  for (const one of secrets) signWebhook({ secret: one, id: "check", timestamp: 0, body: "" });
}

/**
 * The raw body as bytes: read from the stream (stopping once it passes `max`), or taken from `req.body`
 * when a framework already read it raw. `"parsed"` when a body parser turned it into an object.
 */
async function readRawBody(
  req: IncomingMessage,
  max: number,
): Promise<Buffer | "too_large" | "parsed" | "aborted"> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > max) {
    req.resume();
    return "too_large";
  }
  const preRead = (req as { body?: unknown }).body;
  if (req.readableEnded && preRead !== undefined) {
    if (typeof preRead === "string") return Buffer.from(preRead);
    if (preRead instanceof Uint8Array) return Buffer.from(preRead);
    return "parsed";
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (value: Buffer | "too_large" | "aborted") => {
      if (done) return;
      done = true;
      resolve(value);
    };
    req.on("data", (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > max) {
        chunks.length = 0;
        finish("too_large");
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => finish(Buffer.concat(chunks)));
    req.on("error", () => finish("aborted"));
    req.on("close", () => finish(req.readableEnded ? Buffer.concat(chunks) : "aborted"));
  });
}

function answer(res: ServerResponse, status: number, detail?: string, headers: Record<string, string> = {}) {
  if (detail === undefined) {
    res.writeHead(status, headers).end();
    return;
  }
  const text = JSON.stringify({ detail });
  res
    .writeHead(status, {
      ...headers,
      "content-type": "application/json",
      "content-length": String(Buffer.byteLength(text)),
    })
    .end(text);
}
