/**
 * The runnable-image runtime (`bundles.md` §2): the bundle is a program that serves HTTP. It runs as a
 * child process in its own process group with the bundle's `env` plus `PORT=<a free port>` (`$PORT` and
 * `${PORT}` in the command are replaced by that port), is ready once `GET healthcheck_route` answers 200,
 * and answers `POST predict_route` (and, for streaming bundles, `POST streaming_predict_route` with
 * server-sent events). Requests go through a keep-alive undici `Pool`: this is the hot path of every task.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { stat } from "node:fs/promises";
import {
  EventStreamParser,
  modelReplyOutcome,
  parseEventData,
  type RunnableImageFlavor,
  type StreamingEnhancedRunnableImageFlavor,
  type TritonEnhancedRunnableImageFlavor,
} from "@launch/protocol";
import { Pool } from "undici";
import { findFreePort } from "./free-port.js";
import { LogRing, lineSplitter } from "./log-ring.js";
import {
  NO_INPUT_ERROR,
  type PredictInput,
  type PredictOutcome,
  type Runtime,
  type RuntimeExit,
  type RuntimeKind,
  RuntimeStartError,
  type StreamEvent,
} from "./port.js";
import { signalGroup, trackGroup } from "./process-group.js";

export type RunnableImageBundleFlavor =
  | RunnableImageFlavor
  | StreamingEnhancedRunnableImageFlavor
  | TritonEnhancedRunnableImageFlavor;

export interface RunnableImageRuntimeOptions {
  flavor: RunnableImageBundleFlavor;
  /** Working directory of the child. Default: this process's. */
  cwd?: string;
  /**
   * The environment the bundle's `env` is layered on. Default: `PATH`, `HOME`, `LANG`, `LC_ALL`, `TZ`
   * and `TMPDIR` of this process, and nothing else, so server secrets never reach model code.
   */
  baseEnv?: Record<string, string | undefined>;
  /** The address the child is reached at. Default "127.0.0.1". */
  host?: string;
  /** A fixed port instead of a free one. */
  port?: number;
  /** Added to `readiness_initial_delay_seconds` before giving up on readiness. Default 30,000 ms. */
  readinessMarginMs?: number;
  /** Time between health checks. Default 200 ms. */
  healthPollMs?: number;
  /** Most concurrent connections to the child. Default 128. */
  connections?: number;
  /** How many output lines `logs()` keeps. Default 1,000. */
  logLines?: number;
  /**
   * Called with each output line as it arrives (the child's stdout and stderr, and the runtime's own
   * `[launch]` notes as "stdout"), besides keeping it for `logs()`. A worker forwards them to its output.
   */
  onLog?: (line: string, stream: "stdout" | "stderr") => void;
  /**
   * For runtimes built on this one (the Python harness): the kind reported, how a predict input becomes
   * the request body, and how the reply becomes an outcome. Defaults: "runnable_image", the task's
   * `args` unwrapped (`bundles.md` §2), and `modelReplyOutcome`.
   */
  kind?: RuntimeKind;
  encodeInput?: (input: PredictInput) => string | PredictOutcome;
  decodeReply?: (text: string, statusCode: number, route: string) => PredictOutcome;
}

type State = "new" | "starting" | "ready" | "exited" | "stopping" | "stopped" | "failed";

const DEFAULT_ENV_KEYS = ["PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR"] as const;
const STDERR_TAIL = 20;
const QUOTED_LINES = 10;
const JSON_HEADERS = { "content-type": "application/json" };
const STREAM_HEADERS = { "content-type": "application/json", accept: "text/event-stream" };
const PORT_PATTERN = /\$\{PORT\}|\$PORT(?![A-Za-z0-9_])/g;
const MENTIONS_PORT = /\$\{PORT\}|\$PORT(?![A-Za-z0-9_])/;

/** Replaces `$PORT` and `${PORT}` in a command argument. */
export function substitutePort(arg: string, port: number): string {
  return arg.replace(PORT_PATTERN, String(port));
}

