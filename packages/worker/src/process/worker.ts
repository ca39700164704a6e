/**
 * The life of a worker process, over any `WorkerChannel` (`ipc.ts`): wait for `init`, unpack the bundle,
 * start its runtime and the HTTP port, answer `ready` (or `start_failed`), run the tasks the controller
 * pushes, send heartbeats, and stop: gracefully on `drain` (or SIGTERM, through `drain()`), promptly when
 * the controller goes away, with `crashed` when the model process dies. `bin.ts` runs this over the IPC
 * channel; tests run it in process over `memoryChannelPair()`.
 */

import { join } from "node:path";
import type { ControllerMessage, WorkerInit, WorkerMessage } from "@launch/protocol";
import { BundleCache } from "../bundle-cache.js";
import { createRuntime } from "../runtimes/factory.js";
import { isRuntimeStartError, type Runtime } from "../runtimes/port.js";
import { signalGroup } from "../runtimes/process-group.js";
import { RunnableImageRuntime } from "../runtimes/runnable-image.js";
import { checkInit } from "./init.js";
import type { WorkerChannel } from "./ipc.js";
import { consoleLog, type WorkerLog } from "./log.js";
import { SyncServer } from "./sync-server.js";
import { TaskRunner } from "./task-runner.js";

export interface RunWorkerOptions {
  /** Where the worker's lines go. Default: this process's stdout and stderr. */
  log?: WorkerLog;
  /** How long to wait for `init` before giving up. Default 30,000 ms. */
  initTimeoutMs?: number;
  /** How long the model process gets to exit after SIGTERM when the worker stops. Default 5,000 ms. */
  stopGraceMs?: number;
}

/** A running worker. */
export interface WorkerRun {
  /** Resolves with the exit code once the worker has stopped and said its last message. */
  readonly exited: Promise<number>;
  /** Stops gracefully, as on a `drain` message (what the bin does on the first SIGTERM or SIGINT). */
  drain(why: string): void;
  /** Stops at once: kills the model's process group and resolves `exited` with `code`. */
  kill(code: number, why: string): void;
  /** Tasks and sync or streaming requests running now. */
  readonly inFlight: number;
}

/** Waiting for `init` longer than this means no controller is talking to us. */
export const DEFAULT_INIT_TIMEOUT_MS = 30_000;
const DEFAULT_STOP_GRACE_MS = 5_000;
/** The model's grace when the controller is gone: exit promptly. */
const DISCONNECT_STOP_GRACE_MS = 1_000;

type Phase = "waiting" | "starting" | "serving" | "draining" | "stopping" | "exited";

/**
 * Runs a worker over `channel`. The returned `exited` promise gives the process's exit code.
 *
 * @example const run = runWorker(processChannel()!); process.exit(await run.exited);
 */
export function runWorker(channel: WorkerChannel, options: RunWorkerOptions = {}): WorkerRun {
  const worker = new Worker(channel, options);
  return {
    exited: worker.exited,
    drain: (why) => worker.drain(why),
    kill: (code, why) => worker.kill(code, why),
    get inFlight() {
      return worker.inFlight;
    },
  };
}

class Worker {
  readonly exited: Promise<number>;
  private resolveExit!: (code: number) => void;
  private phase: Phase = "waiting";
  private readonly log: WorkerLog;
  private readonly stopGraceMs: number;
  private initMessage: WorkerInit | undefined;
  private runtime: Runtime | undefined;
  private server: SyncServer | undefined;
  private runner: TaskRunner | undefined;
  private stopRequested = false;
  private initTimer: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private graceTimer: NodeJS.Timeout | undefined;
  private readonly send = (message: WorkerMessage) => this.channel.send(message);

