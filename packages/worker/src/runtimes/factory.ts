/**
 * Picks the runtime for a bundle by its flavor (`bundles.md`):
 * - `zip_artifact` with `framework_type: "node"` → `NodeRuntime` (in process, needs the unpacked bundle);
 * - `runnable_image`, `streaming_enhanced_runnable_image`, `triton_enhanced_runnable_image` →
 *   `RunnableImageRuntime` (a child process);
 * - `cloudpickle_artifact` and other `zip_artifact` bundles → the Python runtime (§3), not built yet:
 *   adding `runtimes/python.ts` means filling its entry in `FACTORIES`.
 */
import type { BundleFlavor } from "@launch/protocol";
import { NodeRuntime, type NodeRuntimeOptions } from "./node.js";
import { type Runtime, type RuntimeKind, RuntimeStartError } from "./port.js";
import { RunnableImageRuntime, type RunnableImageRuntimeOptions } from "./runnable-image.js";

/** What the factory needs of a bundle (a `BundleV2` fits). */
export interface RuntimeBundle {
  id: string;
  flavor: BundleFlavor;
}

export interface CreateRuntimeOptions {
  /** The unpacked bundle directory, for artifact flavors (from `BundleCache.unpack`). */
  bundleDir?: string;
  /** Options for Node bundles. */
  node?: Omit<NodeRuntimeOptions, "directory" | "flavor">;
  /** Options for runnable images (`cwd` defaults to `bundleDir` when given). */
  runnableImage?: Omit<RunnableImageRuntimeOptions, "flavor">;
}

type RuntimeFactory = (bundle: RuntimeBundle, options: CreateRuntimeOptions) => Runtime;

const FACTORIES: Record<RuntimeKind, RuntimeFactory | undefined> = {
  node: createNodeRuntime,
  runnable_image: createRunnableImageRuntime,
  python: undefined,
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
 * The runtime for a bundle, not yet started. Throws a `RuntimeStartError` when this server cannot run
 * the flavor (Python bundles, for now) or when a needed option is missing.
 *
 * @example const runtime = createRuntime(bundle, { bundleDir: await cache.unpack(bundle.id, zip) }); await runtime.start();
 */
export function createRuntime(bundle: RuntimeBundle, options: CreateRuntimeOptions = {}): Runtime {
  const kind = runtimeKindOf(bundle.flavor);
  const factory = FACTORIES[kind];
  if (!factory) {
    throw new RuntimeStartError(
      "Python bundles (cloudpickle_artifact, zip_artifact with framework pytorch/tensorflow/custom_base_image) are not supported by this server yet",
    );
  }
  return factory(bundle, options);
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
