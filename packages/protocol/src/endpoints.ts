/** Wire types of model endpoints (`wire-protocol.md` §4). */

export const ENDPOINT_TYPES = ["async", "sync", "streaming"] as const;
export type EndpointType = (typeof ENDPOINT_TYPES)[number];

export const ENDPOINT_STATUSES = [
  "UPDATE_PENDING",
  "UPDATE_IN_PROGRESS",
  "READY",
  "UPDATE_FAILED",
  "DELETE_IN_PROGRESS",
] as const;
export type EndpointStatus = (typeof ENDPOINT_STATUSES)[number];

/** Post-inference hooks a server knows. The Python client's `PostInferenceHooks.CALLBACK` is `"callback"`. */
export const POST_INFERENCE_HOOKS = ["callback"] as const;
export type PostInferenceHook = (typeof POST_INFERENCE_HOOKS)[number];

/** [ext] Which task outcomes send a callback. Default `["succeeded"]`, the seed document's behaviour. */
export const CALLBACK_EVENTS = ["succeeded", "failed"] as const;
export type CallbackEvent = (typeof CALLBACK_EVENTS)[number];

export const ENDPOINT_ORDER_BY = ["newest", "oldest", "alphabetical"] as const;
export type EndpointOrderBy = (typeof ENDPOINT_ORDER_BY)[number];

/** Callback credentials as sent by a client. Never returned in full: see {@link CallbackAuthView}. */
export type CallbackAuth =
  | { kind: "basic"; username: string; password: string }
  | { kind: "mtls"; cert: string; key: string };

export type CallbackAuthKind = CallbackAuth["kind"];
export const CALLBACK_AUTH_KINDS = ["basic", "mtls"] as const satisfies readonly CallbackAuthKind[];

/** What responses show of callback credentials: the kind, and the username for basic auth. */
export type CallbackAuthView = { kind: "basic"; username: string } | { kind: "mtls" };

/** A quantity is echoed back exactly as sent: `1`, `"1"`, `"500m"`, `"8Gi"`. */
export type Quantity = string | number;

/** `POST /v1/model-endpoints` body. */
export interface CreateEndpointRequest {
  name: string;
  model_bundle_id: string;
  endpoint_type: EndpointType;
  metadata: Record<string, unknown>;
  cpus: Quantity;
  gpus: number;
  memory: Quantity;
  /** Optional: the Python client sends none unless told; the endpoint then shows `null`. */
  storage?: Quantity | null;
  gpu_type?: string | null;
  min_workers: number;
  max_workers: number;
  per_worker: number;
  concurrent_requests_per_worker?: number | null;
  labels: Record<string, string>;
  post_inference_hooks?: string[] | null;
  default_callback_url?: string | null;
  default_callback_auth?: CallbackAuth | null;
  /** [ext] */
  callback_events?: CallbackEvent[] | null;
  public_inference?: boolean | null;
  high_priority?: boolean | null;
  prewarm?: boolean | null;
  billing_tags?: Record<string, unknown> | null;
  optimize_costs?: boolean | null;
  forwarder_max_concurrency?: number | null;
  task_expires_seconds?: number | null;
  queue_message_timeout_seconds?: number | null;
  nodes_per_worker?: number | null;
}

/** `PUT /v1/model-endpoints/{id}` body: patch semantics, absent or null keeps the current value. */
export type UpdateEndpointRequest = Partial<
  Omit<CreateEndpointRequest, "name" | "endpoint_type" | "nodes_per_worker">
>;

export interface DeploymentState {
  min_workers: number;
  max_workers: number;
  per_worker: number;
  concurrent_requests_per_worker: number;
  available_workers: number;
  unavailable_workers: number;
}

export interface ResourceState {
  cpus: Quantity;
  gpus: number;
  memory: Quantity;
  gpu_type: string | null;
  /** `null` when the create gave none. */
  storage: Quantity | null;
  nodes_per_worker: number;
}

/** `GET /v1/model-endpoints/{id}` response. */
export interface Endpoint {
  id: string;
  name: string;
  endpoint_type: EndpointType;
  destination: string;
  deployment_name: string;
  metadata: Record<string, unknown>;
  bundle_name: string;
  /** [ext] the id of the bundle the endpoint runs. */
  model_bundle_id: string;
  status: EndpointStatus;
  status_reason: string | null;
  post_inference_hooks: string[] | null;
  default_callback_url: string | null;
  default_callback_auth: CallbackAuthView | null;
  /** [ext] */
  callback_events: CallbackEvent[];
  labels: Record<string, string>;
  created_by: string;
  created_at: string;
  last_updated_at: string;
  public_inference: boolean;
  num_queued_items: number;
  deployment_state: DeploymentState;
  resource_state: ResourceState;
  /** [ext] the rest of the create body, echoed. */
  high_priority: boolean | null;
  prewarm: boolean | null;
  billing_tags: Record<string, unknown> | null;
  optimize_costs: boolean | null;
  task_expires_seconds: number | null;
  queue_message_timeout_seconds: number | null;
  forwarder_max_concurrency: number | null;
}

export interface EndpointCreated {
  endpoint_creation_task_id: string;
}
