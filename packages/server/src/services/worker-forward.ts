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
 * A streaming answer is passed through byte for byte as it arrives, never buffered. When the worker's
 * stream breaks off between two events, a last FAILURE event says so; in the middle of an event, the
 * response is cut (a partial event cannot be completed).
 */
import { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { isLaunchError, LaunchError, SYNC_TIMEOUT_MAX_SECONDS } from "@launch/protocol";
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
    const { loan, response } = await send(request, "/predict", call);
    try {
      const text = await response.body.text();
      return predictAnswer(response.statusCode, text);
    } finally {
      loan.release();
    }
  } catch (error) {
    throw call.translate(error);
  } finally {
    call.end();
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
    sent = await send(request, "/stream", call);
  } catch (error) {
    call.end();
    throw call.translate(error);
  }
  // The deadline covers the wait for the first byte; the stream then lasts as long as the model streams.
  call.stopDeadline();
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
    call.end();
  }
}

interface Sent {
  loan: WorkerLoan;
  response: Dispatcher.ResponseData;
}

/** Sends the request to a borrowed worker, on another loan after a connection failure or a 503. */
async function send(request: ForwardRequest, path: string, call: Call): Promise<Sent> {
  let failure = "";
  for (let attempt = 0; ; attempt++) {
    const remaining = call.remainingMs();
    if (remaining <= 0) throw call.timeout();
    // Only the client's signal: when no worker becomes ready in time, `acquire` says so (503).
    const loan = await request.acquire(remaining, request.signal);
    try {
      const response = await request.pools.get(loan.url).request({
        method: "POST",
        path,
        headers: JSON_HEADERS,
        body: request.body,
        signal: call.signal,
      });
      if (response.statusCode !== 503) return { loan, response };
      failure = `the worker answered 503 (${detailOf(await response.body.text())})`;
    } catch (error) {
      loan.release();
      if (call.signal.aborted || !isConnectionFailure(error)) throw error;
      request.pools.discard(loan.url);
      failure = describeFailure(error);
      if (attempt >= request.retries) throw unreachable(request, attempt + 1, failure);
      await sleep(backoffMs(attempt), undefined, { signal: call.signal });
      continue;
    }
    loan.release();
    if (attempt >= request.retries) throw unreachable(request, attempt + 1, failure);
    await sleep(backoffMs(attempt), undefined, { signal: call.signal });
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
    call.end();
  };
  const out = new Readable({
    read: () => {
      body.resume();
    },
    // The client went away: stop the worker's request at once (an async iterator could not be
    // interrupted while it waits for the next chunk) and give the worker back.
    destroy: (error, callback) => {
      call.cancel();
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

/** The deadline and the client's signal of one forwarded request, as one abort signal. */
class Call {
  readonly #controller = new AbortController();
  readonly #request: ForwardRequest;
  readonly #what: "finish" | "start streaming";
  readonly #started = performance.now();
  #timer: NodeJS.Timeout | undefined;
  #timedOut = false;
  readonly #onClientAbort = (): void => this.#controller.abort(new ClientClosedError());

  constructor(request: ForwardRequest, what: "finish" | "start streaming") {
    this.#request = request;
    this.#what = what;
    this.#timer = setTimeout(() => {
      this.#timedOut = true;
      this.#controller.abort(this.timeout());
    }, request.timeoutMs);
    if (request.signal?.aborted) this.#onClientAbort();
    else request.signal?.addEventListener("abort", this.#onClientAbort, { once: true });
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  get clientClosed(): boolean {
    return this.#request.signal?.aborted === true;
  }

  remainingMs(): number {
    return this.#request.timeoutMs - (performance.now() - this.#started);
  }

  stopDeadline(): void {
    clearTimeout(this.#timer);
  }

  /** Stops the worker's request (no-op once it has finished). */
  cancel(): void {
    this.#controller.abort(new ClientClosedError());
  }

  end(): void {
    clearTimeout(this.#timer);
    this.#request.signal?.removeEventListener("abort", this.#onClientAbort);
  }

  timeout(): LaunchError {
    const seconds = Math.round(this.#request.timeoutMs) / 1000;
    return new LaunchError(
      "timeout",
      `The task on model endpoint ${this.#request.endpointId} did not ${this.#what} within timeout_seconds (${seconds} s). Raise timeout_seconds (at most ${SYNC_TIMEOUT_MAX_SECONDS}) or use an async endpoint for long predictions.`,
    );
  }

  /** What to raise for an error of this call: LaunchErrors as they are, the deadline, the client leaving. */
  translate(error: unknown): unknown {
    if (isLaunchError(error)) return error;
    if (this.clientClosed) return new ClientClosedError();
    if (this.#timedOut) return this.timeout();
    return error;
  }
}

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
  for (let e = error as { code?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 4; depth++) {
    if (typeof e.code === "string" && CONNECTION_FAILURES.has(e.code)) return true;
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
