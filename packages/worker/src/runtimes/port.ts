/**
 * The runtime port: the part of a worker that turns a bundle into something that answers "predict"
 * (terminology.ts). Adapters: `node.ts` (JavaScript modules, in process, `bundles.md` §1) and
 * `runnable-image.ts` (an HTTP program run as a child process, §2). `factory.ts` picks one by flavor.
 *
 * Expected failures are values: a model that throws, answers garbage or cannot be reached gives
 * `{ ok: false }`. Only `start()` rejects, with a `RuntimeStartError` whose message quotes the reason.
 */

/** What a task asks of the model (the runtime's view of `PredictRequest`). */
export interface PredictInput {
  /** The task's `args`: any JSON value. */
  args?: unknown;
  /** A URL to fetch the input from, used when `args` is absent. */
  url?: string | null;
  /** Pickle the output (Python bundles only; other runtimes ignore it). */
  returnPickled?: boolean;
}

/**
 * The result of one predict. `statusCode` is the model's HTTP status for runnable images and 200 for
 * in-process runtimes; on failure it is known only when the model answered.
 */
export type PredictOutcome =
  | {
      ok: true;
      output: unknown;
      statusCode: number;
      /** `return_pickled` (Python bundles): the cloudpickled output, base64; `output` is then null. */
      pickled?: string;
    }
  | { ok: false; error: string; traceback: string | null; statusCode: number | null };

/**
 * One event of a streaming predict: `{ ok: true, output }` per value the model streams. A failure is
 * reported as a last `{ ok: false }` event, after which the stream ends.
 */
export type StreamEvent = PredictOutcome;

/** How a runtime's process ended on its own (never reported for `stop()`). */
export interface RuntimeExit {
  code: number | null;
  signal: string | null;
  /** A sentence for operators, quoting the last lines of stderr when there are any. */
  reason: string;
}

export type RuntimeKind = "node" | "runnable_image" | "python";

/** A started model. Create one with `createRuntime`, then `start()` it once. */
export interface Runtime {
  readonly kind: RuntimeKind;
  /**
   * The pid of the model's child process (also its process-group id) while it runs; undefined for
   * in-process runtimes. A controller kills this group when the worker itself dies without cleaning up.
   */
  readonly pid?: number | undefined;
  /**
   * Loads the model, or starts the child process and waits until it is healthy. Rejects with a
   * `RuntimeStartError` naming the reason (a module that fails to load, a missing command, the last
   * stderr lines of a child that exited, a readiness deadline that passed).
   */
  start(): Promise<void>;
  /** Runs one task. Never rejects: failures are `{ ok: false }`. */
  predict(input: PredictInput, signal?: AbortSignal): Promise<PredictOutcome>;
  /** Runs one streaming task, yielding events as the model produces them. Absent when unsupported. */
  stream?(input: PredictInput, signal?: AbortSignal): AsyncIterable<StreamEvent>;
  /** Stops the model: asks politely, then forces after `graceMs`. Leaves no process behind. */
  stop(graceMs?: number): Promise<void>;
  /** Recent output lines (the child's stdout and stderr, or the runtime's own notes), oldest first. */
  logs(): string[];
  /** Calls `listener` when the model dies after a successful start. Returns an unsubscribe function. */
  onExit(listener: (exit: RuntimeExit) => void): () => void;
}

/** `start()` failed, or the bundle cannot be run at all; the message says why. */
export class RuntimeStartError extends Error {
  override readonly name = "RuntimeStartError";
  /** The last output lines when there were any (already quoted in the message). */
  readonly logTail: string[];

  constructor(message: string, options: { cause?: unknown; logTail?: string[] } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.logTail = options.logTail ?? [];
  }
}

/** Whether `value` is a RuntimeStartError (by name, so it works across copies of this package). */
export function isRuntimeStartError(value: unknown): value is RuntimeStartError {
  return value instanceof Error && value.name === "RuntimeStartError";
}

/** The failure for a task that has neither `args` nor `url` (the reference's wording). */
export const NO_INPUT_ERROR = "Input needs either url or args.";
