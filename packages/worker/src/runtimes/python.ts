/**
 * The Python runtime (`bundles.md` §3): `cloudpickle_artifact` and Python `zip_artifact` bundles run in
 * `python/launch_harness.py`, a small HTTP model server started with the host's interpreter. It is a
 * runnable image whose program is the harness: the child process, its process group, readiness, logs
 * and crash handling are `RunnableImageRuntime`'s; this file only says how to start the harness, how a
 * task becomes its request (`{args, url, return_pickled}`, not the unwrapped `args`), how its reply
 * becomes an outcome, and how a harness that dies while unpickling is explained.
 */
import { fileURLToPath } from "node:url";
import type { CloudpickleArtifactFlavor, RunnableImageFlavor, ZipArtifactFlavor } from "@launch/protocol";
import {
  isRuntimeStartError,
  type PredictInput,
  type PredictOutcome,
  type Runtime,
  type RuntimeExit,
  RuntimeStartError,
} from "./port.js";
import { RunnableImageRuntime, type RunnableImageRuntimeOptions } from "./runnable-image.js";

export type PythonBundleFlavor = CloudpickleArtifactFlavor | ZipArtifactFlavor;

export interface PythonRuntimeOptions {
  flavor: PythonBundleFlavor;
  /** The pickle file (cloudpickle) or the unpacked directory (zip). */
  artifact: string;
  /** The interpreter. Default "python3" (the `LAUNCH_PYTHON` setting). */
  python?: string;
  /** Where a per-bundle virtualenv may be made for missing requirements; null forbids installing. */
  venvDir?: string | null;
  /** How long installing requirements may take. Default 300 s. */
  installTimeoutSeconds?: number;
  /** Seconds the model may take to load before the worker gives up (on top of `readinessMarginMs`). Default 600. */
  loadSeconds?: number;
  /** Passed to the underlying runnable-image runtime (margin, log lines, onLog, baseEnv). */
  process?: Omit<RunnableImageRuntimeOptions, "flavor" | "kind" | "encodeInput" | "decodeReply" | "cwd">;
}

/** The harness program shipped with the worker. */
export const HARNESS_PATH = fileURLToPath(new URL("../../python/launch_harness.py", import.meta.url));

const HARNESS_NOTE = "launch-harness: ";

/** pip's own settings and the proxies, passed on so that requirements install from the host's index. */
const PIP_ENV_KEYS = [
  "PIP_INDEX_URL",
  "PIP_EXTRA_INDEX_URL",
  "PIP_TRUSTED_HOST",
  "PIP_CERT",
  "PIP_CONFIG_FILE",
  "PIP_FIND_LINKS",
  "PIP_NO_INDEX",
  "HTTP_PROXY",
  "HTTPS_PROXY",
  "NO_PROXY",
  "http_proxy",
  "https_proxy",
  "no_proxy",
] as const;

function pipEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of PIP_ENV_KEYS) {
    const value = process.env[key];
    if (value) env[key] = value;
  }
  return env;
}

/** Runs a Python bundle in the harness. */
export class PythonRuntime implements Runtime {
  readonly kind = "python" as const;
  private readonly inner: RunnableImageRuntime;

  constructor(private readonly options: PythonRuntimeOptions) {
    const { flavor } = options;
    const spec = {
      kind: flavor.flavor === "cloudpickle_artifact" ? "cloudpickle" : "zip",
      artifact: options.artifact,
      load_model_fn: flavor.flavor === "zip_artifact" ? flavor.load_model_fn_module_path : null,
      load_predict_fn: flavor.flavor === "zip_artifact" ? flavor.load_predict_fn_module_path : null,
      app_config: flavor.app_config ?? null,
      requirements: flavor.requirements ?? [],
      venv_dir: options.venvDir ?? null,
      install_timeout_seconds: options.installTimeoutSeconds ?? 300,
    };
    const program: RunnableImageFlavor = {
      flavor: "runnable_image",
      repository: "launch-python-harness",
      tag: "local",
      command: [options.python ?? "python3", "-u", HARNESS_PATH],
      protocol: "http",
      predict_route: "/predict",
      healthcheck_route: "/readyz",
      env: { ...pipEnv(), LAUNCH_HARNESS_SPEC: JSON.stringify(spec), PYTHONDONTWRITEBYTECODE: "1" },
      readiness_initial_delay_seconds: (options.loadSeconds ?? 600) + spec.install_timeout_seconds,
      extra_routes: [],
      routes: [],
      forwarder_type: null,
      worker_command: null,
      worker_env: null,
    };
    this.inner = new RunnableImageRuntime({
      ...options.process,
      flavor: program,
      kind: "python",
      encodeInput: harnessRequest,
      decodeReply: harnessReply,
    });
  }

