export * from "./bundle-cache.js";
export * from "./fixtures.js";
export { runExternalWorker } from "./process/external-worker.js";
export { type ForkWorkerOptions, forkWorker, WORKER_ENV_KEYS, workerBinPath } from "./process/fork.js";
export { HttpChannel } from "./process/http-channel.js";
export { checkInit } from "./process/init.js";
export {
  type ControllerChannel,
  memoryChannelPair,
  processChannel,
  type WorkerChannel,
} from "./process/ipc.js";
export { consoleLog, WORKER_LOG_PREFIX, type WorkerLog } from "./process/log.js";
export { NO_IPC_MESSAGE } from "./process/main.js";
export { syncResponseBody } from "./process/sync-body.js";
export {
  parseRequest,
  SyncServer,
  type SyncServerOptions,
  WORKER_TOKEN_HEADER,
} from "./process/sync-server.js";
export { TaskRunner, type TaskRunnerOptions } from "./process/task-runner.js";
export {
  imageFlavor,
  type LoggedLine,
  MessageRecorder,
  memoryLog,
  nodeFlavor,
  streamingImageFlavor,
  testBundle,
  testInit,
} from "./process/testing.js";
export {
  DEFAULT_INIT_TIMEOUT_MS,
  type RunWorkerOptions,
  runWorker,
  type WorkerRun,
} from "./process/worker.js";
export * from "./runtimes/factory.js";
export {
  DEFAULT_LOAD_MODEL_EXPORT,
  DEFAULT_LOAD_PREDICT_FN_EXPORT,
  NodeRuntime,
  type NodeRuntimeOptions,
  parseModuleRef,
} from "./runtimes/node.js";
export * from "./runtimes/port.js";
export { HARNESS_PATH, PythonRuntime, type PythonRuntimeOptions } from "./runtimes/python.js";
export * from "./runtimes/python-testing.js";
export {
  type RunnableImageBundleFlavor,
  RunnableImageRuntime,
  type RunnableImageRuntimeOptions,
  substitutePort,
} from "./runtimes/runnable-image.js";
export type { UrlInputOptions } from "./runtimes/url-input.js";
