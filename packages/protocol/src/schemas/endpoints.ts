/**
 * JSON schemas of the model endpoint routes (`wire-protocol.md` §4). The gateway validates requests with
 * them (types, required fields, simple bounds) and publishes them in `/openapi.json`. The server checks
 * the rest (`services/endpoint-validation.ts`): names, `min_workers ≤ max_workers`, quantities, hook
 * names, callback URL and credentials. Unknown body keys are ignored, as the reference server does.
 */
import {
  CALLBACK_AUTH_KINDS,
  CALLBACK_EVENTS,
  ENDPOINT_ORDER_BY,
  ENDPOINT_STATUSES,
  ENDPOINT_TYPES,
  POST_INFERENCE_HOOKS,
} from "../endpoints.js";
import { type JsonSchema, nullable, objectSchema, stringArraySchema, stringMapSchema } from "./common.js";

const quantity = (example: string) =>
  ({
    type: ["string", "number"],
    description: `A number or a quantity string such as ${example}; echoed back exactly as sent.`,
  }) as const;

/** Callback credentials as sent: `{kind: "basic", username, password}` or `{kind: "mtls", cert, key}`. */
export const callbackAuthSchema = {
  type: ["object", "null"],
  description:
    "Credentials for callbacks: kind `basic` needs `username` and `password`; kind `mtls` needs `cert` and `key` (PEM text that belong together). Stored encrypted, never returned.",
  properties: {
    kind: { type: "string", enum: [...CALLBACK_AUTH_KINDS] },
    username: { type: "string" },
    password: { type: "string", writeOnly: true },
    cert: {
      type: "string",
      writeOnly: true,
      description: "PEM X.509 certificate ('-----BEGIN CERTIFICATE-----').",
    },
    key: { type: "string", writeOnly: true, description: "Unencrypted PEM private key of `cert`." },
  },
} as const satisfies JsonSchema;

/** What responses show of callback credentials: the kind, and the username for basic auth. */
export const callbackAuthViewSchema = {
  type: ["object", "null"],
  properties: { kind: { type: "string", enum: [...CALLBACK_AUTH_KINDS] }, username: { type: "string" } },
  required: ["kind"],
} as const satisfies JsonSchema;

/** Body fields an update may change, all optional and nullable there (null keeps the current value). */
const editable = {
  model_bundle_id: { type: "string", minLength: 1, description: "The bundle to serve (yours)." },
  metadata: objectSchema,
  cpus: quantity('"500m" or "2"'),
  gpus: { type: "integer", minimum: 0 },
  memory: quantity('"512Mi" or "8Gi"'),
  storage: {
    ...quantity('"16Gi"'),
    description:
      'Local storage per worker, a number or a quantity string such as "16Gi"; echoed back exactly as sent. Optional (the Python client sends none unless told): the endpoint then shows null.',
  },
  gpu_type: { type: "string" },
  min_workers: { type: "integer", minimum: 0 },
  max_workers: { type: "integer", minimum: 0, description: "At least min_workers." },
  per_worker: { type: "integer", exclusiveMinimum: 0, description: "Concurrent requests a worker takes." },
  concurrent_requests_per_worker: {
    type: "integer",
    exclusiveMinimum: 0,
    description: "Default per_worker.",
  },
  labels: {
    ...stringMapSchema,
    description: "String to string. An update merges them into the current labels.",
  },
  post_inference_hooks: {
    type: "array",
    items: { type: "string" },
    description: `Hooks run after each task (case-insensitive): ${POST_INFERENCE_HOOKS.join(", ")}.`,
  },
  default_callback_url: { type: "string", description: "Absolute http(s) URL for callbacks." },
  default_callback_auth: callbackAuthSchema,
  callback_events: {
    type: "array",
    items: { type: "string", enum: [...CALLBACK_EVENTS] },
    description: '[ext] Task outcomes that send a callback; default ["succeeded"].',
  },
  public_inference: { type: "boolean", description: "Any authenticated user may run tasks (default false)." },
  high_priority: { type: "boolean" },
  prewarm: { type: "boolean" },
  billing_tags: objectSchema,
  optimize_costs: { type: "boolean" },
  forwarder_max_concurrency: { type: "integer", exclusiveMinimum: 0 },
  task_expires_seconds: { type: "integer", exclusiveMinimum: 0 },
  queue_message_timeout_seconds: { type: "integer", exclusiveMinimum: 0 },
} as const;

/** Every editable field, accepting null too. */
function nullableAll<T extends Record<string, JsonSchema>>(fields: T): Record<keyof T, JsonSchema> {
  const out: Record<string, JsonSchema> = {};
  for (const [key, schema] of Object.entries(fields)) {
    const type = schema.type;
    const types = Array.isArray(type) ? type : [type];
    const withNull = types.includes("null") ? types : [...types, "null"];
    const items = schema.enum ? { enum: [...(schema.enum as unknown[]), null] } : {};
    out[key] = { ...schema, type: withNull, ...items };
  }
  return out as Record<keyof T, JsonSchema>;
}

