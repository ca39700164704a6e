/**
 * Forwarding sync and streaming tasks to a worker's HTTP port (`POST <worker>/predict`, `/stream`) over
 * the pooled keep-alive connections of `WorkerPools`. One function per kind of task; both:
 *
 * - borrow a ready worker with `acquire` (the orchestrator's `acquireWorker`) and give it back when done;
 * - honour one deadline, `timeoutMs`, for finding a worker and getting its answer (streaming: its first
 *   byte; the stream itself then runs as long as the model streams). Past it: 504 `timeout`. No worker
 *   ready in time: the 503 `unavailable` that `acquire` raises;
 * - retry on another loan, at most `retries` times, when the connection to a worker fails (refused, reset,
 *   closed before an answer) or the worker refuses with 503 (it is draining). A model error is an answer,
 *   never retried. A connection that drops mid-request may have let the model start: predictions are
 *   assumed safe to repeat (`num_retries: 0` turns retries off). Out of tries: 503 `unavailable`;
 * - stop the worker's request when the client goes away (`signal`), raising `ClientClosedError`.
 *
 * Nothing here allocates an abort controller or a timer per request: the deadline is undici's
 * `headersTimeout` and `bodyTimeout` for what is left of it, and the client's `signal` goes to undici as
 * it is (the route aborts it only when the client actually went away).
 *
 * Runnable images: a sync request with plain `args` (`modelBody`) goes straight to the model's own HTTP
 * server when the loan names it (`loan.modelUrl`), skipping the worker's hop, and its reply is turned
 * into the sync response here exactly as the worker would (`modelReplyOutcome`, `syncResponseBody` of
 * `@launch/protocol`). Requests with a `url` or `return_pickled`, and streams, go through the worker.
 * A refused or broken connection to the model is retried like one to a worker; out of tries, the answer
 * is a FAILURE naming the failure, as the worker's would be (`bundles.md` §2).
 *
 * A streaming answer is passed through byte for byte as it arrives, never buffered. When the worker's
 * stream breaks off between two events, a last FAILURE event says so; in the middle of an event, the
 * response is cut (a partial event cannot be completed).
 */
import { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import {
  isLaunchError,
  LaunchError,
  modelReplyOutcome,
  type PredictOutcome,
  SYNC_TIMEOUT_MAX_SECONDS,
  syncResponseBody,
} from "@launch/protocol";
import type { Dispatcher } from "undici";
import type { WorkerLoan } from "../orchestration/port.js";
import type { WorkerPools } from "./worker-pools.js";

/** One sync or streaming request to forward. */
export interface ForwardRequest {
  /** The endpoint the request is for (named in error messages). */
  endpointId: string;
  /** Lends a ready worker of the endpoint: `orchestrator.acquireWorker(endpointId, timeoutMs, signal)`. */
  acquire(timeoutMs: number, signal?: AbortSignal): Promise<WorkerLoan>;
  pools: WorkerPools;
  /** The worker request `{args?, url?, return_pickled?}` as JSON text. */
  body: string;
  /**
   * The request as a runnable image's model server takes it (compact JSON of `args`), when it may skip
   * the worker: sync requests with `args` and neither `url` nor `return_pickled`. Ignored for streams.
   */
  modelBody?: string | undefined;
  /** Deadline, from now, for a worker and its answer (streaming: its first byte). */
  timeoutMs: number;
  /** Further tries after a connection failure or a worker's 503 (at least 0). */
  retries: number;
  /** Aborts when the client goes away (or the server shuts down). */
  signal?: AbortSignal;
}

/** The client went away before the answer; there is nobody to answer. */
export class ClientClosedError extends Error {
  override readonly name = "ClientClosedError";
  constructor() {
    super("the client closed the connection before the answer");
  }
}

const JSON_HEADERS = { "content-type": "application/json" } as const;

/**
 * Forwards a sync task and resolves with the worker's answer as JSON text: the sync response shape
 * `{"status", "result", "traceback", "status_code", ...}` exactly as the worker wrote it, or, when the worker
 * answered with an HTTP error, a FAILURE of that shape carrying its status and body (as the reference
 * server does). A 400 from the worker is a 400 `Invalid request` here.
 *
 * @example
 * const json = await forwardPredict({ endpointId, acquire: (t, s) => orchestrator.acquireWorker(endpointId, t, s),
 *   pools, body: JSON.stringify({ args: { x: 2 } }), timeoutMs: 60_000, retries: 3, signal });
 */
export async function forwardPredict(request: ForwardRequest): Promise<string> {
  const call = new Call(request, "finish");
  try {
    const sent = await send(request, "/predict", call);
    if ("failed" in sent) return syncResponseBody(sent.failed);
    const { loan, response, modelRoute } = sent;
    try {
      const text = await response.body.text();
      if (modelRoute !== undefined) {
        return syncResponseBody(modelReplyOutcome(text, response.statusCode, modelRoute));
      }
      return predictAnswer(response.statusCode, text);
    } finally {
      loan.release();
    }
  } catch (error) {
    throw call.translate(error);
  }
}

/**
 * Forwards a streaming task and resolves, once the worker has answered, with the response body to send
 * (`text/event-stream` bytes, as they come). Destroying the returned stream (the client went away) stops
 * the worker's request; the loan is given back when the stream ends either way.
 */
export async function forwardStream(request: ForwardRequest): Promise<Readable> {
  const call = new Call(request, "start streaming");
  let sent: Sent;
  try {
    // The deadline covers the wait for the first byte (`headersTimeout`); the stream then lasts as long
    // as the model streams (no `bodyTimeout`). Streams always go through the worker: never `failed`.
    sent = (await send(request, "/stream", call)) as Sent;
  } catch (error) {
    throw call.translate(error);
  }
  const { loan, response } = sent;
  if (response.statusCode === 200) return relay(response.body, loan, call);
  try {
    const text = await response.body.text();
    if (response.statusCode === 400) throw invalidRequest(text);
    // The reference answers an upstream error with one FAILURE event.
    return Readable.from([Buffer.from(`data: ${failureJson(text, response.statusCode)}\n\n`)]);
  } catch (error) {
    throw call.translate(error);
  } finally {
    loan.release();
  }
}

interface Sent {
  loan: WorkerLoan;
  response: Dispatcher.ResponseData;
  /** Set when the model server answered directly: its predict route. */
  modelRoute?: string | undefined;
}

/** Most connections the gateway opens to one model server (the worker's own pool to it has as many). */
const MODEL_CONNECTIONS = 128;

/**
 * Sends the request to a borrowed worker (or its model server, see the file comment), on another loan
 * after a connection failure or a worker's 503. `failed`: the model server could not be reached at the
 * last try.
 */
async function send(
  request: ForwardRequest,
  path: string,
  call: Call,
): Promise<Sent | { failed: PredictOutcome }> {
  let failure = "";
  for (let attempt = 0; ; attempt++) {
    const remaining = call.remainingMs();
    if (remaining <= 0) throw call.timeout();
    // Only the client's signal: when no worker becomes ready in time, `acquire` says so (503).
    const loan = await request.acquire(remaining, request.signal);
    const modelRoute =
      path === "/predict" && request.modelBody !== undefined && loan.modelUrl !== undefined
        ? (loan.modelPredictRoute ?? "/predict")
        : undefined;
    const target = modelRoute === undefined ? loan.url : (loan.modelUrl as string);
    try {
      const pool =
        modelRoute === undefined ? request.pools.get(target) : request.pools.get(target, MODEL_CONNECTIONS);
      const response = await pool.request({
        method: "POST",
        path: modelRoute ?? path,
        headers:
          modelRoute === undefined && loan.headers ? { ...JSON_HEADERS, ...loan.headers } : JSON_HEADERS,
        body: modelRoute === undefined ? request.body : request.modelBody,
        signal: request.signal ?? null,
        ...call.timeouts(),
      });
      // A model's 503 is its answer; a worker's means it is draining.
      if (modelRoute !== undefined) return { loan, response, modelRoute };
      if (response.statusCode !== 503) return { loan, response };
      failure = `the worker answered 503 (${detailOf(await response.body.text())})`;
    } catch (error) {
      loan.release();
      if (call.clientClosed || !isConnectionFailure(error)) throw error;
      request.pools.discard(target);
      failure = describeFailure(error);
      if (attempt >= request.retries) {
        if (modelRoute !== undefined) return { failed: modelUnreachable(target, modelRoute, error) };
        throw unreachable(request, attempt + 1, failure);
      }
      await call.backoff(attempt);
      continue;
    }
    loan.release();
    if (attempt >= request.retries) throw unreachable(request, attempt + 1, failure);
    await call.backoff(attempt);
  }
}

/** The sync answer for a worker's response (see `forwardPredict`). */
function predictAnswer(statusCode: number, text: string): string {
  // Our worker always answers 200 with the sync response shape; pass its bytes through untouched.
  if (statusCode === 200 && text.startsWith("{")) return text;
  if (statusCode === 400) throw invalidRequest(text);
  return failureJson(text, statusCode);
}

/** The worker's stream, chunk by chunk as it arrives, then the loan back. */
function relay(body: Dispatcher.ResponseData["body"], loan: WorkerLoan, call: Call): Readable {
  // The last bytes passed on: a FAILURE event may follow only at an event boundary (a blank line).
  let tail = "\n\n";
  let finished = false;
  const finish = (): void => {
    if (finished) return;
    finished = true;
    loan.release();
  };
  const out = new Readable({
    read: () => {
      body.resume();
    },
    // The client went away: stop the worker's request at once (destroying undici's body aborts it; an
    // async iterator could not be interrupted while it waits for the next chunk) and give the worker back.
    destroy: (error, callback) => {
      body.destroy();
      finish();
      callback(error);
    },
  });
  body.on("data", (chunk: Buffer) => {
    tail = (tail + chunk.toString("latin1")).slice(-4);
    if (!out.push(chunk)) body.pause();
  });
  body.on("end", () => {
    out.push(null);
    finish();
  });
  body.on("error", (error) => {
    if (out.destroyed) return;
    if (call.clientClosed || (!tail.endsWith("\n\n") && !tail.endsWith("\r\n\r\n"))) {
      out.destroy(error);
      return;
    }
    const reason = `The worker's stream broke off: ${describeFailure(error)}`;
    out.push(Buffer.from(`data: ${failureJson(reason, null)}\n\n`));
    out.push(null);
    finish();
  });
  return out;
}

/** The deadline and the client's signal of one forwarded request. */
class Call {
  readonly #request: ForwardRequest;
  readonly #what: "finish" | "start streaming";
  readonly #started = performance.now();

  constructor(request: ForwardRequest, what: "finish" | "start streaming") {
    this.#request = request;
    this.#what = what;
  }

  get clientClosed(): boolean {
    return this.#request.signal?.aborted === true;
  }

  remainingMs(): number {
    return this.#request.timeoutMs - (performance.now() - this.#started);
  }

  /**
   * undici's timeouts for the rest of the deadline: the answer's headers, and (sync answers only) each
   * chunk of its body. A stream's body has none: it lasts as long as the model streams.
   */
  timeouts(): { headersTimeout: number; bodyTimeout: number } {
    const left = Math.max(1, Math.ceil(this.remainingMs()));
    return { headersTimeout: left, bodyTimeout: this.#what === "finish" ? left : 0 };
  }

  /** Waits before another try (never past the deadline); rejects when the client goes away meanwhile. */
  backoff(attempt: number): Promise<void> {
    const ms = Math.max(0, Math.min(backoffMs(attempt), this.remainingMs()));
    return sleep(ms, undefined, this.#request.signal ? { signal: this.#request.signal } : undefined);
  }

  timeout(): LaunchError {
    const seconds = Math.round(this.#request.timeoutMs) / 1000;
    return new LaunchError(
      "timeout",
      `The task on model endpoint ${this.#request.endpointId} did not ${this.#what} within timeout_seconds (${seconds} s). Raise timeout_seconds (at most ${SYNC_TIMEOUT_MAX_SECONDS}) or use an async endpoint for long predictions.`,
    );
  }

  /** What to raise for an error of this call: LaunchErrors as they are, the client leaving, the deadline. */
  translate(error: unknown): unknown {
    if (isLaunchError(error)) return error;
    if (this.clientClosed) return new ClientClosedError();
    if (hasCode(error, TIMEOUTS)) return this.timeout();
    return error;
  }
}

/** undici's errors for a passed `headersTimeout` or `bodyTimeout`. */
const TIMEOUTS = new Set(["UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT"]);

/** Error codes that mean the request never got an answer from the worker's process. */
const CONNECTION_FAILURES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_CLOSED",
]);

function isConnectionFailure(error: unknown): boolean {
  return hasCode(error, CONNECTION_FAILURES);
}

/** Whether the error, or one of its causes, has one of these codes. */
function hasCode(error: unknown, codes: ReadonlySet<string>): boolean {
  for (let e = error as { code?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 4; depth++) {
    if (typeof e.code === "string" && codes.has(e.code)) return true;
    e = e.cause as typeof e;
  }
  return false;
}

function describeFailure(error: unknown): string {
  const e = error as { message?: string; code?: string; cause?: { message?: string } };
  const message = e?.cause?.message ?? e?.message ?? String(error);
  return e?.code && !message.includes(e.code) ? `${message} (${e.code})` : message;
}

function backoffMs(attempt: number): number {
  return Math.min(50 * 2 ** attempt, 1_000);
}

/** The worker's wording for a model server it could not reach (`requestFailure` in `runnable-image.ts`). */
function modelUnreachable(modelUrl: string, route: string, error: unknown): PredictOutcome {
  const e = error as { code?: string; message?: string };
  const what =
    e.code === "ECONNREFUSED"
      ? "ECONNREFUSED (nothing listens on the port yet)"
      : e.code && e.message
        ? `${e.code} (${e.message})`
        : (e.message ?? String(error));
  const port = URL.canParse(modelUrl) ? new URL(modelUrl).port : modelUrl;
  return {
    ok: false,
    error: `POST ${route} to the model server on port ${port} failed: ${what}.`,
    traceback: null,
    statusCode: null,
  };
}

function unreachable(request: ForwardRequest, attempts: number, failure: string): LaunchError {
  return new LaunchError(
    "unavailable",
    `Could not reach a worker of model endpoint ${request.endpointId} (${attempts} attempt${attempts === 1 ? "" : "s"}): ${failure}. Its workers may be restarting; try again.`,
  );
}

function invalidRequest(text: string): LaunchError {
  return new LaunchError("bad_request", `Invalid request: ${detailOf(text)}`);
}

/** `detail` of a JSON error body, else the body itself (shortened). */
function detailOf(text: string): string {
  try {
    const detail = (JSON.parse(text) as { detail?: unknown }).detail;
    if (typeof detail === "string") return detail;
  } catch {
    // Not JSON: the text is the detail.
  }
  return text.length > 2_000 ? `${text.slice(0, 2_000)}…` : text;
}

/** The sync response shape of a failure the model did not report itself. */
function failureJson(traceback: string, statusCode: number | null): string {
  return JSON.stringify({ status: "FAILURE", result: null, traceback, status_code: statusCode });
}
