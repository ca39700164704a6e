import { type ChildProcess, fork } from "node:child_process";
import type { ControllerMessage, TaskOutcome, WorkerInit, WorkerMessage, WorkerTask } from "@launch/protocol";
import { type LogBuffer, lineSplitter } from "./log-buffer.js";

export type LocalWorkerState = "starting" | "ready" | "draining" | "exited";

/** How a worker process ended. */
export interface WorkerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Why, in words an operator can act on (the start failure or crash reason, with the last output lines). */
  reason: string;
  /** It never became ready. */
  beforeReady: boolean;
}

/** What a worker tells its owner. Every callback runs on the controller's event loop. */
export interface LocalWorkerEvents {
  ready(worker: LocalWorker): void;
  credit(worker: LocalWorker): void;
  results(worker: LocalWorker, items: { id: string; token: string; outcome: TaskOutcome }[]): void;
  release(worker: LocalWorker, items: { id: string; token: string }[]): void;
  exit(worker: LocalWorker, exit: WorkerExit): void;
}

export interface LocalWorkerOptions {
  binPath: string;
  init: Omit<WorkerInit, "t">;
  /** Extra fingerprint of what the worker runs; workers of an older generation are rolled. */
  generation: number;
  env: NodeJS.ProcessEnv;
  execArgv?: string[];
  logs: LogBuffer;
  events: LocalWorkerEvents;
  /** A worker silent this long is hung and is killed. */
  heartbeatTimeoutMs: number;
}

/**
 * The controller's handle on one `launch-worker` process on this machine: forks it with an IPC channel,
 * speaks `worker-protocol.ts`, keeps its output in the endpoint's log buffer, tracks its credit and the
 * tasks it holds, and kills it (with its model process group) when asked or when it hangs.
 */
export class LocalWorker {
  readonly id: string;
  readonly endpointId: string;
  readonly generation: number;
  state: LocalWorkerState = "starting";
  /** Tasks the worker has room for and has not been sent yet. */
  credit = 0;
  /** Tasks pushed and not yet answered: id → lease token. */
  readonly holding = new Map<string, string>();
  /** Sync and streaming requests the gateway has lent this worker for (see `lend`). */
  loans = 0;
  url: string | undefined;
  /** The model's own server (runnable images), which sync requests may call directly; see `WorkerLoan`. */
  modelUrl: string | undefined;
  modelPredictRoute: string | undefined;
  pid: number | undefined;
  readonly startedAt = Date.now();
  readyAt: number | undefined;
  #lastBeat = Date.now();
  #runtimePid: number | null = null;
  #startFailure: string | undefined;
  #crash: string | undefined;
  readonly #child: ChildProcess;
  readonly #options: LocalWorkerOptions;
  #watchdog: NodeJS.Timeout | undefined;
  #killTimer: NodeJS.Timeout | undefined;
  /** A drain waiting for the loans to come back (see `drain`). */
  #pendingDrain: { graceMs: number; timer: NodeJS.Timeout } | undefined;
  readonly exited: Promise<WorkerExit>;

