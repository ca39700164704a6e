/**
 * An external worker from start to exit: connects to the gateways (`HttpChannel.connect`: bootstrap and
 * artifact), runs the ordinary `runWorker` logic over the HTTP channel, and once the worker has stopped,
 * closes the channel (reports sent, registration deleted). `launch-worker --endpoint` runs this.
 */
import { GatewayClient } from "./gateway-client.js";
import { ExternalWorkerError, HttpChannel, type HttpChannelOptions } from "./http-channel.js";
import type { WorkerLog } from "./log.js";
import { runWorker, type WorkerRun } from "./worker.js";

export interface ExternalWorkerOptions extends Omit<HttpChannelOptions, "gateway"> {
  /** Gateway base URLs, tried in order (a failing one is skipped). */
  servers: readonly string[];
  /** The API key of a member of the team that owns the endpoint. */
  apiKey?: string | undefined;
  log: WorkerLog;
  /** First wait before retrying a request on the next gateway. Default 100 ms. */
  retryDelayMs?: number;
  /** How long the model process gets to exit after SIGTERM when the worker stops. Default 5,000 ms. */
  stopGraceMs?: number;
}

/** A running external worker. */
export interface ExternalWorkerRun {
  /** Resolves with the process's exit code once the worker has stopped and left the endpoint. */
  readonly exited: Promise<number>;
  /** Stops gracefully: no more leases, in-flight tasks finish within the drain grace, then exit 0. */
  drain(why: string): void;
  /** Stops at once with `code`. */
  kill(code: number, why: string): void;
  /** The channel, once connected (for tests and logs). */
  readonly channel: HttpChannel | undefined;
}

/**
 * Starts an external worker.
 *
 * @example const run = runExternalWorker({ servers: ["http://gw:5001"], endpointId, cacheDir, log: consoleLog() });
 * process.on("SIGTERM", () => run.drain("received SIGTERM")); process.exit(await run.exited);
 */
export function runExternalWorker(options: ExternalWorkerOptions): ExternalWorkerRun {
  const { log } = options;
  const gateway = new GatewayClient({
    servers: options.servers,
    apiKey: options.apiKey,
    log,
    ...(options.retryDelayMs === undefined ? {} : { retryDelayMs: options.retryDelayMs }),
  });
  const connecting = new AbortController();
  let channel: HttpChannel | undefined;
  let run: WorkerRun | undefined;
  let stopCode: number | undefined;
  let killed = false;
  let failed = false;

  const exited = (async (): Promise<number> => {
    log.info(`joining endpoint ${options.endpointId} through ${gateway.servers.join(", ")}`);
    try {
      channel = await HttpChannel.connect({ ...options, gateway }, connecting.signal);
    } catch (error) {
      if (connecting.signal.aborted) {
        log.info("stopped before the worker started");
        return stopCode ?? 0;
      }
      log.error(error instanceof ExternalWorkerError ? error.message : `internal error: ${String(error)}`);
      return 1;
    }
    const connected = channel;
    connected.onStop((why, failure) => {
      if (failure) failed = true;
      run?.drain(why);
    });
    run = runWorker(connected, {
      log,
      ...(options.stopGraceMs === undefined ? {} : { stopGraceMs: options.stopGraceMs }),
    });
    const code = await run.exited;
    if (killed) connected.abort();
    else await connected.close();
    return failed && code === 0 ? 1 : code;
  })();

  return {
    exited,
    drain(why) {
      if (!run) {
        stopCode ??= 0;
        connecting.abort(new Error(why));
        return;
      }
      channel?.stopLeasing();
      run.drain(why);
    },
    kill(code, why) {
      killed = true;
      if (!run) {
        stopCode = code;
        connecting.abort(new Error(why));
        return;
      }
      channel?.abort();
      run.kill(code, why);
    },
    get channel() {
      return channel;
    },
  };
}
