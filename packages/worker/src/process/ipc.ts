/**
 * The worker's side of the channel to its controller (`@launch/protocol` worker-protocol.ts), as a small
 * interface so that the worker logic runs either over Node's IPC channel (`processChannel`, in the
 * `launch-worker` process) or over an in-memory pair (`memoryChannelPair`, in tests and benchmarks).
 */
import type { ControllerMessage, WorkerMessage } from "@launch/protocol";

/** The worker's end of the channel. */
export interface WorkerChannel {
  /** Queues a message for the controller; dropped silently once the channel is closed. */
  send(message: WorkerMessage): void;
  /** Resolves once every message sent so far has been handed to the channel (or the channel closed). */
  flush(): Promise<void>;
  /** Registers the handler of the controller's messages (one handler). */
  onMessage(listener: (message: ControllerMessage) => void): void;
  /** Registers the handler called once when the controller goes away. */
  onDisconnect(listener: () => void): void;
  readonly connected: boolean;
}

/** The controller's end of an in-memory channel. */
export interface ControllerChannel {
  send(message: ControllerMessage): void;
  onMessage(listener: (message: WorkerMessage) => void): void;
  /** Closes the channel as a dying controller would; the worker sees `disconnect`. */
  disconnect(): void;
  readonly connected: boolean;
}

/**
 * The channel over this process's IPC link (`process.send`), or undefined when the process was not
 * started with one (`child_process.fork`).
 */
export function processChannel(proc: NodeJS.Process = process): WorkerChannel | undefined {
  if (typeof proc.send !== "function" || !proc.connected) return undefined;
  let pending = 0;
  let waiters: (() => void)[] = [];
  const settle = () => {
    pending -= 1;
    if (pending === 0) {
      const done = waiters;
      waiters = [];
      for (const resolve of done) resolve();
    }
  };
  return {
    send(message) {
      if (!proc.connected || !proc.send) return;
      pending += 1;
      // With a callback, a send on a closed channel reports to it instead of emitting "error".
      proc.send(message, undefined, {}, settle);
    },
    flush() {
      if (pending === 0) return Promise.resolve();
      return new Promise((resolve) => waiters.push(resolve));
    },
    onMessage(listener) {
      proc.on("message", (message) => listener(message as ControllerMessage));
    },
    onDisconnect(listener) {
      proc.once("disconnect", listener);
    },
    get connected() {
      return proc.connected;
    },
  };
}

/**
 * Two connected in-memory ends. Messages go through a JSON round trip (like the default IPC
 * serialization) and arrive on a later macrotask, in order, as they would over IPC.
 *
 * @example const { worker, controller } = memoryChannelPair(); const run = runWorker(worker); controller.send(init);
 */
export function memoryChannelPair(): { worker: WorkerChannel; controller: ControllerChannel } {
  let open = true;
  let toController: ((message: WorkerMessage) => void) | undefined;
  let toWorker: ((message: ControllerMessage) => void) | undefined;
  const disconnectListeners: (() => void)[] = [];
  let inTransit = 0;
  let flushWaiters: (() => void)[] = [];
  const delivered = () => {
    inTransit -= 1;
    if (inTransit === 0) {
      const done = flushWaiters;
      flushWaiters = [];
      for (const resolve of done) resolve();
    }
  };
  const close = () => {
    if (!open) return;
    open = false;
    setImmediate(() => {
      for (const listener of disconnectListeners.splice(0)) listener();
    });
  };

  const worker: WorkerChannel = {
    send(message) {
      if (!open) return;
      const copy = JSON.parse(JSON.stringify(message)) as WorkerMessage;
      inTransit += 1;
      setImmediate(() => {
        if (open) toController?.(copy);
        delivered();
      });
    },
    flush() {
      if (inTransit === 0) return Promise.resolve();
      return new Promise((resolve) => flushWaiters.push(resolve));
    },
    onMessage(listener) {
      toWorker = listener;
    },
    onDisconnect(listener) {
      disconnectListeners.push(listener);
    },
    get connected() {
      return open;
    },
  };
  const controller: ControllerChannel = {
    send(message) {
      if (!open) return;
      const copy = JSON.parse(JSON.stringify(message)) as ControllerMessage;
      setImmediate(() => {
        if (open) toWorker?.(copy);
      });
    },
    onMessage(listener) {
      toController = listener;
    },
    disconnect: close,
    get connected() {
      return open;
    },
  };
  return { worker, controller };
}
