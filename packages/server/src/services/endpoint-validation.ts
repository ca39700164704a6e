/**
 * Checks endpoint create and update bodies beyond their JSON schema: names, worker bounds, quantities,
 * labels, hooks, callback URL and credentials. Everything is checked before anything is written, and
 * every problem is reported at once:
 *
 * - 422 (`validation_failed`) with the reference's `detail` list, one entry per bad field;
 * - 400 (`bad_request`) for an unknown post-inference hook (listing the allowed ones) and for a sync or
 *   streaming endpoint with `min_workers` 0 (this server cannot scale those from zero yet).
 */
import {
  CALLBACK_EVENTS,
  type CallbackAuth,
  type CallbackEvent,
  type CreateEndpointRequest,
  ENDPOINT_TYPES,
  type EndpointType,
  LaunchError,
  POST_INFERENCE_HOOKS,
  type Quantity,
  type ValidationIssue,
} from "@launch/protocol";
import { parseBytes, parseCpus } from "../domain/quantity.js";
import type { EndpointRecord, EndpointSpec } from "../store/port.js";
import { checkCallbackAuth } from "./callback-auth.js";

/** Endpoint names: 1 to 63 lowercase letters, digits and `-`, starting and ending with a letter or digit. */
export const ENDPOINT_NAME_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * An endpoint's settings after validation; the credentials stay apart, in clear, until sealed. The
 * signing secret is not a request field: create makes it, update keeps it (`callback-secrets.ts`).
 */
export type CheckedSpec = Omit<EndpointSpec, "defaultCallbackAuth" | "callbackSecret">;

export interface CheckedCreate {
  name: string;
  endpointType: EndpointType;
  spec: CheckedSpec;
  /** The credentials to seal, or null for none. */
  auth: CallbackAuth | null;
}

export interface CheckedUpdate {
  /** The whole spec after the patch (labels merged, absent and null fields kept). */
  spec: CheckedSpec;
  /** New credentials to seal, or undefined to keep the stored ones. */
  auth: CallbackAuth | undefined;
}

type Body = Record<string, unknown>;

/** Collects issues for one request; `loc` is always under `body`. */
class Checker {
  readonly issues: ValidationIssue[] = [];
  readonly badRequests: string[] = [];

  add(field: string | (string | number)[], msg: string, type = "value_error"): void {
    const path = Array.isArray(field) ? field : [field];
    this.issues.push({ loc: ["body", ...path], msg, type });
  }

