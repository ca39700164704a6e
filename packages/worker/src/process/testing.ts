/**
 * Helpers for tests that drive a worker as its controller would: builders for `init` messages and the
 * fixture bundles, and a recorder that waits for the worker's messages. Used by this package's tests and
 * by the server's controller tests.
 */
import type {
  BundleFlavor,
  BundleV2,
  RunnableImageFlavor,
  StreamingEnhancedRunnableImageFlavor,
  WorkerInit,
  ZipArtifactFlavor,
} from "@launch/protocol";
import type { WorkerLog } from "./log.js";

/** A bundle record around `flavor`. */
export function testBundle(flavor: BundleFlavor, id = "bun_test"): BundleV2 {
  return {
    id,
    name: "test-bundle",
    metadata: {},
    created_at: new Date(0).toISOString(),
    model_artifact_ids: [],
    schema_location: null,
    flavor,
  };
}

/** A Node bundle flavor (`bundles.md` §1); the default exports are those of `fixtures/doc-model`. */
export function nodeFlavor(
  loadModel = "model.mjs#loadModel",
  loadPredictFn = "model.mjs#loadPredictFn",
): ZipArtifactFlavor {
  return {
    flavor: "zip_artifact",
    requirements: [],
    framework: { framework_type: "node" },
    location: "s3://launch/bundles/test.zip",
    load_model_fn_module_path: loadModel,
    load_predict_fn_module_path: loadPredictFn,
    app_config: null,
  };
}

/** A runnable-image flavor running `command` (use `$PORT` or read `PORT`). */
export function imageFlavor(
  command: string[],
  overrides: Partial<RunnableImageFlavor> = {},
): RunnableImageFlavor {
  return {
    flavor: "runnable_image",
    repository: "local",
    tag: "test",
    command,
    protocol: "http",
    predict_route: "/predict",
    healthcheck_route: "/readyz",
    env: {},
    readiness_initial_delay_seconds: 0,
    extra_routes: [],
    routes: [],
    forwarder_type: "default",
    worker_command: null,
    worker_env: null,
    ...overrides,
  };
}

/** A streaming runnable-image flavor running `command`, streaming on `/stream`. */
export function streamingImageFlavor(command: string[]): StreamingEnhancedRunnableImageFlavor {
  return {
    ...imageFlavor(command),
    flavor: "streaming_enhanced_runnable_image",
    streaming_command: command,
    streaming_predict_route: "/stream",
  };
}

/** An `init` message with test defaults (port 0, concurrency 4, grace 5 s, heartbeat 10 s). */
export function testInit(
  bundle: BundleV2,
  overrides: Partial<Omit<WorkerInit, "t" | "bundle">> = {},
): WorkerInit {
  return {
    t: "init",
    endpointId: "end_test",
    endpointType: "async",
    workerId: "wrk_test",
    bundle,
    artifactPath: null,
    cacheDir: "",
    concurrency: 4,
    httpPort: 0,
    readinessMarginSeconds: 10,
    drainGraceMs: 5_000,
    heartbeatMs: 10_000,
    ...overrides,
  };
}

type Tagged = { t: string };

/** Records messages as they arrive and waits for the ones a test expects. */
export class MessageRecorder<M extends Tagged> {
  readonly messages: M[] = [];
  private readonly taken = new Set<number>();
  private waiters: { check: () => boolean }[] = [];

  /** Adds a received message (pass it as the channel's listener). */
  readonly push = (message: M): void => {
    this.messages.push(message);
    this.waiters = this.waiters.filter((waiter) => !waiter.check());
  };

  /** The messages of one type, in order. */
  all<T extends M["t"]>(type: T): Extract<M, { t: T }>[] {
    return this.messages.filter((m): m is Extract<M, { t: T }> => m.t === type);
  }

  /**
   * The first message of `type` (matching `predicate`) not returned before, waiting up to `timeoutMs`.
   * Rejects naming the messages seen so far.
   */
  next<T extends M["t"]>(
    type: T,
    predicate: (message: Extract<M, { t: T }>) => boolean = () => true,
    timeoutMs = 15_000,
  ): Promise<Extract<M, { t: T }>> {
    const find = (): Extract<M, { t: T }> | undefined => {
      for (let i = 0; i < this.messages.length; i++) {
        const message = this.messages[i]!;
        if (this.taken.has(i) || message.t !== type) continue;
        if (!predicate(message as Extract<M, { t: T }>)) continue;
        this.taken.add(i);
        return message as Extract<M, { t: T }>;
      }
      return undefined;
    };
    const found = find();
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        const seen = this.messages.map((m) => m.t).join(", ") || "nothing";
        reject(new Error(`No "${type}" message within ${timeoutMs} ms (received: ${seen})`));
      }, timeoutMs);
      const waiter = {
        check: () => {
          const match = find();
          if (!match) return false;
          clearTimeout(timer);
          resolve(match);
          return true;
        },
      };
      this.waiters.push(waiter);
    });
  }
}

/** A log line kept by `memoryLog`. */
export interface LoggedLine {
  kind: "info" | "error" | "stdout" | "stderr";
  text: string;
}

/** A `WorkerLog` that keeps its lines in memory (`lines`), for assertions. */
export function memoryLog(): WorkerLog & { lines: LoggedLine[]; text(): string } {
  const lines: LoggedLine[] = [];
  return {
    lines,
    info: (text) => lines.push({ kind: "info", text }),
    error: (text) => lines.push({ kind: "error", text }),
    model: (text, stream) => lines.push({ kind: stream, text }),
    text: () => lines.map((line) => `${line.kind}: ${line.text}`).join("\n"),
  };
}
