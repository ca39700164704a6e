/**
 * The worker's HTTP port for the requests the gateway forwards (`wire-protocol.md` §5), on plain
 * `node:http` because it sits on the hot path of every sync task:
 * - `POST /predict` `{args?, url?, return_pickled?}` → 200 with the sync response shape (`sync-body.ts`);
 * - `POST /stream` (same body) → `text/event-stream`, one `data:` event per runtime event, written as it
 *   arrives; a client that goes away aborts the model's stream;
 * - `GET /healthz`, `GET /readyz` → 200 (`/readyz` answers 503 once the worker is draining).
 * A body that is not a JSON object answers 400 `{detail}`. Keep-alive is on.
 */
import { timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { PredictInput, Runtime } from "../runtimes/port.js";
import { oneLine, type WorkerLog } from "./log.js";
import { syncResponseBody } from "./sync-body.js";
import { escaped } from "./task-runner.js";

export interface SyncServerOptions {
  runtime: Pick<Runtime, "predict" | "stream">;
  log: WorkerLog;
  /** The interface to listen on. Default "127.0.0.1". */
  host?: string;
  /** When set, predictions need this in the `x-launch-worker-token` header (401 otherwise). */
  token?: string;
}

/** The header a gateway sends a worker's sync token in. */
export const WORKER_TOKEN_HEADER = "x-launch-worker-token";

const JSON_TYPE = "application/json";
const HEALTHY = '{"status":"ok"}';
const DRAINING = '{"status":"draining"}';
/** Longer than the gateway's pooled connections live, so that they are reused rather than cut. */
const KEEP_ALIVE_MS = 65_000;

/** The worker's HTTP server. `listen()` it once the runtime has started. */
export class SyncServer {
  private readonly server: Server;
  private readonly active = new Set<AbortController>();
  private running = 0;
  private draining = false;
  private idleWaiters: (() => void)[] = [];
  private closing: Promise<void> | undefined;

  constructor(private readonly options: SyncServerOptions) {
    this.server = createServer({ noDelay: true }, (req, res) => this.handle(req, res));
    this.server.keepAliveTimeout = KEEP_ALIVE_MS;
    this.server.headersTimeout = KEEP_ALIVE_MS + 1000;
  }

  /** Sync and streaming requests being answered now. */
  get inFlight(): number {
    return this.running;
  }

  /** Listens on `port` (0 picks a free one); resolves with the port. */
  listen(port: number): Promise<number> {
    const host = this.options.host ?? "127.0.0.1";
    return new Promise((resolve, reject) => {
      const onError = (error: Error) => reject(error);
      this.server.once("error", onError);
      this.server.listen(port, host, () => {
        this.server.off("error", onError);
        this.server.on("error", (error) => this.options.log.error(`HTTP server error: ${error.message}`));
        resolve((this.server.address() as AddressInfo).port);
      });
    });
  }

  /**
   * Stops taking requests: new connections are refused, `/readyz` answers 503 and new predictions 503,
   * while the requests already running go on.
   */
  startDraining(): void {
    if (this.draining) return;
    this.draining = true;
    if (this.server.listening) this.server.close();
    this.server.closeIdleConnections();
  }

  /** Resolves once no request is running. */
  whenIdle(): Promise<void> {
    if (this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Closes the server, cutting the requests still running (their model calls are aborted). */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.draining = true;
      for (const controller of this.active) controller.abort(new Error("the worker is stopping"));
      if (!this.server.listening) {
        this.server.closeAllConnections();
        resolve();
        return;
      }
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    return this.closing;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? "/";
    const query = url.indexOf("?");
    const path = query < 0 ? url : url.slice(0, query);
    if (req.method === "POST" && (path === "/predict" || path === "/stream")) {
      if (
        this.options.token !== undefined &&
        !sameToken(req.headers[WORKER_TOKEN_HEADER], this.options.token)
      ) {
        reply(res, 401, {
          detail: `This worker answers only its gateways (${WORKER_TOKEN_HEADER} missing or wrong).`,
        });
        req.resume();
        return;
      }
      if (this.draining) {
        reply(res, 503, { detail: "This worker is draining; send the request to another worker." }, true);
        req.resume();
        return;
      }
      this.track(req, res, path === "/stream");
      return;
    }
    if ((req.method === "GET" || req.method === "HEAD") && (path === "/healthz" || path === "/readyz")) {
      const ready = path === "/healthz" || !this.draining;
      const body = ready ? HEALTHY : DRAINING;
      res.writeHead(ready ? 200 : 503, { "content-type": JSON_TYPE, "content-length": body.length });
      res.end(req.method === "HEAD" ? undefined : body);
      return;
    }
    req.resume();
    reply(res, 404, { detail: `Not Found: ${req.method} ${path}` });
  }

  /** Counts the request in `inFlight` until its response closes, and aborts the model call if the client leaves. */
  private track(req: IncomingMessage, res: ServerResponse, streaming: boolean): void {
    const controller = new AbortController();
    this.running += 1;
    this.active.add(controller);
    res.once("close", () => {
      if (!res.writableFinished) controller.abort(new Error("the client closed the connection"));
      this.active.delete(controller);
      this.running -= 1;
      if (this.running === 0 && this.idleWaiters.length > 0) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const resolve of waiters) resolve();
      }
    });
    readBody(req).then(
      (text) => {
        const parsed = parseRequest(text);
        if (!parsed.ok) {
          reply(res, 400, { detail: parsed.detail }, this.draining);
          return;
        }
        if (streaming) return this.stream(parsed.input, res, controller.signal);
        return this.predict(parsed.input, res, controller.signal);
      },
      () => {
        // The client went away while sending the body: nothing to answer.
      },
    );
  }

  private async predict(input: PredictInput, res: ServerResponse, signal: AbortSignal): Promise<void> {
    let body: string;
    try {
      const outcome = await this.options.runtime.predict(input, signal);
      if (!outcome.ok) this.options.log.error(`sync request failed: ${oneLine(outcome.error)}`);
      body = syncResponseBody(outcome);
    } catch (error) {
      body = syncResponseBody(escaped(error));
    }
    if (signal.aborted || res.destroyed) return;
    const headers: Record<string, string | number> = {
      "content-type": JSON_TYPE,
      "content-length": Buffer.byteLength(body),
    };
    if (this.draining) headers.connection = "close";
    res.writeHead(200, headers);
    res.end(body);
  }

  private async stream(input: PredictInput, res: ServerResponse, signal: AbortSignal): Promise<void> {
    const stream = this.options.runtime.stream;
    if (!stream) {
      reply(res, 400, {
        detail:
          "This worker's bundle does not stream: use a streaming_enhanced_runnable_image bundle or a Node bundle for a streaming endpoint.",
      });
      return;
    }
    res.writeHead(200, {
      "content-type": "text/event-stream",
      "cache-control": "no-cache",
      "x-accel-buffering": "no",
    });
    res.flushHeaders();
    try {
      for await (const event of stream.call(this.options.runtime, input, signal)) {
        if (signal.aborted || res.destroyed) break;
        if (!event.ok) this.options.log.error(`streaming request failed: ${oneLine(event.error)}`);
        res.write(`data: ${syncResponseBody(event)}\n\n`);
      }
    } catch (error) {
      if (!signal.aborted && !res.destroyed) res.write(`data: ${syncResponseBody(escaped(error))}\n\n`);
    }
    if (signal.aborted) {
      const why = (signal.reason as Error | undefined)?.message ?? "aborted";
      this.options.log.info(`a streaming request ended early: ${why}`);
    }
    if (!res.destroyed) res.end();
  }
}

