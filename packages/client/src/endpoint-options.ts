/**
 * The arguments of the SDK's endpoint methods, in camelCase, and their translation into the wire bodies
 * of `POST /v1/model-endpoints` and `PUT /v1/model-endpoints/{id}`.
 */
import type {
  CallbackAuth,
  CallbackAuthKind,
  CallbackEvent,
  CreateEndpointRequest,
  Endpoint,
  EndpointOrderBy,
  EndpointType,
  Quantity,
  UpdateEndpointRequest,
} from "@launch/protocol";
import type { ModelBundleRef } from "./bundle-options.js";
import { buildCallbackAuth } from "./callback-auth.js";

/** The settings of an endpoint that both create and edit accept. */
export interface ModelEndpointSettings {
  /** CPUs per worker, echoed back exactly as sent (`1`, `"500m"`). Create default 3. */
  cpus?: Quantity | undefined;
  /** Memory per worker (`"8Gi"`). Create default `"8Gi"`. */
  memory?: Quantity | undefined;
  /** Local storage per worker (`"16Gi"`). Create default `"16Gi"`. */
  storage?: Quantity | undefined;
  /** GPUs per worker. Create default 0. */
  gpus?: number | undefined;
  gpuType?: string | null | undefined;
  /** Create default 1. */
  minWorkers?: number | undefined;
  /** Create default 1. */
  maxWorkers?: number | undefined;
  /** Concurrent requests per worker the autoscaler aims at. Create default 10. */
  perWorker?: number | undefined;
  concurrentRequestsPerWorker?: number | null | undefined;
  highPriority?: boolean | null | undefined;
  /** Hook names, e.g. `[PostInferenceHooks.CALLBACK]`. */
  postInferenceHooks?: string[] | null | undefined;
  /** Where callbacks go unless a task names another URL. */
  defaultCallbackUrl?: string | null | undefined;
  /** `"basic"` (with username and password) or `"mtls"` (with cert and key). */
  defaultCallbackAuthKind?: CallbackAuthKind | undefined;
  defaultCallbackAuthUsername?: string | undefined;
  defaultCallbackAuthPassword?: string | undefined;
  /** PEM client certificate for mTLS callbacks. */
  defaultCallbackAuthCert?: string | undefined;
  /** PEM private key matching `defaultCallbackAuthCert`. Never returned by the server. */
  defaultCallbackAuthKey?: string | undefined;
  /** [ext] Which task outcomes send a callback (default `["succeeded"]`). */
  callbackEvents?: CallbackEvent[] | null | undefined;
  /** Lets any authenticated user run tasks on the endpoint. */
  publicInference?: boolean | null | undefined;
  /** On create: the labels. On edit: merged into the existing labels. */
  labels?: Record<string, string> | undefined;
  metadata?: Record<string, unknown> | undefined;
  prewarm?: boolean | null | undefined;
  billingTags?: Record<string, unknown> | null | undefined;
  optimizeCosts?: boolean | null | undefined;
  forwarderMaxConcurrency?: number | null | undefined;
  taskExpiresSeconds?: number | null | undefined;
  queueMessageTimeoutSeconds?: number | null | undefined;
}

export interface CreateModelEndpointOptions<T extends EndpointType = EndpointType>
  extends ModelEndpointSettings {
  endpointName: string;
  /** A bundle name (its latest bundle), a bundle id, or a bundle object. */
  modelBundle: ModelBundleRef;
  /** `"sync"` (default, as in the Python client), `"async"` or `"streaming"`. */
  endpointType?: T | undefined;
  nodesPerWorker?: number | undefined;
  /**
   * When an endpoint of this name exists, edit it with these arguments (hooks and labels included,
   * unlike the Python client) instead of failing with `ConflictError`.
   */
  updateIfExists?: boolean | undefined;
}

/** An endpoint given by name, by id (`end_...`), as its wire view, or as an endpoint object. */
export type ModelEndpointRef = string | Pick<Endpoint, "id"> | { modelEndpoint: Pick<Endpoint, "id"> };

export interface EditModelEndpointOptions extends ModelEndpointSettings {
  modelEndpoint: ModelEndpointRef;
  /** Switch the endpoint to another bundle. */
  modelBundle?: ModelBundleRef | undefined;
}

export interface ListModelEndpointsOptions {
  /** Only the endpoint of this name. */
  name?: string | undefined;
  orderBy?: EndpointOrderBy | undefined;
}