  constructor(options: LocalWorkerOptions) {
    this.#options = options;
    this.id = options.init.workerId;
    this.endpointId = options.init.endpointId;
    this.generation = options.generation;
    // The arguments only label the process for operators (`ps` shows which endpoint a worker serves).
    this.#child = fork(options.binPath, ["--endpoint", this.endpointId, "--worker-id", this.id], {
      env: options.env,
      execArgv: options.execArgv ?? [],
      stdio: ["ignore", "pipe", "pipe", "ipc"],
      serialization: "json",
    });
    this.pid = this.#child.pid;
    this.#pipe("stdout");
    this.#pipe("stderr");
    this.#child.on("message", (message) => this.#onMessage(message as WorkerMessage));
    this.exited = new Promise((resolve) => {
      this.#child.once("exit", (code, signal) => {
        const exit = this.#onExit(code, signal);
        resolve(exit);
      });
    });
    this.#child.on("error", (error) => {
      this.#log("stderr", `controller: worker process error: ${error.message}`);
    });
    this.#send({ t: "init", ...options.init });
    this.#watchdog = setInterval(() => this.#checkHeartbeat(), Math.max(250, options.heartbeatTimeoutMs / 4));
    this.#watchdog.unref();
  }

  /** Sends leased tasks; the caller has taken their number off `credit`. */
  push(tasks: WorkerTask[]): void {
    for (const task of tasks) this.holding.set(task.id, task.token);
    this.#send({ t: "tasks", tasks });
  }

  /**
   * Counts one sync or streaming request on this worker until the returned function is called (once;
   * later calls do nothing). A drain waits for these loans when the model may be called directly.
   */
  lend(): () => void {
    this.loans++;
    let returned = false;
    return () => {
      if (returned) return;
      returned = true;
      this.loans--;
      if (this.loans === 0 && this.#pendingDrain) this.#sendDrain(this.#pendingDrain.graceMs);
    };
  }

  /**
   * Asks the worker to finish in-flight work within its grace period and exit; kills it if it does not.
   * It takes no new tasks nor loans from now on. When the gateway may be calling its model directly
   * (`modelUrl`), the worker does not see those requests, so it is told to drain only once the loans are
   * back (or `graceMs` has passed): its model must not stop under them.
   */
  drain(graceMs: number): Promise<WorkerExit> {
    if (this.state !== "exited" && this.state !== "draining") {
      this.state = "draining";
      this.credit = 0;
      if (this.modelUrl !== undefined && this.loans > 0) {
        const timer = setTimeout(() => this.#sendDrain(graceMs), graceMs);
        timer.unref();
        this.#pendingDrain = { graceMs, timer };
      } else {
        this.#sendDrain(graceMs);
      }
    }
    return this.exited;
  }

  #sendDrain(graceMs: number): void {
    clearTimeout(this.#pendingDrain?.timer);
    this.#pendingDrain = undefined;
    if (this.state === "exited") return;
    this.#send({ t: "drain" });
    this.#killTimer ??= setTimeout(
      () => this.kill("did not stop within its drain grace period"),
      graceMs + 5_000,
    );
    this.#killTimer.unref();
  }

  /** Kills the worker and its model process group at once. */
  kill(why: string): void {
    if (this.state === "exited") return;
    this.#crash ??= `killed by the controller: ${why}`;
    this.#killRuntimeGroup();
    this.#child.kill("SIGKILL");
  }

  /** The last lines the worker wrote. */
  lastOutput(lines = 20): string {
    return this.#options.logs.textOf(this.id, lines);
  }

  #send(message: ControllerMessage): void {
    if (!this.#child.connected) return;
    this.#child.send(message, (error) => {
      if (error)
        this.#log("stderr", `controller: could not send ${message.t} to the worker: ${error.message}`);
    });
  }

  #pipe(stream: "stdout" | "stderr"): void {
    const split = lineSplitter((line) => this.#log(stream, line));
    this.#child[stream]?.on("data", (chunk: Buffer) => split.write(chunk));
    this.#child[stream]?.on("end", () => split.end());
  }

  #log(stream: "stdout" | "stderr", line: string): void {
    this.#options.logs.push({ worker_id: this.id, time: new Date().toISOString(), stream, line });
  }

  #onMessage(message: WorkerMessage): void {
    this.#lastBeat = Date.now();
    const events = this.#options.events;
    switch (message.t) {
      case "ready":
        this.url = `http://127.0.0.1:${message.httpPort}`;
        this.#runtimePid = message.runtimePid ?? null;
        if (message.modelUrl) {
          this.modelUrl = message.modelUrl;
          this.modelPredictRoute = message.modelPredictRoute || "/predict";
        }
        this.readyAt = Date.now();
        if (this.state === "starting") this.state = "ready";
        events.ready(this);
        return;
      case "start_failed":
        this.#startFailure = message.reason;
        return;
      case "credit":
        if (this.state !== "ready") return;
        this.credit += message.n;
        events.credit(this);
        return;
      case "results":
        for (const item of message.items) this.holding.delete(item.id);
        events.results(this, message.items);
        return;
      case "release":
        for (const item of message.items) this.holding.delete(item.id);
        events.release(this, message.items);
        return;
      case "crashed":
        this.#crash = message.reason;
        return;
      case "heartbeat":
        return;
    }
  }

  #checkHeartbeat(): void {
    if (this.state === "exited" || this.state === "starting") return;
    const silent = Date.now() - this.#lastBeat;
    if (silent > this.#options.heartbeatTimeoutMs) {
      this.kill(`no heartbeat for ${Math.round(silent / 1000)} s (hung)`);
    }
  }

  #killRuntimeGroup(): void {
    if (this.#runtimePid === null) return;
    try {
      process.kill(-this.#runtimePid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }

  #onExit(code: number | null, signal: NodeJS.Signals | null): WorkerExit {
    const beforeReady = this.state === "starting";
    this.state = "exited";
    this.credit = 0;
    clearInterval(this.#watchdog);
    clearTimeout(this.#killTimer);
    clearTimeout(this.#pendingDrain?.timer);
    this.#pendingDrain = undefined;
    // A worker killed by SIGKILL cannot stop its model process; its group must not outlive it.
    this.#killRuntimeGroup();
    const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
    const output = this.lastOutput(15);
    const reason =
      this.#startFailure ??
      this.#crash ??
      (beforeReady ? `the worker ${how} before it was ready` : `the worker ${how}`);
    const full = this.#startFailure || !output ? reason : `${reason}; its last output:\n${output}`;
    const exit: WorkerExit = { code, signal, reason: full, beforeReady };
    this.#options.events.exit(this, exit);
    return exit;
  }
}