type ParsedRequest = { ok: true; input: PredictInput } | { ok: false; detail: string };

/** Reads and checks `{args?, url?, return_pickled?}` (other keys of a PredictRequest are ignored). */
export function parseRequest(text: string): ParsedRequest {
  if (text.trim().length === 0) {
    return { ok: false, detail: 'The request body is empty; expected a JSON object like {"args": {...}}.' };
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    return { ok: false, detail: `The request body is not valid JSON: ${(error as Error).message}` };
  }
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    const got = body === null ? "null" : Array.isArray(body) ? "an array" : `a ${typeof body}`;
    return {
      ok: false,
      detail: `The request body must be a JSON object like {"args": {...}}; got ${got}.`,
    };
  }
  const { args, url, return_pickled: returnPickled } = body as Record<string, unknown>;
  if (url !== undefined && url !== null && typeof url !== "string") {
    return { ok: false, detail: `url must be a string or null; got ${describe(url)}.` };
  }
  if (returnPickled !== undefined && returnPickled !== null && typeof returnPickled !== "boolean") {
    return { ok: false, detail: `return_pickled must be a boolean; got ${describe(returnPickled)}.` };
  }
  return { ok: true, input: { args, url: url ?? null, returnPickled: returnPickled ?? false } };
}

function describe(value: unknown): string {
  return Array.isArray(value) ? "an array" : `a ${typeof value}`;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.once("end", () =>
      resolve(chunks.length === 1 ? chunks[0]!.toString("utf8") : Buffer.concat(chunks).toString("utf8")),
    );
    req.once("error", reject);
    req.once("close", () => {
      if (!req.complete) reject(new Error("the client closed the connection while sending the body"));
    });
  });
}

function reply(res: ServerResponse, status: number, value: unknown, close = false): void {
  if (res.destroyed || res.headersSent) return;
  const body = JSON.stringify(value);
  const headers: Record<string, string | number> = {
    "content-type": JSON_TYPE,
    "content-length": Buffer.byteLength(body),
  };
  if (close) headers.connection = "close";
  res.writeHead(status, headers);
  res.end(body);
}

/** Constant-time comparison of a received token with the expected one. */
function sameToken(received: string | string[] | undefined, expected: string): boolean {
  if (typeof received !== "string") return false;
  const a = Buffer.from(received);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
