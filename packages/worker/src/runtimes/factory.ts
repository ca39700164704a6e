/**
 * Picks the runtime for a bundle by its flavor (`bundles.md`):
 * - `zip_artifact` with `framework_type: "node"` → `NodeRuntime` (in process, needs the unpacked bundle);
 * - `runnable_image`, `streaming_enhanced_runnable_image`, `triton_enhanced_runnable_image` →
 *   `RunnableImageRuntime` (a child process);
 * - `cloudpickle_artifact` and other `zip_artifact` bundles → `PythonRuntime` (§3, the harness run by
 *   the host's python3; needs the pickle file or the unpacked zip directory).
 */
import type { BundleFlavor } from "@launch/protocol";
import { NodeRuntime, type NodeRuntimeOptions } from "./node.js";
import { type Runtime, type RuntimeKind, RuntimeStartError } from "./port.js";
import { PythonRuntime, type PythonRuntimeOptions } from "./python.js";
import { RunnableImageRuntime, type RunnableImageRuntimeOptions } from "./runnable-image.js";

/** What the factory needs of a bundle (a `BundleV2` fits). */
export interface RuntimeBundle {
  id: string;
  flavor: BundleFlavor;
}

export interface CreateRuntimeOptions {
  /** The unpacked bundle directory, for zip artifact flavors (from `BundleCache.unpack`). */
  bundleDir?: string;
  /** The artifact file itself, for `cloudpickle_artifact` bundles (a pickle is not unpacked). */
  artifactPath?: string;
  /** Options for Python bundles (the interpreter, where virtualenvs go). */
  python?: Omit<PythonRuntimeOptions, "flavor" | "artifact" | "process">;
  /** Options for Node bundles. */
  node?: Omit<NodeRuntimeOptions, "directory" | "flavor">;
  /** Options for runnable images (`cwd` defaults to `bundleDir` when given). */
  runnableImage?: Omit<RunnableImageRuntimeOptions, "flavor">;
}

type RuntimeFactory = (bundle: RuntimeBundle, options: CreateRuntimeOptions) => Runtime;

const FACTORIES: Record<RuntimeKind, RuntimeFactory> = {
  node: createNodeRuntime,
  runnable_image: createRunnableImageRuntime,
  python: createPythonRuntime,
};

/** Which runtime runs a flavor. */
export function runtimeKindOf(flavor: BundleFlavor): RuntimeKind {
  switch (flavor.flavor) {
    case "runnable_image":
    case "streaming_enhanced_runnable_image":
    case "triton_enhanced_runnable_image":
      return "runnable_image";
    case "zip_artifact":
      return flavor.framework?.framework_type === "node" ? "node" : "python";
    case "cloudpickle_artifact":
      return "python";
  }
}

/**
 * The runtime for a bundle, not yet started. Throws a `RuntimeStartError` when a needed option (the
 * artifact) is missing.
 *
 * @example const runtime = createRuntime(bundle, { bundleDir: await cache.unpack(bundle.id, zip) }); await runtime.start();
 */
export function createRuntime(bundle: RuntimeBundle, options: CreateRuntimeOptions = {}): Runtime {
  const kind = runtimeKindOf(bundle.flavor);
  return FACTORIES[kind](bundle, options);
}

function createNodeRuntime(bundle: RuntimeBundle, options: CreateRuntimeOptions): Runtime {
  if (bundle.flavor.flavor !== "zip_artifact") throw new Error(`Not a Node bundle: ${bundle.flavor.flavor}`);
  if (!options.bundleDir) {
    throw new RuntimeStartError(
      `Bundle ${bundle.id} is a Node bundle: its unpacked directory (bundleDir) is needed.`,
    );
  }
  return new NodeRuntime({ ...options.node, directory: options.bundleDir, flavor: bundle.flavor });
}

function createRunnableImageRuntime(bundle: RuntimeBundle, options: CreateRuntimeOptions): Runtime {
  const { flavor } = bundle;
  if (
    flavor.flavor !== "runnable_image" &&
    flavor.flavor !== "streaming_enhanced_runnable_image" &&
    flavor.flavor !== "triton_enhanced_runnable_image"
  ) {
    throw new Error(`Not a runnable image: ${flavor.flavor}`);
  }
  const cwd = options.runnableImage?.cwd ?? options.bundleDir;
  return new RunnableImageRuntime({
    ...options.runnableImage,
    ...(cwd === undefined ? {} : { cwd }),
    flavor,
  });
}

function createPythonRuntime(bundle: RuntimeBundle, options: CreateRuntimeOptions): Runtime {
  const { flavor } = bundle;
  if (flavor.flavor !== "cloudpickle_artifact" && flavor.flavor !== "zip_artifact") {
    throw new Error(`Not a Python bundle: ${flavor.flavor}`);
  }
  const artifact = flavor.flavor === "cloudpickle_artifact" ? options.artifactPath : options.bundleDir;
  if (!artifact) {
    const what =
      flavor.flavor === "cloudpickle_artifact"
        ? "its pickle file (artifactPath)"
        : "its unpacked directory (bundleDir)";
    throw new RuntimeStartError(`Bundle ${bundle.id} is a Python bundle: ${what} is needed.`);
  }
  const { runnableImage } = options;
  return new PythonRuntime({
    ...options.python,
    flavor,
    artifact,
    ...(runnableImage === undefined ? {} : { process: runnableImage }),
  });
}
