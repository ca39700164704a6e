export * from "./bundle-cache.js";
export * from "./fixtures.js";
export * from "./runtimes/factory.js";
export {
  DEFAULT_LOAD_MODEL_EXPORT,
  DEFAULT_LOAD_PREDICT_FN_EXPORT,
  NodeRuntime,
  type NodeRuntimeOptions,
  parseModuleRef,
} from "./runtimes/node.js";
export * from "./runtimes/port.js";
export {
  type RunnableImageBundleFlavor,
  RunnableImageRuntime,
  type RunnableImageRuntimeOptions,
  substitutePort,
} from "./runtimes/runnable-image.js";
export type { UrlInputOptions } from "./runtimes/url-input.js";