/** Runs a runnable-image bundle as a local child process. */
export class RunnableImageRuntime implements Runtime {
  readonly kind: RuntimeKind;
  private state: State = "new";
  private child: ChildProcess | undefined;
  private pool: Pool | undefined;
  private portNumber: number | undefined;
  private exitInfo: { code: number | null; signal: string | null } | undefined;
  private readonly exited: Promise<void>;
  private markExited!: () => void;
  private readonly listeners = new Set<(exit: RuntimeExit) => void>();
  private readonly output: LogRing;
  private readonly stderrTail = new LogRing(STDERR_TAIL);
  private stopping: Promise<void> | undefined;
  private stopRequested = false;
  private untrack: (() => void) | undefined;
  private readonly commandLine: string[];
  private readonly streamRoute: string | undefined;
  /** Present for streaming bundles only (`streaming_enhanced_runnable_image`). */
  readonly stream: ((input: PredictInput, signal?: AbortSignal) => AsyncIterable<StreamEvent>) | undefined;

  constructor(private readonly options: RunnableImageRuntimeOptions) {
    this.kind = options.kind ?? "runnable_image";
    this.output = new LogRing(options.logLines ?? 1000);
    this.exited = new Promise((resolve) => {
      this.markExited = resolve;
    });
    const flavor = options.flavor;
    const streaming = flavor.flavor === "streaming_enhanced_runnable_image" ? flavor : undefined;
    this.commandLine =
      flavor.command.length > 0 ? flavor.command : streaming ? streaming.streaming_command : flavor.command;
    this.streamRoute = streaming ? streaming.streaming_predict_route || "/stream" : undefined;
    this.stream = this.streamRoute ? (input, signal) => this.streamEvents(input, signal) : undefined;
  }

  /** The port the child listens on, once `start()` has picked it. */
  get port(): number | undefined {
    return this.portNumber;
  }

