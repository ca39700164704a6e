/**
 * Bundle flavors as the SDK accepts them: the wire flavors of `@launch/protocol`, with every field the
 * server defaults left optional (`protocol`, `predict_route`, `healthcheck_route`, `env`, ...).
 */
import type {
  CloudpickleArtifactFlavor,
  RunnableImageFlavor,
  StreamingEnhancedRunnableImageFlavor,
  TritonEnhancedRunnableImageFlavor,
  ZipArtifactFlavor,
} from "@launch/protocol";

type WithOptional<T, Required extends keyof T> = Pick<T, Required> & Partial<Omit<T, Required>>;

export type RunnableImageFlavorInput = WithOptional<
  RunnableImageFlavor,
  "flavor" | "repository" | "tag" | "command"
>;

export type StreamingEnhancedRunnableImageFlavorInput = WithOptional<
  StreamingEnhancedRunnableImageFlavor,
  "flavor" | "repository" | "tag" | "streaming_command"
>;

export type TritonEnhancedRunnableImageFlavorInput = WithOptional<
  TritonEnhancedRunnableImageFlavor,
  "flavor" | "repository" | "tag" | "command"
> & { [tritonField: `triton_${string}`]: unknown };

export type CloudpickleArtifactFlavorInput = WithOptional<
  CloudpickleArtifactFlavor,
  "flavor" | "requirements" | "framework" | "location" | "load_predict_fn" | "load_model_fn"
>;

export type ZipArtifactFlavorInput = WithOptional<
  ZipArtifactFlavor,
  | "flavor"
  | "requirements"
  | "framework"
  | "location"
  | "load_predict_fn_module_path"
  | "load_model_fn_module_path"
>;

/** A bundle flavor to create: one of the wire flavors, with server-defaulted fields optional. */
export type ModelBundleFlavorInput =
  | RunnableImageFlavorInput
  | StreamingEnhancedRunnableImageFlavorInput
  | TritonEnhancedRunnableImageFlavorInput
  | CloudpickleArtifactFlavorInput
  | ZipArtifactFlavorInput;