/** `POST /v1/model-endpoints` body. */
export const createEndpointBodySchema = {
  type: "object",
  properties: {
    name: {
      type: "string",
      maxLength: 63,
      description: "1-63 lowercase letters, digits and '-', starting and ending with a letter or digit.",
    },
    endpoint_type: { type: "string", enum: [...ENDPOINT_TYPES] },
    nodes_per_worker: { type: ["integer", "null"], minimum: 1, description: "Default 1." },
    // Null is let through here so that the gateway's type coercion cannot turn a null `gpus` into 0;
    // the server then reports a null required field as missing.
    ...nullableAll(editable),
  },
  required: [
    "name",
    "model_bundle_id",
    "endpoint_type",
    "metadata",
    "cpus",
    "gpus",
    "memory",
    "min_workers",
    "max_workers",
    "per_worker",
    "labels",
  ],
} as const satisfies JsonSchema;

/** `PUT /v1/model-endpoints/{id}` body: patch semantics, absent or null keeps the current value. */
export const updateEndpointBodySchema = {
  type: "object",
  description:
    "Absent or null fields keep their value; labels merge; name, endpoint_type and nodes_per_worker cannot change.",
  properties: nullableAll(editable),
} as const satisfies JsonSchema;

/** `?name=&order_by=` of the list route. */
export const listEndpointsQuerySchema = {
  type: "object",
  properties: {
    name: { type: "string", description: "Only the endpoint of this exact name." },
    order_by: { type: "string", enum: [...ENDPOINT_ORDER_BY], description: "Default oldest first." },
  },
} as const satisfies JsonSchema;

export const endpointIdParamsSchema = {
  type: "object",
  properties: { model_endpoint_id: { type: "string" } },
  required: ["model_endpoint_id"],
} as const satisfies JsonSchema;

/** `{endpoint_creation_task_id}`: the answer to create and update (it is the endpoint's id). */
export const endpointCreatedSchema = {
  type: "object",
  properties: {
    endpoint_creation_task_id: {
      type: "string",
      description: "The endpoint's id: poll GET /v1/model-endpoints/{id} until status is READY.",
    },
  },
  required: ["endpoint_creation_task_id"],
} as const satisfies JsonSchema;

const endpointKeys = {
  id: { type: "string" },
  name: { type: "string" },
  endpoint_type: { type: "string", enum: [...ENDPOINT_TYPES] },
  destination: { type: "string" },
  deployment_name: { type: "string" },
  metadata: objectSchema,
  bundle_name: { type: "string" },
  model_bundle_id: { type: "string", description: "[ext]" },
  status: { type: "string", enum: [...ENDPOINT_STATUSES] },
  status_reason: nullable({ type: "string" }),
  post_inference_hooks: nullable(stringArraySchema),
  default_callback_url: nullable({ type: "string" }),
  default_callback_auth: callbackAuthViewSchema,
  callback_events: { type: "array", items: { type: "string", enum: [...CALLBACK_EVENTS] } },
  labels: stringMapSchema,
  created_by: { type: "string" },
  created_at: { type: "string", format: "date-time" },
  last_updated_at: { type: "string", format: "date-time" },
  public_inference: { type: "boolean" },
  num_queued_items: { type: "integer" },
  deployment_state: {
    type: "object",
    properties: {
      min_workers: { type: "integer" },
      max_workers: { type: "integer" },
      per_worker: { type: "integer" },
      concurrent_requests_per_worker: { type: "integer" },
      available_workers: { type: "integer" },
      unavailable_workers: { type: "integer" },
    },
    required: [
      "min_workers",
      "max_workers",
      "per_worker",
      "concurrent_requests_per_worker",
      "available_workers",
      "unavailable_workers",
    ],
  },
  resource_state: {
    type: "object",
    properties: {
      cpus: { type: ["string", "number"] },
      gpus: { type: "integer" },
      memory: { type: ["string", "number"] },
      gpu_type: nullable({ type: "string" }),
      storage: { type: ["string", "number", "null"], description: "null when the create gave none." },
      nodes_per_worker: { type: "integer" },
    },
    required: ["cpus", "gpus", "memory", "gpu_type", "storage", "nodes_per_worker"],
  },
  high_priority: nullable({ type: "boolean" }),
  prewarm: nullable({ type: "boolean" }),
  billing_tags: nullable(objectSchema),
  optimize_costs: nullable({ type: "boolean" }),
  task_expires_seconds: nullable({ type: "integer" }),
  queue_message_timeout_seconds: nullable({ type: "integer" }),
  forwarder_max_concurrency: nullable({ type: "integer" }),
} as const;

/** `GetModelEndpointV1Response`, plus our [ext] keys. */
export const endpointSchema = {
  type: "object",
  properties: endpointKeys,
  required: Object.keys(endpointKeys),
} as const satisfies JsonSchema;

export const listEndpointsResponseSchema = {
  type: "object",
  properties: { model_endpoints: { type: "array", items: endpointSchema } },
  required: ["model_endpoints"],
} as const satisfies JsonSchema;

export const endpointDeletedSchema = {
  type: "object",
  properties: { deleted: { type: "boolean", const: true } },
  required: ["deleted"],
} as const satisfies JsonSchema;

export const endpointRestartedSchema = {
  type: "object",
  properties: { restarted: { type: "boolean", const: true } },
  required: ["restarted"],
} as const satisfies JsonSchema;