  /** The child's pid (also its process group id) while it runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  async start(): Promise<void> {
    if (this.state !== "new")
      throw new RuntimeStartError(`start() was already called (the runtime is ${this.state}).`);
    this.state = "starting";
    try {
      await this.launch();
      await this.waitUntilHealthy();
      this.throwIfStopRequested();
      this.state = "ready";
      this.note(`model server is ready on port ${this.portNumber} (pid ${this.child?.pid})`);
    } catch (error) {
      if (!this.stopRequested) this.state = "failed";
      await this.terminate(0);
      throw error;
    }
  }

  async predict(input: PredictInput, signal?: AbortSignal): Promise<PredictOutcome> {
    const unavailable = this.unavailable();
    if (unavailable) return unavailable;
    const body = (this.options.encodeInput ?? requestBody)(input);
    if (typeof body !== "string") return body;
    const route = this.options.flavor.predict_route || "/predict";
    try {
      const response = await this.pool!.request({
        method: "POST",
        path: route,
        headers: JSON_HEADERS,
        body,
        signal: signal ?? null,
      });
      const text = await response.body.text();
      return (this.options.decodeReply ?? modelReplyOutcome)(text, response.statusCode, route);
    } catch (error) {
      return await this.requestFailure(error, route, signal);
    }
  }

  private async *streamEvents(input: PredictInput, signal?: AbortSignal): AsyncGenerator<StreamEvent> {
    const unavailable = this.unavailable();
    if (unavailable) {
      yield unavailable;
      return;
    }
    const body = requestBody(input);
    if (typeof body !== "string") {
      yield body;
      return;
    }
    const route = this.streamRoute!;
    let response: Awaited<ReturnType<Pool["request"]>>;
    try {
      response = await this.pool!.request({
        method: "POST",
        path: route,
        headers: STREAM_HEADERS,
        body,
        signal: signal ?? null,
      });
    } catch (error) {
      if (!signal?.aborted) yield await this.requestFailure(error, route, signal);
      return;
    }
    const statusCode = response.statusCode;
    const contentType = String(response.headers["content-type"] ?? "");
    if (!contentType.startsWith("text/event-stream")) {
      // Not a stream (typically an error reply): one event, parsed like a predict reply.
      try {
        yield modelReplyOutcome(await response.body.text(), statusCode, route);
      } catch (error) {
        if (!signal?.aborted) yield await this.requestFailure(error, route, signal);
      }
      return;
    }
    const parser = new EventStreamParser();
    const decoder = new TextDecoder();
    let finished = false;
    try {
      for await (const chunk of response.body) {
        for (const event of parser.push(decoder.decode(chunk as Uint8Array, { stream: true }))) {
          yield { ok: true, output: parseEventData(event.data), statusCode };
        }
      }
      for (const event of parser.push(decoder.decode()))
        yield { ok: true, output: parseEventData(event.data), statusCode };
      for (const event of parser.end()) yield { ok: true, output: parseEventData(event.data), statusCode };
      finished = true;
    } catch (error) {
      finished = true;
      if (!signal?.aborted) yield await this.requestFailure(error, route, signal);
    } finally {
      if (!finished) response.body.destroy();
    }
  }

  stop(graceMs = 10_000): Promise<void> {
    this.stopRequested = true;
    this.stopping ??= (async () => {
      if (this.state !== "failed") this.state = "stopping";
      await this.terminate(graceMs);
      if (this.state === "stopping") this.state = "stopped";
    })();
    return this.stopping;
  }

  logs(): string[] {
    return this.output.lines();
  }

  onExit(listener: (exit: RuntimeExit) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  private async launch(): Promise<void> {
    const { flavor } = this.options;
    if (this.commandLine.length === 0 || !this.commandLine[0]) {
      const field =
        flavor.flavor === "streaming_enhanced_runnable_image"
          ? "command and streaming_command are"
          : "command is";
      throw new RuntimeStartError(`The bundle cannot run on this host: its ${field} empty.`);
    }
    const cwd = this.options.cwd;
    if (cwd !== undefined) {
      const info = await stat(cwd).catch(() => undefined);
      if (!info?.isDirectory()) throw new RuntimeStartError(`The working directory ${cwd} does not exist.`);
    }
    const host = this.options.host ?? "127.0.0.1";
    const port = this.options.port ?? (await findFreePort(host));
    this.portNumber = port;
    this.throwIfStopRequested();
    const argv = this.commandLine.map((arg) => substitutePort(arg, port));
    const env = { ...defaultBaseEnv(this.options.baseEnv), ...flavor.env, PORT: String(port) };
    this.pool = new Pool(`http://${host}:${port}`, {
      connections: this.options.connections ?? 128,
      pipelining: 1,
      headersTimeout: 0,
      bodyTimeout: 0,
      keepAliveTimeout: 30_000,
    });

    const child = spawn(argv[0]!, argv.slice(1), {
      cwd,
      env,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child = child;
    const spawnError = new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      child.once("error", (error) => resolve(error));
      child.once("spawn", () => resolve(undefined));
    });
    this.captureOutput(child);
    child.on("error", (error) => this.note(`child process error: ${error.message}`));
    child.once("exit", (code, signal) => {
      // The leader is gone; take anything it started with it.
      if (child.pid !== undefined) signalGroup(child.pid, "SIGKILL");
      // Wait for the pipes to drain (so the last stderr lines can be quoted), but not for long.
      const timer = setTimeout(() => this.handleExit(code, signal), 250);
      child.once("close", () => {
        clearTimeout(timer);
        this.handleExit(code, signal);
      });
    });

    const failure = await spawnError;
    if (failure) {
      this.exitInfo ??= { code: null, signal: null };
      this.markExited();
      throw new RuntimeStartError(describeSpawnError(failure, argv[0]!, this.commandLine), {
        cause: failure,
      });
    }
    if (child.pid !== undefined) this.untrack = trackGroup(child.pid);
    this.note(`started ${JSON.stringify(argv)} on port ${port} (pid ${child.pid})`);
  }

  private async waitUntilHealthy(): Promise<void> {
    const { flavor } = this.options;
    const route = flavor.healthcheck_route || "/readyz";
    const delayMs = Math.max(0, flavor.readiness_initial_delay_seconds ?? 0) * 1000;
    const marginMs = this.options.readinessMarginMs ?? 30_000;
    const pollMs = this.options.healthPollMs ?? 200;
    const deadline = Date.now() + delayMs + marginMs;
    let last = "no answer yet";
    while (true) {
      this.throwIfStopRequested();
      if (this.exitInfo) throw this.exitedBeforeReady();
      const remaining = deadline - Date.now();
      const probe = await this.checkHealth(route, Math.max(50, Math.min(2000, remaining)));
      if (probe === true) return;
      last = probe;
      this.throwIfStopRequested();
      if (this.exitInfo) throw this.exitedBeforeReady();
      if (Date.now() >= deadline) {
        const within = `${formatSeconds(delayMs + marginMs)} (readiness_initial_delay_seconds ${flavor.readiness_initial_delay_seconds ?? 0} + margin ${formatSeconds(marginMs)})`;
        const hint = this.commandLine.some((arg) => MENTIONS_PORT.test(arg))
          ? ""
          : " The command does not mention $PORT: the program must listen on the port given in the PORT environment variable (a program with a fixed port can run only one worker per host).";
        throw new RuntimeStartError(
          `The model server did not become healthy within ${within}: GET ${route} on port ${this.portNumber} last ${last}.${hint}${this.quoteStderr()}`,
          { logTail: this.stderrTail.lines() },
        );
      }
      await waitAtMost(this.exited, Math.min(pollMs, Math.max(0, deadline - Date.now())));
    }
  }

  /** True when healthy, else what happened ("answered 503", "failed: ECONNREFUSED"). */
  private async checkHealth(route: string, timeoutMs: number): Promise<true | string> {
    try {
      const response = await this.pool!.request({
        method: "GET",
        path: route,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      await response.body.dump();
      return response.statusCode === 200 ? true : `answered ${response.statusCode}`;
    } catch (error) {
      return `failed: ${errorCode(error)}`;
    }
  }

  private captureOutput(child: ChildProcess): void {
    const onLog = this.options.onLog;
    const out = lineSplitter((line) => {
      this.output.push(line);
      onLog?.(line, "stdout");
    });
    const err = lineSplitter((line) => {
      this.output.push(line);
      this.stderrTail.push(line);
      onLog?.(line, "stderr");
    });
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => out.write(chunk));
    child.stdout?.on("end", () => out.end());
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => err.write(chunk));
    child.stderr?.on("end", () => err.end());
  }