  constructor(
    private readonly channel: WorkerChannel,
    options: RunWorkerOptions,
  ) {
    this.log = options.log ?? consoleLog();
    this.stopGraceMs = options.stopGraceMs ?? DEFAULT_STOP_GRACE_MS;
    this.exited = new Promise((resolve) => {
      this.resolveExit = resolve;
    });
    const initTimeoutMs = options.initTimeoutMs ?? DEFAULT_INIT_TIMEOUT_MS;
    this.log.info(`started (pid ${process.pid}); waiting for the controller's init message`);
    this.initTimer = setTimeout(() => {
      this.log.error(
        `no init message from the controller within ${formatMs(initTimeoutMs)}; exiting (launch-worker must be started by a Launch controller)`,
      );
      this.finish(1);
    }, initTimeoutMs);
    channel.onMessage((message) => this.onMessage(message));
    channel.onDisconnect(() => {
      this.onDisconnect().catch((error: unknown) => this.fatal(error));
    });
  }

  get inFlight(): number {
    return (this.runner?.inFlight ?? 0) + (this.server?.inFlight ?? 0);
  }

  drain(why: string): void {
    switch (this.phase) {
      case "waiting":
        this.log.info(`${why} before init; exiting`);
        this.finish(0);
        return;
      case "starting":
        if (this.stopRequested) return;
        this.stopRequested = true;
        this.log.info(`${why} while starting; stopping`);
        // Makes a runnable image's start() give up; the start sequence then stops and exits.
        void this.runtime?.stop(this.stopGraceMs);
        return;
      case "serving":
        this.drainServing(why).catch((error: unknown) => this.fatal(error));
        return;
      default:
        return;
    }
  }

  kill(code: number, why: string): void {
    if (this.phase === "exited") return;
    this.log.info(`stopping at once (${why})`);
    const pid = this.runtime?.pid;
    if (pid !== undefined) signalGroup(pid, "SIGKILL");
    this.runner?.abandon();
    void this.server?.close();
    this.finish(code);
  }

  private onMessage(message: ControllerMessage): void {
    if (typeof message !== "object" || message === null) {
      this.log.error(`protocol error: a message that is not an object (${typeof message}); ignoring it`);
      return;
    }
    switch (message.t) {
      case "init":
        if (this.phase !== "waiting") {
          this.log.error("protocol error: a second init message; ignoring it");
          return;
        }
        this.start(message).catch((error: unknown) => this.fatal(error));
        return;
      case "tasks":
        if (!Array.isArray(message.tasks)) {
          this.log.error("protocol error: a tasks message without a tasks list; ignoring it");
        } else if (this.runner) {
          this.runner.accept(message.tasks);
        } else {
          this.log.error(
            `protocol error: ${message.tasks.length} task(s) arrived before the worker was ready; releasing them`,
          );
          this.send({ t: "release", items: message.tasks.map(({ id, token }) => ({ id, token })) });
        }
        return;
      case "drain":
        this.drain("the controller asked to drain");
        return;
      default:
        this.log.error(
          `protocol error: unknown message type ${JSON.stringify((message as { t?: unknown }).t)}; ignoring it`,
        );
    }
  }