  /** An integer ≥ `min` (or > `min` with `exclusive`). */
  int(body: Body, field: string, min: number, exclusive = false): number | undefined {
    const value = body[field];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== "number" || !Number.isInteger(value)) {
      this.add(field, `${field} must be a whole number (got ${JSON.stringify(value)})`, "type_error");
      return undefined;
    }
    if (exclusive ? value <= min : value < min) {
      this.add(field, `${field} must be ${exclusive ? ">" : "≥"} ${min} (got ${value})`);
      return undefined;
    }
    return value;
  }

  bool(body: Body, field: string): boolean | undefined {
    const value = body[field];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== "boolean") {
      this.add(field, `${field} must be true or false (got ${JSON.stringify(value)})`, "type_error");
      return undefined;
    }
    return value;
  }

  object(body: Body, field: string): Record<string, unknown> | undefined {
    const value = body[field];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== "object" || Array.isArray(value)) {
      this.add(field, `${field} must be a JSON object`, "type_error");
      return undefined;
    }
    return value as Record<string, unknown>;
  }

  quantity(body: Body, field: "cpus" | "memory" | "storage"): Quantity | undefined {
    const value = body[field];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== "string" && typeof value !== "number") {
      this.add(field, `${field} must be a string or a number`, "type_error");
      return undefined;
    }
    const parsed = field === "cpus" ? parseCpus(value) : parseBytes(value);
    if (parsed === undefined) {
      const expected =
        field === "cpus"
          ? 'a positive number of cores, like 1, 0.5 or "500m"'
          : 'a positive quantity like "512Mi", "8Gi" or a number of bytes';
      this.add(field, `${field} is ${JSON.stringify(value)}; expected ${expected}`);
      return undefined;
    }
    return value;
  }

  labels(body: Body): Record<string, string> | undefined {
    const value = this.object(body, "labels");
    if (value === undefined) return undefined;
    let ok = true;
    for (const [key, v] of Object.entries(value)) {
      if (key === "") {
        this.add("labels", "labels keys must not be empty");
        ok = false;
      }
      if (typeof v !== "string") {
        this.add(
          ["labels", key],
          `labels.${key} must be a string (labels map strings to strings)`,
          "type_error",
        );
        ok = false;
      }
    }
    return ok ? (value as Record<string, string>) : undefined;
  }

  /** Hook names, lower-cased and without repeats; unknown names are a 400 listing the allowed ones. */
  hooks(body: Body): string[] | undefined {
    const value = body.post_inference_hooks;
    if (value === undefined || value === null) return undefined;
    if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) {
      this.add("post_inference_hooks", "post_inference_hooks must be a list of hook names", "type_error");
      return undefined;
    }
    const allowed: readonly string[] = POST_INFERENCE_HOOKS;
    const names = [...new Set((value as string[]).map((v) => v.trim().toLowerCase()))];
    const unknown = (value as string[]).filter((v) => !allowed.includes(v.trim().toLowerCase()));
    if (unknown.length > 0) {
      this.badRequests.push(
        `Unsupported post-inference hook${unknown.length > 1 ? "s" : ""} ${unknown.map((u) => JSON.stringify(u)).join(", ")}. The supported hooks are: ${allowed.join(", ")}.`,
      );
      return undefined;
    }
    return names;
  }

  callbackEvents(body: Body): CallbackEvent[] | undefined {
    const value = body.callback_events;
    if (value === undefined || value === null) return undefined;
    const allowed: readonly string[] = CALLBACK_EVENTS;
    if (!Array.isArray(value) || value.some((v) => typeof v !== "string" || !allowed.includes(v))) {
      this.add(
        "callback_events",
        `callback_events must be a list of: ${CALLBACK_EVENTS.join(", ")} (got ${JSON.stringify(value)})`,
      );
      return undefined;
    }
    return [...new Set(value as CallbackEvent[])];
  }

  callbackUrl(body: Body): string | undefined {
    const value = body.default_callback_url;
    if (value === undefined || value === null) return undefined;
    const msg = checkCallbackUrl(value, "default_callback_url");
    if (msg !== undefined) {
      this.add("default_callback_url", msg);
      return undefined;
    }
    return value as string;
  }

  auth(body: Body): CallbackAuth | undefined {
    const value = body.default_callback_auth;
    if (value === undefined || value === null) return undefined;
    const checked = checkCallbackAuth(value, ["body", "default_callback_auth"]);
    if (!checked.ok) {
      this.issues.push(...checked.issues);
      return undefined;
    }
    return checked.value;
  }

  string(body: Body, field: string): string | undefined {
    const value = body[field];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== "string") {
      this.add(field, `${field} must be a string`, "type_error");
      return undefined;
    }
    return value;
  }

  /** Throws the 422 when there are issues, then the 400 when there are bad requests. */
  throwIfAny(): void {
    if (this.issues.length > 0) throw LaunchError.validation(this.issues);
    if (this.badRequests.length > 0) throw new LaunchError("bad_request", this.badRequests.join(" "));
  }
}

/**
 * Why `value` is not a usable callback URL (absolute http or https, without credentials in it), or
 * undefined when it is. `field` names the field in the message.
 */
export function checkCallbackUrl(value: unknown, field: string): string | undefined {
  if (typeof value !== "string") return `${field} must be a string`;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `${field} is ${JSON.stringify(value)}; expected an absolute http(s) URL like "https://example.com/callback"`;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return `${field} must use http or https (got ${url.protocol.slice(0, -1)})`;
  }
  if (url.hostname === "") return `${field} has no host`;
  if (url.username !== "" || url.password !== "") {
    return `${field} must not carry credentials; send them in default_callback_auth or callback_auth`;
  }
  return undefined;
}