/** The create defaults of the Python client. */
export const CREATE_DEFAULTS = {
  cpus: 3,
  memory: "8Gi",
  storage: "16Gi",
  gpus: 0,
  minWorkers: 1,
  maxWorkers: 1,
  perWorker: 10,
  endpointType: "sync",
} as const;

/**
 * The `default_callback_auth` the callback arguments describe, or undefined when no kind is given.
 * Credentials that do not belong to the kind, or that come without a kind, are rejected here rather
 * than silently dropped.
 *
 * @example callbackAuthFrom({ defaultCallbackAuthKind: "basic", defaultCallbackAuthUsername: "u", defaultCallbackAuthPassword: "p" })
 * // { kind: "basic", username: "u", password: "p" }
 */
export function callbackAuthFrom(settings: ModelEndpointSettings): CallbackAuth | undefined {
  return buildCallbackAuth(
    settings.defaultCallbackAuthKind,
    {
      username: settings.defaultCallbackAuthUsername,
      password: settings.defaultCallbackAuthPassword,
      cert: settings.defaultCallbackAuthCert,
      key: settings.defaultCallbackAuthKey,
    },
    "defaultCallbackAuth",
    "default_callback_auth",
  );
}

/** The wire fields shared by create and update bodies; `undefined` entries are dropped. */
function settingsBody(settings: ModelEndpointSettings): UpdateEndpointRequest {
  return dropUndefined({
    cpus: settings.cpus,
    memory: settings.memory,
    storage: settings.storage,
    gpus: settings.gpus,
    gpu_type: settings.gpuType,
    min_workers: settings.minWorkers,
    max_workers: settings.maxWorkers,
    per_worker: settings.perWorker,
    concurrent_requests_per_worker: settings.concurrentRequestsPerWorker,
    high_priority: settings.highPriority,
    post_inference_hooks: settings.postInferenceHooks,
    default_callback_url: settings.defaultCallbackUrl,
    default_callback_auth: callbackAuthFrom(settings),
    callback_events: settings.callbackEvents,
    public_inference: settings.publicInference,
    labels: settings.labels,
    metadata: settings.metadata,
    prewarm: settings.prewarm,
    billing_tags: settings.billingTags,
    optimize_costs: settings.optimizeCosts,
    forwarder_max_concurrency: settings.forwarderMaxConcurrency,
    task_expires_seconds: settings.taskExpiresSeconds,
    queue_message_timeout_seconds: settings.queueMessageTimeoutSeconds,
  });
}

/**
 * The `POST /v1/model-endpoints` body for create options, with the Python client's defaults.
 *
 * @example createBody({ endpointName: "e", modelBundle: "b", cpus: 1 }, "bun_1").cpus // 1
 */
export function createBody(
  options: CreateModelEndpointOptions,
  modelBundleId: string,
): CreateEndpointRequest {
  return {
    ...settingsBody(options),
    name: options.endpointName,
    model_bundle_id: modelBundleId,
    endpoint_type: options.endpointType ?? CREATE_DEFAULTS.endpointType,
    metadata: options.metadata ?? {},
    cpus: options.cpus ?? CREATE_DEFAULTS.cpus,
    memory: options.memory ?? CREATE_DEFAULTS.memory,
    storage: options.storage ?? CREATE_DEFAULTS.storage,
    gpus: options.gpus ?? CREATE_DEFAULTS.gpus,
    min_workers: options.minWorkers ?? CREATE_DEFAULTS.minWorkers,
    max_workers: options.maxWorkers ?? CREATE_DEFAULTS.maxWorkers,
    per_worker: options.perWorker ?? CREATE_DEFAULTS.perWorker,
    labels: options.labels ?? {},
    ...(options.nodesPerWorker === undefined ? {} : { nodes_per_worker: options.nodesPerWorker }),
  };
}

/**
 * The `PUT /v1/model-endpoints/{id}` body for edit options: only what was given (patch semantics).
 *
 * @example updateBody({ minWorkers: 2 }, undefined) // { min_workers: 2 }
 */
export function updateBody(
  settings: ModelEndpointSettings,
  modelBundleId: string | undefined,
): UpdateEndpointRequest {
  const body = settingsBody(settings);
  if (modelBundleId !== undefined) body.model_bundle_id = modelBundleId;
  return body;
}

function dropUndefined<T extends Record<string, unknown>>(value: T): T {
  const out: Record<string, unknown> = {};
  for (const [key, entry] of Object.entries(value)) if (entry !== undefined) out[key] = entry;
  return out as T;
}
