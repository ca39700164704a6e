/**
 * The messages between the controller (in the server) and a worker process it started on this machine.
 * They travel over Node's IPC channel (`child_process.fork`), which is ordered and reliable while both
 * processes live; a worker whose channel closes exits, and the controller treats a worker whose channel
 * closes as dead (its leased tasks are failed for retry at once rather than at lease expiry).
 *
 * Flow: the controller forks the worker with an `init`; the worker starts its runtime and HTTP port and
 * answers `ready` (or `start_failed`); it then grants `credit` for as many tasks as it has free slots; the
 * controller leases that many from the queue and pushes them in `tasks`; the worker answers each with a
 * `results` entry (batched per event-loop turn) and grants credit again. `drain` asks it to stop taking
 * work, finish what it has within the grace period and `release` the rest.
 */
import type { BundleV2 } from "./bundles.js";
import type { EndpointType } from "./endpoints.js";

/** One task as a worker receives it. */
export interface WorkerTask {
  id: string;
  /** The lease token; echoed back with the result so that a stale result is recognised. */
  token: string;
  args?: unknown;
  url?: string | null;
  returnPickled?: boolean;
  attempt: number;
}

/** How a task ended, as the worker reports it. */
export type TaskOutcome =
  | {
      ok: true;
      output: unknown;
      statusCode: number;
      /** `return_pickled`: the cloudpickled output, base64, for the controller to store (`output` is null). */
      pickled?: string;
    }
  | { ok: false; error: string; traceback: string | null; statusCode: number | null; retry?: boolean };

export interface WorkerInit {
  t: "init";
  endpointId: string;
  endpointType: EndpointType;
  workerId: string;
  bundle: BundleV2;
  /** Local path of the bundle's artifact (zip or pickle) when it has one, resolved by the controller. */
  artifactPath: string | null;
  /** Directory where the worker may unpack bundles (shared by workers of this host). */
  cacheDir: string;
  /** The interpreter for Python bundles (the `LAUNCH_PYTHON` setting); absent means "python3". */
  python?: string;
  /** How long installing a Python bundle's requirements may take, in seconds. Default 300. */
  pythonInstallTimeoutSeconds?: number;
  /**
   * When set, the worker's sync port answers predictions only to requests carrying it in the
   * `x-launch-worker-token` header (external workers listen beyond loopback; gateways learn it at
   * registration). Absent for local workers, which listen on 127.0.0.1.
   */
  syncToken?: string;
  /** How many tasks the worker runs at once. */
  concurrency: number;
  /** Port for sync and streaming requests; 0 picks a free one. */
  httpPort: number;
  /** Interface the sync port listens on (e.g. "0.0.0.0" for an external worker). Default "127.0.0.1". */
  httpHost?: string;
  /** Extra seconds beyond the bundle's readiness delay before a runnable image counts as failed. */
  readinessMarginSeconds: number;
  /** How long in-flight work may take to finish after `drain` or SIGTERM. */
  drainGraceMs: number;
  /** How often the worker sends a heartbeat. */
  heartbeatMs: number;
}

export type ControllerMessage = WorkerInit | { t: "tasks"; tasks: WorkerTask[] } | { t: "drain" };

export type WorkerMessage =
  | {
      t: "ready";
      httpPort: number;
      pid: number;
      /** The process group of the runtime's own child (runnable images), so the controller can clean it up if the worker is killed. */
      runtimePid?: number | null;
      /**
       * Base URL of the model's own HTTP server (runnable images, e.g. `http://127.0.0.1:41235`), so the
       * gateway may send sync predictions with plain `args` straight to it, skipping the worker's hop. Null
       * or absent when the model runs in the worker's process.
       */
      modelUrl?: string | null;
      /** The route the model answers predictions on (the bundle's `predict_route`), with `modelUrl`. */
      modelPredictRoute?: string | null;
    }
  | { t: "start_failed"; reason: string }
  | { t: "credit"; n: number }
  | { t: "results"; items: { id: string; token: string; outcome: TaskOutcome }[] }
  | { t: "release"; items: { id: string; token: string }[] }
  | { t: "crashed"; reason: string }
  /** Sent every `heartbeatMs`; a worker silent for several beats is hung and is replaced. */
  | { t: "heartbeat"; inFlight: number };