function checkName(c: Checker, value: unknown): string | undefined {
  if (typeof value !== "string") {
    c.add("name", "name is required and must be a string", value === undefined ? "missing" : "type_error");
    return undefined;
  }
  if (value.length > 63) {
    c.add("name", `name must be at most 63 characters (got ${value.length})`, "string_too_long");
    return undefined;
  }
  if (!ENDPOINT_NAME_PATTERN.test(value)) {
    c.add(
      "name",
      `name ${JSON.stringify(value)} is not allowed; use 1-63 lowercase letters, digits and '-', starting and ending with a letter or digit`,
    );
    return undefined;
  }
  return value;
}

function checkWorkers(c: Checker, endpointType: EndpointType, min: number, max: number, changed: Body): void {
  if (min > max) {
    const field =
      changed.max_workers !== undefined && changed.max_workers !== null ? "max_workers" : "min_workers";
    c.add(field, `min_workers (${min}) must be ≤ max_workers (${max})`);
  }
  if (endpointType !== "async" && min < 1) {
    c.badRequests.push(
      `A ${endpointType} endpoint needs min_workers ≥ 1 (got ${min}): this server cannot scale ${endpointType} endpoints from zero workers yet.`,
    );
  }
}

const REQUIRED_ON_CREATE = [
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
] as const;

/**
 * Checks a create body and returns the endpoint's settings with defaults filled in, or throws (422, then
 * 400) naming every problem.
 *
 * @example const { name, spec, auth } = checkCreateRequest(request.body);
 */
export function checkCreateRequest(input: CreateEndpointRequest | Body): CheckedCreate {
  const body = input as Body;
  const c = new Checker();
  for (const field of REQUIRED_ON_CREATE) {
    if (body[field] === undefined || body[field] === null)
      c.add(field, `Field required: ${field}`, "missing");
  }
  const name = body.name === undefined ? undefined : checkName(c, body.name);
  const endpointType = body.endpoint_type as EndpointType;
  if (body.endpoint_type !== undefined && !(ENDPOINT_TYPES as readonly unknown[]).includes(endpointType)) {
    c.add("endpoint_type", `endpoint_type must be one of: ${ENDPOINT_TYPES.join(", ")}`, "enum");
  }
  const modelBundleId = c.string(body, "model_bundle_id");
  const metadata = c.object(body, "metadata");
  const cpus = c.quantity(body, "cpus");
  const memory = c.quantity(body, "memory");
  const storage = c.quantity(body, "storage");
  const gpus = c.int(body, "gpus", 0);
  const minWorkers = c.int(body, "min_workers", 0);
  const maxWorkers = c.int(body, "max_workers", 0);
  const perWorker = c.int(body, "per_worker", 0, true);
  const concurrent = c.int(body, "concurrent_requests_per_worker", 0, true);
  const nodesPerWorker = c.int(body, "nodes_per_worker", 1);
  const labels = c.labels(body);
  const hooks = c.hooks(body);
  const callbackUrl = c.callbackUrl(body);
  const auth = c.auth(body);
  const callbackEvents = c.callbackEvents(body);
  const billingTags = c.object(body, "billing_tags");
  const spec: Partial<CheckedSpec> = {
    gpuType: c.string(body, "gpu_type") ?? null,
    publicInference: c.bool(body, "public_inference") ?? false,
    highPriority: c.bool(body, "high_priority") ?? null,
    prewarm: c.bool(body, "prewarm") ?? null,
    optimizeCosts: c.bool(body, "optimize_costs") ?? null,
    forwarderMaxConcurrency: c.int(body, "forwarder_max_concurrency", 0, true) ?? null,
    taskExpiresSeconds: c.int(body, "task_expires_seconds", 0, true) ?? null,
    queueMessageTimeoutSeconds: c.int(body, "queue_message_timeout_seconds", 0, true) ?? null,
  };
  if (minWorkers !== undefined && maxWorkers !== undefined && ENDPOINT_TYPES.includes(endpointType)) {
    checkWorkers(c, endpointType, minWorkers, maxWorkers, body);
  }
  c.throwIfAny();
  return {
    name: name!,
    endpointType,
    auth: auth ?? null,
    spec: {
      ...(spec as Pick<CheckedSpec, keyof typeof spec>),
      modelBundleId: modelBundleId!,
      metadata: metadata!,
      cpus: cpus!,
      gpus: gpus!,
      memory: memory!,
      // Optional, as in the reference: the Python client sends none unless told.
      storage: storage ?? null,
      minWorkers: minWorkers!,
      maxWorkers: maxWorkers!,
      perWorker: perWorker!,
      concurrentRequestsPerWorker: concurrent ?? null,
      labels: labels!,
      postInferenceHooks: hooks ?? null,
      defaultCallbackUrl: callbackUrl ?? null,
      callbackEvents: callbackEvents ?? null,
      billingTags: billingTags ?? null,
      nodesPerWorker: nodesPerWorker ?? 1,
    },
  };
}

