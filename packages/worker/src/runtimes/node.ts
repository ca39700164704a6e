/**
 * The Node runtime (`bundles.md` §1): the bundle is a directory of JavaScript modules, run in the
 * worker's process. The flavor names two exports as `module#export`:
 * - `load_model_fn_module_path`, called once as `loadModel(appConfig)`;
 * - `load_predict_fn_module_path`, called once as `loadPredictFn(model, appConfig)`, giving `predict`.
 * Without `#`, the export is `loadModel` and `loadPredictFn` respectively (one module can hold both);
 * write `#default` for a default export.
 *
 * Per task, `predict(args)` (sync or async) must return a JSON-serialisable value (plain objects,
 * arrays, strings, finite numbers, booleans, null). A thrown error fails the task with its message and
 * stack (status 500). When the task has a `url` instead of `args`, the runtime fetches it and passes the
 * parsed JSON, or the raw bytes as a `Uint8Array` when the body is not JSON.
 *
 * Streaming: a `predict` that returns an async iterable (or a generator) streams one event per yielded
 * value through `stream()`; `predict()` collects such a result into an array, so a streaming model also
 * answers async and sync tasks. A plain value streams as a single event.
 */
import { stat } from "node:fs/promises";
import { isAbsolute, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { ZipArtifactFlavor } from "@launch/protocol";
import { describeNonJson, typeName } from "./json-output.js";
import { LogRing } from "./log-ring.js";
import {
  NO_INPUT_ERROR,
  type PredictInput,
  type PredictOutcome,
  type Runtime,
  type RuntimeExit,
  RuntimeStartError,
  type StreamEvent,
} from "./port.js";
import { fetchUrlInput, type UrlInputOptions } from "./url-input.js";

/** The export used when `load_model_fn_module_path` has no `#export`. */
export const DEFAULT_LOAD_MODEL_EXPORT = "loadModel";
/** The export used when `load_predict_fn_module_path` has no `#export`. */
export const DEFAULT_LOAD_PREDICT_FN_EXPORT = "loadPredictFn";

/** The status of every in-process outcome: 200 for a result, 500 when the model threw. */
const OK_STATUS = 200;
const MODEL_ERROR_STATUS = 500;

export interface NodeRuntimeOptions {
  /** The unpacked bundle (see `BundleCache`). */
  directory: string;
  flavor: ZipArtifactFlavor;
  /** How `url` inputs are fetched (timeout, size limit). */
  url?: Omit<UrlInputOptions, "signal">;
  /** How many lines `logs()` keeps. Default 200. */
  logLines?: number;
}

type PredictFn = (args: unknown) => unknown;

/**
 * Splits `module.mjs#exportName` into its parts; `defaultExport` applies when there is no `#`.
 *
 * @example parseModuleRef("lib/model.mjs#load", "loadModel") // { modulePath: "lib/model.mjs", exportName: "load" }
 */
export function parseModuleRef(
  ref: string,
  defaultExport: string,
): { modulePath: string; exportName: string } {
  const hash = ref.lastIndexOf("#");
  if (hash < 0) return { modulePath: ref, exportName: defaultExport };
  return { modulePath: ref.slice(0, hash), exportName: ref.slice(hash + 1) || defaultExport };
}

/** Runs a Node bundle in this process. */
export class NodeRuntime implements Runtime {
  readonly kind = "node" as const;
  private predictFn: PredictFn | undefined;
  private state: "new" | "starting" | "ready" | "failed" | "stopped" = "new";
  private readonly notes: LogRing;

  constructor(private readonly options: NodeRuntimeOptions) {
    this.notes = new LogRing(options.logLines ?? 200);
  }

  async start(): Promise<void> {
    if (this.state !== "new")
      throw new RuntimeStartError(`start() was already called (the runtime is ${this.state}).`);
    this.state = "starting";
    try {
      const { flavor } = this.options;
      const appConfig = flavor.app_config ?? null;
      const began = performance.now();
      const loadModel = await this.importFunction("load_model_fn_module_path", DEFAULT_LOAD_MODEL_EXPORT);
      const loadPredictFn = await this.importFunction(
        "load_predict_fn_module_path",
        DEFAULT_LOAD_PREDICT_FN_EXPORT,
      );
      const model = await callLoader("load_model_fn_module_path", flavor.load_model_fn_module_path, () =>
        loadModel(appConfig),
      );
      const predict = await callLoader(
        "load_predict_fn_module_path",
        flavor.load_predict_fn_module_path,
        () => loadPredictFn(model, appConfig),
      );
      if (typeof predict !== "function") {
        throw new RuntimeStartError(
          `load_predict_fn_module_path ${JSON.stringify(flavor.load_predict_fn_module_path)} returned ${describeValue(predict)}; it must return the predict function.`,
        );
      }
      this.predictFn = predict as PredictFn;
      this.state = "ready";
      this.note(`model loaded in ${Math.round(performance.now() - began)} ms`);
    } catch (error) {
      this.state = "failed";
      this.note(error instanceof Error ? error.message : String(error));
      throw error;
    }
  }

  async predict(input: PredictInput, signal?: AbortSignal): Promise<PredictOutcome> {
    const predict = this.predictFn;
    if (!predict || this.state !== "ready")
      return failure(`The model is not loaded (the runtime is ${this.state}).`, null);
    const args = await this.resolveArgs(input, signal);
    if (!args.ok) return args.outcome;
    try {
      let output = predict(args.value);
      if (isPromiseLike(output)) output = await raceAbort(output, signal);
      if (isStream(output)) output = await raceAbort(collect(output), signal);
      return checkedOutput(output);
    } catch (error) {
      if (error instanceof CancelledError) return failure(error.message, null);
      return thrown(error);
    }
  }

  /** Streams one event per value the model yields; a plain result is one event. */
  async *stream(input: PredictInput, signal?: AbortSignal): AsyncGenerator<StreamEvent> {
    const predict = this.predictFn;
    if (!predict || this.state !== "ready") {
      yield failure(`The model is not loaded (the runtime is ${this.state}).`, null);
      return;
    }
    const args = await this.resolveArgs(input, signal);
    if (!args.ok) {
      yield args.outcome;
      return;
    }
    let output: unknown;
    try {
      output = predict(args.value);
      if (isPromiseLike(output)) output = await raceAbort(output, signal);
    } catch (error) {
      if (!(error instanceof CancelledError)) yield thrown(error);
      return;
    }
    if (!isStream(output)) {
      yield checkedOutput(output);
      return;
    }
    const iterator = (output as AsyncIterable<unknown>)[Symbol.asyncIterator]?.() ?? toAsync(output);
    let done = false;
    try {
      while (!signal?.aborted) {
        const step = await iterator.next();
        if (step.done) {
          done = true;
          return;
        }
        const event = checkedOutput(step.value);
        yield event;
        if (!event.ok) return;
      }
    } catch (error) {
      done = true;
      yield thrown(error);
    } finally {
      if (!done) await iterator.return?.();
    }
  }

  async stop(): Promise<void> {
    this.predictFn = undefined;
    if (this.state !== "failed") this.state = "stopped";
  }

  logs(): string[] {
    return this.notes.lines();
  }

  /** The model runs in this process: a crash takes the worker with it, so there is nothing to report. */
  onExit(_listener: (exit: RuntimeExit) => void): () => void {
    return () => undefined;
  }

  private async importFunction(
    field: "load_model_fn_module_path" | "load_predict_fn_module_path",
    defaultExport: string,
  ): Promise<(...args: unknown[]) => unknown> {
    const ref = this.options.flavor[field];
    const shown = `${field} ${JSON.stringify(ref)}`;
    if (typeof ref !== "string" || ref.length === 0) {
      throw new RuntimeStartError(`${field} is empty; expected "module.mjs#exportName".`);
    }
    const { modulePath, exportName } = parseModuleRef(ref, defaultExport);
    const root = resolve(this.options.directory);
    const file = resolve(root, modulePath);
    const inside = relative(root, file);
    if (modulePath.length === 0 || inside.startsWith("..") || isAbsolute(inside) || isAbsolute(modulePath)) {
      throw new RuntimeStartError(
        `${shown} must name a module inside the bundle, like "model.mjs#${defaultExport}".`,
      );
    }
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile())
      throw new RuntimeStartError(`${shown}: the bundle has no file ${JSON.stringify(modulePath)}.`);
    let namespace: Record<string, unknown>;
    try {
      namespace = (await import(/* @vite-ignore */ pathToFileURL(file).href)) as Record<string, unknown>;
    } catch (error) {
      throw new RuntimeStartError(`${shown}: the module failed to load: ${messageOf(error)}`, {
        cause: error,
      });
    }
    const fn = namespace[exportName];
    if (typeof fn !== "function") {
      const available = Object.keys(namespace).join(", ") || "nothing";
      const problem =
        fn === undefined
          ? `has no export "${exportName}"`
          : `exports "${exportName}" as ${describeValue(fn)}`;
      throw new RuntimeStartError(
        `${shown}: the module ${problem}; expected a function (it exports: ${available}).`,
      );
    }
    return fn as (...args: unknown[]) => unknown;
  }

  private async resolveArgs(
    input: PredictInput,
    signal: AbortSignal | undefined,
  ): Promise<{ ok: true; value: unknown } | { ok: false; outcome: PredictOutcome }> {
    if (input.url) {
      const fetched = await fetchUrlInput(input.url, { ...this.options.url, signal });
      return fetched.ok
        ? { ok: true, value: fetched.value }
        : { ok: false, outcome: failure(fetched.error, null) };
    }
    if (input.args === undefined || input.args === null)
      return { ok: false, outcome: failure(NO_INPUT_ERROR, null) };
    return { ok: true, value: input.args };
  }

  private note(message: string): void {
    this.notes.push(`[launch] ${message}`);
  }
}