  private async start(init: WorkerInit): Promise<void> {
    this.phase = "starting";
    clearTimeout(this.initTimer);
    const problems = checkInit(init);
    if (problems.length > 0) {
      return this.startFailed(`The controller's init message is invalid: ${problems.join("; ")}.`);
    }
    this.initMessage = init;
    const began = performance.now();
    this.log.info(
      `worker ${init.workerId} of endpoint ${init.endpointId}: starting bundle ${init.bundle.id} (${init.bundle.flavor.flavor}), concurrency ${init.concurrency}`,
    );
    let runtime: Runtime;
    try {
      // A pickle is used as it is; a zip is unpacked once per bundle and host.
      const pickle = init.bundle.flavor.flavor === "cloudpickle_artifact";
      const bundleDir =
        init.artifactPath && !pickle
          ? await new BundleCache({ root: init.cacheDir }).unpack(init.bundle.id, init.artifactPath)
          : undefined;
      if (this.stopRequested) return this.stopBeforeReady();
      runtime = createRuntime(init.bundle, {
        ...(bundleDir === undefined ? {} : { bundleDir }),
        ...(pickle && init.artifactPath ? { artifactPath: init.artifactPath } : {}),
        python: {
          ...(init.python ? { python: init.python } : {}),
          ...(init.pythonInstallTimeoutSeconds === undefined
            ? {}
            : { installTimeoutSeconds: init.pythonInstallTimeoutSeconds }),
          venvDir: join(init.cacheDir, ".venvs", init.bundle.id),
        },
        runnableImage: {
          readinessMarginMs: init.readinessMarginSeconds * 1000,
          onLog: (line, stream) => this.log.model(line, stream),
        },
      });
      this.runtime = runtime;
      runtime.onExit((exit) => {
        this.crashed(exit.reason).catch((error: unknown) => this.fatal(error));
      });
      await runtime.start();
    } catch (error) {
      if (this.stopRequested) return this.stopBeforeReady();
      return this.startFailed(describeStartError(error));
    }
    if (this.stopRequested) return this.stopBeforeReady();
    if (this.phase !== "starting") return; // the model died meanwhile: crashed() took over
    const host = init.httpHost ?? "127.0.0.1";
    const server = new SyncServer({
      runtime,
      log: this.log,
      host,
      ...(init.syncToken === undefined ? {} : { token: init.syncToken }),
    });
    this.server = server;
    let port: number;
    try {
      port = await server.listen(init.httpPort);
    } catch (error) {
      return this.startFailed(
        `The worker could not listen on ${hostPort(host, init.httpPort)}: ${(error as Error).message}`,
      );
    }
    if (this.stopRequested) return this.stopBeforeReady();
    if (this.phase !== "starting") {
      await server.close();
      return;
    }
    this.runner = new TaskRunner({ runtime, concurrency: init.concurrency, send: this.send, log: this.log });
    this.phase = "serving";
    this.log.info(
      `ready on http://${hostPort(host, port)} in ${Math.round(performance.now() - began)} ms (${runtime.kind} runtime${runtime.pid === undefined ? "" : `, model pid ${runtime.pid}`})`,
    );
    this.send({
      t: "ready",
      httpPort: port,
      pid: process.pid,
      runtimePid: runtime.pid ?? null,
      ...directModel(runtime, init),
    });
    this.runner.grantInitialCredit();
    this.heartbeat = setInterval(
      () => this.send({ t: "heartbeat", inFlight: this.inFlight }),
      init.heartbeatMs,
    ).unref();
  }

  private async drainServing(why: string): Promise<void> {
    const runner = this.runner!;
    const server = this.server!;
    const graceMs = this.initMessage!.drainGraceMs;
    this.phase = "draining";
    runner.close();
    server.startDraining();
    this.log.info(
      `draining (${why}): ${runner.inFlight} task(s) and ${server.inFlight} request(s) in flight, grace ${formatMs(graceMs)}`,
    );
    await Promise.race([
      Promise.all([runner.whenIdle(), server.whenIdle()]),
      new Promise<void>((resolve) => {
        this.graceTimer = setTimeout(resolve, graceMs);
      }),
    ]);
    clearTimeout(this.graceTimer);
    if (this.phase !== "draining") return; // crashed or disconnected meanwhile
    this.phase = "stopping";
    const released = runner.releaseRunning();
    if (released > 0) this.log.info(`grace period over: released ${released} task(s) back to the queue`);
    else this.log.info("in-flight work finished");
    await server.close();
    this.stopHeartbeat();
    await this.runtime?.stop(this.stopGraceMs);
    await this.channel.flush();
    this.finish(0);
  }