  private handleExit(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.exitInfo) return;
    this.exitInfo = { code, signal };
    this.untrack?.();
    this.note(`model server ${describeExit(code, signal)}`);
    this.markExited();
    if (this.state !== "ready") return;
    this.state = "exited";
    this.pool?.destroy().catch(() => undefined);
    const exit: RuntimeExit = {
      code,
      signal,
      reason: `The model server ${describeExit(code, signal)}.${this.quoteStderr()}`,
    };
    for (const listener of this.listeners) listener(exit);
  }

  private throwIfStopRequested(): void {
    if (this.stopRequested) {
      throw new RuntimeStartError("The runtime was stopped before the model server became healthy.");
    }
  }

  private exitedBeforeReady(): RuntimeStartError {
    const { code, signal } = this.exitInfo ?? { code: null, signal: null };
    return new RuntimeStartError(
      `The model server ${describeExit(code, signal)} before it became healthy.${this.quoteStderr()}`,
      { logTail: this.stderrTail.lines() },
    );
  }

  private async terminate(graceMs: number): Promise<void> {
    const pid = this.child?.pid;
    if (pid !== undefined && !this.exitInfo) {
      if (graceMs > 0) {
        signalGroup(pid, "SIGTERM");
        await waitAtMost(this.exited, graceMs);
      }
      signalGroup(pid, "SIGKILL");
      await this.exited;
    }
    // Stragglers that ignored SIGTERM after the leader exited.
    if (pid !== undefined) signalGroup(pid, "SIGKILL");
    this.untrack?.();
    await this.pool?.destroy().catch(() => undefined);
  }

  private unavailable(): PredictOutcome | undefined {
    if (this.state === "ready") return undefined;
    if (this.state === "exited") {
      return failure(
        `The model server ${describeExit(this.exitInfo?.code ?? null, this.exitInfo?.signal ?? null)}.${this.quoteStderr()}`,
      );
    }
    return failure(`The model server is not running (the runtime is ${this.state}).`);
  }

  private async requestFailure(error: unknown, route: string, signal?: AbortSignal): Promise<PredictOutcome> {
    if (signal?.aborted)
      return failure(`The request to the model server was cancelled: ${reasonOf(signal)}.`);
    // A dying child closes its sockets before its exit is seen: wait a moment to say it crashed.
    if (!this.exitInfo) await waitAtMost(this.exited, 300);
    if (this.exitInfo) {
      return failure(
        `The model server ${describeExit(this.exitInfo.code, this.exitInfo.signal)} during POST ${route}.${this.quoteStderr()}`,
      );
    }
    return failure(
      `POST ${route} to the model server on port ${this.portNumber} failed: ${errorCode(error)}.`,
    );
  }

  private quoteStderr(): string {
    const lines = this.stderrTail.tail(QUOTED_LINES);
    if (lines.length === 0) return "";
    return ` Last stderr lines:\n${lines.map((line) => `  ${line}`).join("\n")}`;
  }

  private note(message: string): void {
    const line = `[launch] ${message}`;
    this.output.push(line);
    this.options.onLog?.(line, "stdout");
  }
}