async function callLoader(field: string, ref: string, call: () => unknown): Promise<unknown> {
  try {
    return await call();
  } catch (error) {
    throw new RuntimeStartError(`${field} ${JSON.stringify(ref)} threw: ${messageOf(error)}`, {
      cause: error,
    });
  }
}

function checkedOutput(output: unknown): PredictOutcome {
  const problem = describeNonJson(output);
  if (problem) {
    return failure(`The model's output is not JSON-serialisable: ${problem}.`, MODEL_ERROR_STATUS);
  }
  return { ok: true, output, statusCode: OK_STATUS };
}

function thrown(error: unknown): PredictOutcome {
  if (error instanceof Error) {
    return {
      ok: false,
      error: error.message,
      traceback: error.stack ?? null,
      statusCode: MODEL_ERROR_STATUS,
    };
  }
  return { ok: false, error: String(error), traceback: null, statusCode: MODEL_ERROR_STATUS };
}

function failure(error: string, statusCode: number | null): PredictOutcome {
  return { ok: false, error, traceback: null, statusCode };
}

class CancelledError extends Error {}

/** Resolves like `promise`, or rejects with a CancelledError as soon as `signal` aborts. */
function raceAbort<T>(promise: PromiseLike<T>, signal: AbortSignal | undefined): Promise<T> {
  const settled = Promise.resolve(promise);
  if (!signal) return settled;
  settled.catch(() => undefined); // the model may still fail after we stopped waiting
  return new Promise<T>((resolvePromise, reject) => {
    const onAbort = () => reject(new CancelledError(`The task was cancelled: ${messageOf(signal.reason)}`));
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    settled.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolvePromise(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === "function";
}

/** An async iterable or a generator object (arrays are values, not streams). */
function isStream(value: unknown): value is AsyncIterable<unknown> | Iterable<unknown> {
  if (value === null || typeof value !== "object") return false;
  if (typeof (value as AsyncIterable<unknown>)[Symbol.asyncIterator] === "function") return true;
  return Object.prototype.toString.call(value) === "[object Generator]";
}

async function collect(stream: AsyncIterable<unknown> | Iterable<unknown>): Promise<unknown[]> {
  const items: unknown[] = [];
  for await (const item of stream) items.push(item);
  return items;
}

function toAsync(iterable: unknown): AsyncIterator<unknown> {
  const iterator = (iterable as Iterable<unknown>)[Symbol.iterator]();
  return {
    next: async () => iterator.next(),
    return: async () => iterator.return?.() ?? { done: true, value: undefined },
  };
}

function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

function describeValue(value: unknown): string {
  if (value === undefined) return "undefined";
  const name = typeName(value);
  return /^[aeiou]/i.test(name) ? `an ${name}` : `a ${name}`;
}
