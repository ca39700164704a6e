import type { Endpoint } from "@launch/protocol";
import type { WorkerCounts } from "../orchestration/port.js";
import type { EndpointRecord } from "../store/port.js";
import { callbackAuthView } from "./callback-auth.js";

/** What the view needs besides the record: facts that live outside the store. */
export interface EndpointRuntime {
  bundleName: string;
  workers: WorkerCounts;
  /** Tasks waiting in the queue for this endpoint. */
  queuedItems: number;
}

/**
 * The queue name async tasks of an endpoint go to, and the name of its worker deployment. Both are
 * derived from the id, so they never change for the life of the endpoint.
 */
export function endpointDestination(endpointId: string): string {
  return `launch-endpoint-id-${endpointId}`;
}

/**
 * The `Endpoint` response (`wire-protocol.md` §4 plus our [ext] keys): every key present, nullable ones
 * as null, quantities echoed exactly as sent, and callback credentials reduced to kind and username.
 *
 * @example endpointView(record, { bundleName: "test-bundle", workers: { available: 0, unavailable: 0 }, queuedItems: 0 })
 */
export function endpointView(record: EndpointRecord, runtime: EndpointRuntime): Endpoint {
  const spec = record.spec;
  return {
    id: record.id,
    name: record.name,
    endpoint_type: record.endpointType,
    destination: endpointDestination(record.id),
    deployment_name: endpointDestination(record.id),
    metadata: spec.metadata,
    bundle_name: runtime.bundleName,
    model_bundle_id: spec.modelBundleId,
    status: record.status,
    status_reason: record.statusReason,
    post_inference_hooks: spec.postInferenceHooks,
    default_callback_url: spec.defaultCallbackUrl,
    default_callback_auth: callbackAuthView(spec.defaultCallbackAuth),
    callback_events: spec.callbackEvents ?? ["succeeded"],
    labels: spec.labels,
    created_by: record.createdBy,
    created_at: record.createdAt,
    last_updated_at: record.lastUpdatedAt,
    public_inference: spec.publicInference,
    num_queued_items: runtime.queuedItems,
    deployment_state: {
      min_workers: spec.minWorkers,
      max_workers: spec.maxWorkers,
      per_worker: spec.perWorker,
      concurrent_requests_per_worker: spec.concurrentRequestsPerWorker ?? spec.perWorker,
      available_workers: runtime.workers.available,
      unavailable_workers: runtime.workers.unavailable,
    },
    resource_state: {
      cpus: spec.cpus,
      gpus: spec.gpus,
      memory: spec.memory,
      gpu_type: spec.gpuType,
      storage: spec.storage,
      nodes_per_worker: spec.nodesPerWorker,
    },
    high_priority: spec.highPriority,
    prewarm: spec.prewarm,
    billing_tags: spec.billingTags,
    optimize_costs: spec.optimizeCosts,
    task_expires_seconds: spec.taskExpiresSeconds,
    queue_message_timeout_seconds: spec.queueMessageTimeoutSeconds,
    forwarder_max_concurrency: spec.forwarderMaxConcurrency,
  };
}