/** Waits for `promise` or `ms`, whichever comes first, leaving no timer behind. */
function waitAtMost(promise: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    promise.then(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function defaultBaseEnv(baseEnv: Record<string, string | undefined> | undefined): Record<string, string> {
  const source = baseEnv ?? pick(process.env, DEFAULT_ENV_KEYS);
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(source)) if (value !== undefined) env[key] = value;
  return env;
}

function pick(env: NodeJS.ProcessEnv, keys: readonly string[]): Record<string, string | undefined> {
  return Object.fromEntries(keys.map((key) => [key, env[key]]));
}

/** The body to POST: compact JSON of `args`, else `{"url": …}` for the program to fetch. */
function requestBody(input: PredictInput): string | PredictOutcome {
  let payload: unknown;
  if (input.args !== undefined && input.args !== null) payload = input.args;
  else if (input.url) payload = { url: input.url };
  else return failure(NO_INPUT_ERROR);
  try {
    return JSON.stringify(payload);
  } catch (error) {
    return failure(`args cannot be sent as JSON: ${(error as Error).message}`);
  }
}

/** A reply of the model server: JSON whatever its status, which becomes `statusCode`. */
function failure(error: string): PredictOutcome {
  return { ok: false, error, traceback: null, statusCode: null };
}

function describeSpawnError(error: NodeJS.ErrnoException, program: string, command: string[]): string {
  const shown = JSON.stringify(program);
  const full = JSON.stringify(command);
  if (error.code === "ENOENT") {
    return `Command not found: ${shown} (the bundle's command is ${full}). Install it on this host, put it on PATH, or use a full path.`;
  }
  if (error.code === "EACCES")
    return `Command ${shown} is not executable (EACCES); the bundle's command is ${full}.`;
  return `Could not start ${shown}: ${error.message} (the bundle's command is ${full}).`;
}

function describeExit(code: number | null, signal: string | null): string {
  if (signal) return `was killed by ${signal}`;
  if (code === null) return "could not be started";
  return `exited with code ${code}`;
}

function errorCode(error: unknown): string {
  const e = error as { code?: string; message?: string };
  if (e.code === "ECONNREFUSED") return "ECONNREFUSED (nothing listens on the port yet)";
  if (e.code && e.message) return `${e.code} (${e.message})`;
  return e.message ?? String(error);
}

function reasonOf(signal: AbortSignal): string {
  const reason = signal.reason as { message?: string } | undefined;
  return reason?.message ?? String(reason ?? "aborted");
}

function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