/** Fields a create sets that an update may not change; sending the current value is accepted. */
const FIXED_ON_UPDATE = ["name", "endpoint_type", "nodes_per_worker"] as const;

/**
 * Checks an update body against the current endpoint and returns the whole spec after the patch:
 * absent or null fields keep their value, `labels` merge into the current labels, everything else given
 * replaces. Throws (422, then 400) naming every problem.
 *
 * @example const { spec, auth } = checkUpdateRequest(request.body, current);
 */
export function checkUpdateRequest(input: Body, current: EndpointRecord): CheckedUpdate {
  const body = input;
  const c = new Checker();
  const was = current.spec;
  const fixed: Record<(typeof FIXED_ON_UPDATE)[number], unknown> = {
    name: current.name,
    endpoint_type: current.endpointType,
    nodes_per_worker: was.nodesPerWorker,
  };
  for (const field of FIXED_ON_UPDATE) {
    const value = body[field];
    if (value !== undefined && value !== null && value !== fixed[field]) {
      c.add(field, `${field} cannot be changed by an update (it is ${JSON.stringify(fixed[field])})`);
    }
  }
  const labels = c.labels(body);
  const spec: CheckedSpec = {
    modelBundleId: c.string(body, "model_bundle_id") ?? was.modelBundleId,
    metadata: c.object(body, "metadata") ?? was.metadata,
    cpus: c.quantity(body, "cpus") ?? was.cpus,
    gpus: c.int(body, "gpus", 0) ?? was.gpus,
    memory: c.quantity(body, "memory") ?? was.memory,
    storage: c.quantity(body, "storage") ?? was.storage,
    gpuType: c.string(body, "gpu_type") ?? was.gpuType,
    minWorkers: c.int(body, "min_workers", 0) ?? was.minWorkers,
    maxWorkers: c.int(body, "max_workers", 0) ?? was.maxWorkers,
    perWorker: c.int(body, "per_worker", 0, true) ?? was.perWorker,
    concurrentRequestsPerWorker:
      c.int(body, "concurrent_requests_per_worker", 0, true) ?? was.concurrentRequestsPerWorker,
    labels: labels === undefined ? was.labels : { ...was.labels, ...labels },
    postInferenceHooks: c.hooks(body) ?? was.postInferenceHooks,
    defaultCallbackUrl: c.callbackUrl(body) ?? was.defaultCallbackUrl,
    callbackEvents: c.callbackEvents(body) ?? was.callbackEvents,
    publicInference: c.bool(body, "public_inference") ?? was.publicInference,
    highPriority: c.bool(body, "high_priority") ?? was.highPriority,
    prewarm: c.bool(body, "prewarm") ?? was.prewarm,
    billingTags: c.object(body, "billing_tags") ?? was.billingTags,
    optimizeCosts: c.bool(body, "optimize_costs") ?? was.optimizeCosts,
    forwarderMaxConcurrency: c.int(body, "forwarder_max_concurrency", 0, true) ?? was.forwarderMaxConcurrency,
    taskExpiresSeconds: c.int(body, "task_expires_seconds", 0, true) ?? was.taskExpiresSeconds,
    queueMessageTimeoutSeconds:
      c.int(body, "queue_message_timeout_seconds", 0, true) ?? was.queueMessageTimeoutSeconds,
    nodesPerWorker: was.nodesPerWorker,
  };
  const auth = c.auth(body);
  if (c.issues.length === 0) checkWorkers(c, current.endpointType, spec.minWorkers, spec.maxWorkers, body);
  c.throwIfAny();
  return { spec, auth };
}
