/**
 * `@launch/client`: the TypeScript SDK of Launch, mirroring the Python client `scale-launch` 0.4 in
 * camelCase. Arguments are camelCase option objects; results are the server's wire objects (snake_case,
 * typed by `@launch/protocol`); endpoints are objects with `status()` and the wire view `modelEndpoint`.
 *
 * @example
 * import { EndpointRequest, LaunchClient } from "@launch/client";
 * const client = new LaunchClient({ apiKey: process.env.LAUNCH_API_KEY! });
 * const endpoint = await client.createModelEndpoint({ endpointName: "demo", modelBundle: "test-bundle", endpointType: "async" });
 * await endpoint.waitUntilReady();
 * const future = await endpoint.predict({ request: new EndpointRequest({ args: { x: 2, y: "hello" } }) });
 * console.log((await future.get({ timeoutMs: 60_000 })).result); // 7
 */
export type {
  BundleFlavor,
  BundleOrderBy,
  BundleV2,
  CallbackAttemptOutcome,
  CallbackAttemptView,
  CallbackAuth,
  CallbackAuthKind,
  CallbackAuthView,
  CallbackDeliveryList,
  CallbackDeliveryStatus,
  CallbackDeliveryView,
  CallbackEvent,
  CallbackSecret,
  CallbacksReplayed,
  Endpoint,
  EndpointOrderBy,
  EndpointStatus,
  EndpointType,
  ErrorBody,
  ErrorCode,
  PredictRequest,
  Quantity,
  SyncTaskResponse,
  TaskResponse,
  TaskStatus,
  ValidationIssue,
  WebhookVerificationReason,
} from "@launch/protocol";
/** Standard Webhooks helpers of the server, for receivers' own tests (sign a request as Launch does). */
export {
  CALLBACK_DELIVERY_STATUSES,
  DEFAULT_WEBHOOK_TOLERANCE_SECONDS,
  signWebhook,
  WEBHOOK_HEADERS,
} from "@launch/protocol";
export * from "./bundle-dirs.js";
export * from "./bundle-options.js";
export * from "./callbacks.js";
export * from "./client.js";
export * from "./endpoint.js";
export * from "./endpoint-options.js";
export * from "./errors.js";
export * from "./flavors.js";
export * from "./future.js";
export * from "./hooks.js";
export * from "./http.js";
export * from "./receiver.js";
export * from "./sse.js";
export * from "./task-calls.js";
export * from "./tasks.js";
export * from "./upload.js";
