/**
 * JSON schemas of the callback routes [ext]: the signing secret and the delivery log. The gateway
 * validates requests with them and publishes them in `/openapi.json`.
 */
import {
  CALLBACK_ATTEMPT_OUTCOMES,
  CALLBACK_DELIVERY_STATUSES,
  CALLBACK_LIST_LIMIT_DEFAULT,
  CALLBACK_LIST_LIMIT_MAX,
} from "../callbacks.js";
import { CALLBACK_AUTH_KINDS, CALLBACK_EVENTS } from "../endpoints.js";
import { type JsonSchema, nullable } from "./common.js";

const time = { type: "string", format: "date-time" } as const;
const nullableTime = { type: ["string", "null"], format: "date-time" } as const;

/** `{secret, previous_secret_expires_at}`. */
export const callbackSecretSchema = {
  type: "object",
  properties: {
    secret: {
      type: "string",
      description: "The endpoint's signing secret, `whsec_` and base64: verify `webhook-signature` with it.",
    },
    previous_secret_expires_at: {
      ...nullableTime,
      description: "Until then the secret before the last rotation signs callbacks too; null when none.",
    },
  },
  required: ["secret", "previous_secret_expires_at"],
} as const satisfies JsonSchema;

const attemptKeys = {
  n: { type: "integer", description: "1, 2, … (replays continue the numbering)." },
  started_at: time,
  url: { type: "string" },
  status_code: nullable({ type: "integer" }),
  error_class: nullable({ type: "string" }),
  error_message: nullable({ type: "string" }),
  latency_ms: { type: "number" },
  outcome: { type: "string", enum: [...CALLBACK_ATTEMPT_OUTCOMES] },
  next_attempt_at: nullableTime,
} as const;

export const callbackAttemptSchema = {
  type: "object",
  properties: attemptKeys,
  required: Object.keys(attemptKeys),
} as const satisfies JsonSchema;

const deliveryKeys = {
  id: { type: "string", description: "`dlv_…`; also the `webhook-id` header of every attempt." },
  task_id: { type: ["string", "null"], description: "null for a sync task's callback." },
  endpoint_id: { type: "string" },
  event: { type: "string", enum: [...CALLBACK_EVENTS] },
  url: nullable({ type: "string" }),
  auth_kind: { type: ["string", "null"], enum: [...CALLBACK_AUTH_KINDS, null] },
  status: { type: "string", enum: [...CALLBACK_DELIVERY_STATUSES] },
  attempts: { type: "array", items: callbackAttemptSchema },
  next_attempt_at: nullableTime,
  last_error: nullable({ type: "string" }),
  last_status_code: nullable({ type: "integer" }),
  created_at: time,
  delivered_at: nullableTime,
  body: {
    description: "The JSON posted on every attempt; null when the delivery belongs to another team's task.",
  },
} as const;

/** A delivery with its attempts; never its credentials. */
export const callbackDeliverySchema = {
  type: "object",
  properties: deliveryKeys,
  required: Object.keys(deliveryKeys),
} as const satisfies JsonSchema;

export const callbackDeliveryListSchema = {
  type: "object",
  properties: { callbacks: { type: "array", items: callbackDeliverySchema } },
  required: ["callbacks"],
} as const satisfies JsonSchema;

/** `?status=&limit=&before=` of an endpoint's delivery list. */
export const callbackListQuerySchema = {
  type: "object",
  properties: {
    status: { type: "string", enum: [...CALLBACK_DELIVERY_STATUSES], description: "Only this status." },
    limit: {
      type: "integer",
      minimum: 1,
      maximum: CALLBACK_LIST_LIMIT_MAX,
      default: CALLBACK_LIST_LIMIT_DEFAULT,
      description: `At most this many, newest first (default ${CALLBACK_LIST_LIMIT_DEFAULT}).`,
    },
    before: {
      type: "string",
      description: "Only deliveries created before this delivery id (the last id of the previous page).",
    },
  },
} as const satisfies JsonSchema;

export const deliveryIdParamsSchema = {
  type: "object",
  properties: { delivery_id: { type: "string" } },
  required: ["delivery_id"],
} as const satisfies JsonSchema;

export const callbacksReplayedSchema = {
  type: "object",
  properties: { replayed: { type: "integer", description: "Dead letters put back to pending." } },
  required: ["replayed"],
} as const satisfies JsonSchema;