  private async onDisconnect(): Promise<void> {
    if (this.phase === "stopping" || this.phase === "exited") return;
    this.log.info("the controller went away (IPC channel closed); stopping now");
    if (this.phase === "waiting") return this.finish(0);
    if (this.phase === "starting") {
      this.stopRequested = true;
      void this.runtime?.stop(DISCONNECT_STOP_GRACE_MS);
      return;
    }
    this.phase = "stopping";
    const abandoned = this.runner?.abandon() ?? 0;
    if (abandoned > 0) this.log.info(`abandoned ${abandoned} task(s) in flight`);
    this.stopHeartbeat();
    await this.server?.close();
    await this.runtime?.stop(Math.min(this.stopGraceMs, DISCONNECT_STOP_GRACE_MS));
    this.finish(0);
  }

  private async crashed(reason: string): Promise<void> {
    if (this.phase === "stopping" || this.phase === "exited") return;
    this.phase = "stopping";
    this.runner?.flushNow();
    const lost = this.runner?.abandon() ?? 0;
    this.log.error(
      `the model process died${lost > 0 ? ` with ${lost} task(s) in flight (the controller retries them)` : ""}: ${reason}`,
    );
    this.send({ t: "crashed", reason });
    this.stopHeartbeat();
    await this.server?.close();
    await this.runtime?.stop(0);
    await this.channel.flush();
    this.finish(1);
  }

  private async startFailed(reason: string): Promise<void> {
    this.phase = "stopping";
    this.log.error(`start failed: ${reason}`);
    this.send({ t: "start_failed", reason });
    await this.server?.close();
    await this.runtime?.stop(this.stopGraceMs);
    await this.channel.flush();
    this.finish(1);
  }

  private async stopBeforeReady(): Promise<void> {
    this.phase = "stopping";
    this.log.info("stopped before the model was ready");
    await this.server?.close();
    await this.runtime?.stop(this.stopGraceMs);
    await this.channel.flush();
    this.finish(0);
  }

  /** A bug of the worker itself: say so, take the model down with us, exit 1. */
  private fatal(error: unknown): void {
    this.log.error(
      `internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
    this.kill(1, "internal error");
  }

  private stopHeartbeat(): void {
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  private finish(code: number): void {
    if (this.phase === "exited") return;
    this.phase = "exited";
    clearTimeout(this.initTimer);
    clearTimeout(this.graceTimer);
    this.stopHeartbeat();
    this.log.info(`exit ${code}`);
    this.resolveExit(code);
  }
}

/**
 * Where the gateway may send sync predictions straight to the model: a runnable image's own HTTP server
 * and its predict route, exactly as `RunnableImageRuntime.predict` calls them. Nothing for in-process
 * runtimes.
 */
function directModel(
  runtime: Runtime,
  init: Pick<WorkerInit, "bundle">,
): { modelUrl: string | null; modelPredictRoute: string | null } {
  // A runtime of another kind built on this class (a Python harness) may shape its requests otherwise.
  const port =
    runtime instanceof RunnableImageRuntime && runtime.kind === "runnable_image" ? runtime.port : undefined;
  const flavor = init.bundle.flavor as { predict_route?: string | null };
  if (port === undefined) return { modelUrl: null, modelPredictRoute: null };
  return { modelUrl: `http://127.0.0.1:${port}`, modelPredictRoute: flavor.predict_route || "/predict" };
}

/** The reason quoted in `start_failed`: the error's message, with the output tail when not already quoted. */
function describeStartError(error: unknown): string {
  if (isRuntimeStartError(error)) {
    const missing = error.logTail.filter((line) => !error.message.includes(line));
    if (missing.length === 0) return error.message;
    return `${error.message}\nLast output lines:\n${error.logTail.map((line) => `  ${line}`).join("\n")}`;
  }
  if (error instanceof Error) return error.message;
  return String(error);
}

/** `host:port`, with an IPv6 address in brackets. */
function hostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

function formatMs(ms: number): string {
  return ms >= 1000 && ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