  get pid(): number | undefined {
    return this.inner.pid;
  }

  async start(): Promise<void> {
    try {
      await this.inner.start();
    } catch (error) {
      throw explainStartError(error, this.options.python ?? "python3");
    }
  }

  predict(input: PredictInput, signal?: AbortSignal): Promise<PredictOutcome> {
    return this.inner.predict(input, signal);
  }

  stop(graceMs?: number): Promise<void> {
    return this.inner.stop(graceMs);
  }

  logs(): string[] {
    return this.inner.logs();
  }

  onExit(listener: (exit: RuntimeExit) => void): () => void {
    return this.inner.onExit(listener);
  }
}

/** The harness request: the whole predict input, so that it can apply `bundles.md` §3's rules. */
export function harnessRequest(input: PredictInput): string | PredictOutcome {
  try {
    return JSON.stringify({
      args: input.args ?? null,
      url: input.url ?? null,
      return_pickled: input.returnPickled ?? false,
    });
  } catch (error) {
    return {
      ok: false,
      error: `args cannot be sent as JSON: ${(error as Error).message}`,
      traceback: null,
      statusCode: null,
    };
  }
}

/** The harness reply (see launch_harness.py) as an outcome; in-process semantics, so status 200. */
export function harnessReply(text: string, statusCode: number, route: string): PredictOutcome {
  let reply: { ok?: unknown; output?: unknown; pickled?: unknown; error?: unknown; traceback?: unknown };
  try {
    reply = JSON.parse(text) as typeof reply;
  } catch {
    return {
      ok: false,
      error: `The Python harness answered POST ${route} with ${statusCode} and a body that is not JSON: ${JSON.stringify(text.slice(0, 200))}.`,
      traceback: null,
      statusCode,
    };
  }
  if (reply.ok === true) {
    if (typeof reply.pickled === "string")
      return { ok: true, output: null, pickled: reply.pickled, statusCode: 200 };
    return { ok: true, output: reply.output ?? null, statusCode: 200 };
  }
  return {
    ok: false,
    error: typeof reply.error === "string" ? reply.error : "the Python harness reported a failure",
    traceback: typeof reply.traceback === "string" ? reply.traceback : null,
    statusCode: statusCode === 200 ? 500 : statusCode,
  };
}

/**
 * A start failure in words an operator can act on. The harness writes its own reason as a last
 * "launch-harness: error: …" line; an interpreter that crashed while unpickling (a bundle pickled under
 * another Python minor version can do that) gets a sentence saying so.
 */
export function explainStartError(error: unknown, python: string): unknown {
  if (!isRuntimeStartError(error)) return error;
  if (/Command not found/.test(error.message)) {
    return new RuntimeStartError(
      `The Python interpreter ${JSON.stringify(python)} was not found: Python bundles need python3 with cloudpickle on this host (set LAUNCH_PYTHON to its path).`,
      { cause: error, logTail: error.logTail },
    );
  }
  const notes = error.logTail.filter((line) => line.startsWith(HARNESS_NOTE));
  const last = notes.at(-1)?.slice(HARNESS_NOTE.length);
  if (last?.startsWith("error: ")) {
    return new RuntimeStartError(`The Python bundle could not start: ${last.slice("error: ".length)}.`, {
      cause: error,
      logTail: error.logTail,
    });
  }
  const killed = /was killed by (SIG[A-Z]+)/.exec(error.message);
  if (last?.startsWith("unpickling ") && killed) {
    const version = / under Python (\S+)/.exec(last)?.[1] ?? "this host's version";
    return new RuntimeStartError(
      `The Python interpreter crashed (${killed[1]}) while unpickling the bundle under Python ${version}: the bundle was most likely pickled under another Python minor version. A cloudpickle bundle must run under the Python minor version that pickled it; set LAUNCH_PYTHON to a matching interpreter or re-create the bundle with Python ${version.split(".").slice(0, 2).join(".")}.`,
      { cause: error, logTail: error.logTail },
    );
  }
  return error;
}
