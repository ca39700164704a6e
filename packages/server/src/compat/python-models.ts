/**
 * How the Python client `scale-launch` (and the reference server's response models it mirrors) parses
 * our answers, written as checks that return the problems a parse would raise (an empty list: it parses).
 *
 * - `launch.model_bundle`: `ModelBundleV2Response` (pydantic, flavor a union on `flavor`, framework a
 *   union on `framework_type`) and `ModelBundle` (v1, `dataclass_json`), plus the reference's
 *   `ModelBundleV1Response`;
 * - `launch.model_endpoint`: `ModelEndpoint` (`dataclass_json`), plus the reference's
 *   `GetModelEndpointV1Response`;
 * - the task answers and the client's reading of them: `EndpointResponseFuture.get`,
 *   `SyncEndpoint.predict`, the streaming events.
 *
 * Every key listed is required, nullable ones as null (the stricter pydantic v2 reading: `Optional[X]`
 * without a default is required there), so an answer that passes here parses with either version.
 */

type Problems = string[];

/** A field's type as the client's model declares it. */
type Kind =
  | "str"
  | "int"
  | "number"
  | "bool"
  | "dict"
  | "dict[str,str]"
  | "list[str]"
  | "datetime"
  | "quantity"
  | "any"
  | { literal: readonly unknown[] };

interface Field {
  kind: Kind;
  nullable?: boolean;
}

const f = (kind: Kind, nullable = false): Field => ({ kind, nullable });

function isDict(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function kindOk(kind: Kind, value: unknown): boolean {
  if (typeof kind === "object") return kind.literal.includes(value);
  switch (kind) {
    case "str":
      return typeof value === "string";
    case "int":
      return typeof value === "number" && Number.isInteger(value);
    case "number":
      return typeof value === "number";
    case "bool":
      return typeof value === "boolean";
    case "dict":
      return isDict(value);
    case "dict[str,str]":
      return isDict(value) && Object.values(value).every((v) => typeof v === "string");
    case "list[str]":
      return Array.isArray(value) && value.every((v) => typeof v === "string");
    case "datetime":
      return (
        typeof value === "string" &&
        /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/.test(value) &&
        !Number.isNaN(Date.parse(value))
      );
    case "quantity":
      return typeof value === "string" || typeof value === "number";
    case "any":
      return true;
  }
}

/** Checks `value` against `fields`: every key present, of its kind (or null where nullable). */
function checkFields(value: unknown, fields: Record<string, Field>, at: string): Problems {
  if (!isDict(value)) return [`${at}: expected an object, got ${JSON.stringify(value)}`];
  const problems: Problems = [];
  for (const [key, field] of Object.entries(fields)) {
    if (!(key in value)) {
      problems.push(`${at}.${key}: missing`);
      continue;
    }
    const v = value[key];
    if (v === null) {
      if (!field.nullable) problems.push(`${at}.${key}: null, expected ${describe(field.kind)}`);
    } else if (!kindOk(field.kind, v)) {
      problems.push(`${at}.${key}: ${JSON.stringify(v)} is not ${describe(field.kind)}`);
    }
  }
  return problems;
}

function describe(kind: Kind): string {
  return typeof kind === "object" ? `one of ${JSON.stringify(kind.literal)}` : kind;
}

// --- bundles ---

const FRAMEWORKS: Record<string, Record<string, Field>> = {
  pytorch: { framework_type: f("str"), pytorch_image_tag: f("str") },
  tensorflow: { framework_type: f("str"), tensorflow_version: f("str") },
  custom_base_image: { framework_type: f("str"), image_repository: f("str"), image_tag: f("str") },
};

const ARTIFACT: Record<string, Field> = {
  flavor: f("str"),
  requirements: f("list[str]"),
  app_config: f("dict", true),
  location: f("str"),
};

const RUNNABLE_IMAGE: Record<string, Field> = {
  flavor: f("str"),
  repository: f("str"),
  tag: f("str"),
  command: f("list[str]"),
  env: f("dict[str,str]", true),
  protocol: f({ literal: ["http"] }),
  readiness_initial_delay_seconds: f("int"),
  predict_route: f("str"),
  healthcheck_route: f("str"),
};

/** `CloudpickleArtifactFlavor`, `ZipArtifactFlavor`, `RunnableImageFlavor`, ... by `flavor`. */
export const FLAVOR_FIELDS: Record<string, Record<string, Field>> = {
  cloudpickle_artifact: { ...ARTIFACT, load_predict_fn: f("str"), load_model_fn: f("str") },
  zip_artifact: {
    ...ARTIFACT,
    load_predict_fn_module_path: f("str"),
    load_model_fn_module_path: f("str"),
  },
  runnable_image: RUNNABLE_IMAGE,
  streaming_enhanced_runnable_image: {
    ...RUNNABLE_IMAGE,
    streaming_command: f("list[str]"),
    streaming_predict_route: f("str"),
  },
  triton_enhanced_runnable_image: {
    ...RUNNABLE_IMAGE,
    triton_model_repository: f("str"),
    triton_model_replicas: f("dict[str,str]", true),
    triton_num_cpu: f("number"),
    triton_commit_tag: f("str"),
    triton_storage: f("str", true),
    triton_memory: f("str", true),
    triton_readiness_initial_delay_seconds: f("int"),
  },
};

/** `ModelBundleV2Response` (`launch.model_bundle`, and the reference's DTO of the same name). */
export function modelBundleV2Problems(value: unknown, at = "bundle"): Problems {
  const problems = checkFields(
    value,
    {
      id: f("str"),
      name: f("str"),
      metadata: f("dict"),
      created_at: f("datetime"),
      model_artifact_ids: f("list[str]"),
      schema_location: f("str", true),
      flavor: f("dict"),
    },
    at,
  );
  if (!isDict(value) || !isDict(value.flavor)) return problems;
  const flavor = value.flavor;
  const fields = FLAVOR_FIELDS[String(flavor.flavor)];
  if (!fields)
    return [...problems, `${at}.flavor.flavor: ${JSON.stringify(flavor.flavor)} is no known flavor`];
  problems.push(...checkFields(flavor, fields, `${at}.flavor`));
  // Artifact flavors: `framework` is a union on `framework_type` of the three the client knows (our
  // [ext] `node` framework is not among them).
  if (flavor.flavor === "cloudpickle_artifact" || flavor.flavor === "zip_artifact") {
    const framework = flavor.framework;
    const frameworkFields = isDict(framework) ? FRAMEWORKS[String(framework.framework_type)] : undefined;
    if (!frameworkFields) {
      problems.push(
        `${at}.flavor.framework: ${JSON.stringify(framework)} matches no framework_type the client knows`,
      );
    } else problems.push(...checkFields(framework, frameworkFields, `${at}.flavor.framework`));
  }
  return problems;
}

/** `CreateModelBundleV2Response`. */
export function createdBundleProblems(value: unknown): Problems {
  return checkFields(value, { model_bundle_id: f("str") }, "created");
}

/**
 * `ModelBundleV1Response` of the reference (what `get_model_bundle` reads with `ModelBundle.from_dict`,
 * which needs `name` and uses `id`).
 */
export function modelBundleV1Problems(value: unknown, at = "bundle"): Problems {
  const problems = checkFields(
    value,
    {
      id: f("str"),
      name: f("str"),
      location: f("str"),
      requirements: f("list[str]"),
      env_params: f("dict"),
      packaging_type: f({ literal: ["cloudpickle", "zip", "lira"] }),
      metadata: f("dict"),
      app_config: f("dict", true),
      created_at: f("datetime"),
      model_artifact_ids: f("list[str]"),
      schema_location: f("str", true),
    },
    at,
  );
  if (isDict(value) && isDict(value.env_params)) {
    problems.push(
      ...checkFields(
        value.env_params,
        { framework_type: f({ literal: ["pytorch", "tensorflow", "custom_base_image"] }) },
        `${at}.env_params`,
      ),
    );
  }
  return problems;
}

// --- endpoints ---

/**
 * `GetModelEndpointV1Response` of the reference, which covers the client's `ModelEndpoint` dataclass
 * (`name` required; `id`, `bundle_name`, `status`, `resource_state`, `deployment_state`, `metadata`,
 * `endpoint_type`, `destination`, `post_inference_hooks`, `default_callback_url`, `num_queued_items`).
 */
export function modelEndpointProblems(value: unknown, at = "endpoint"): Problems {
  const problems = checkFields(
    value,
    {
      id: f("str"),
      name: f("str"),
      endpoint_type: f({ literal: ["sync", "async", "streaming"] }),
      destination: f("str"),
      deployment_name: f("str", true),
      metadata: f("dict", true),
      bundle_name: f("str"),
      status: f({
        literal: ["READY", "UPDATE_PENDING", "UPDATE_IN_PROGRESS", "UPDATE_FAILED", "DELETE_IN_PROGRESS"],
      }),
      post_inference_hooks: f("list[str]", true),
      default_callback_url: f("str", true),
      default_callback_auth: f("dict", true),
      labels: f("dict[str,str]", true),
      created_by: f("str"),
      created_at: f("datetime"),
      last_updated_at: f("datetime"),
      deployment_state: f("dict", true),
      resource_state: f("dict", true),
      num_queued_items: f("int", true),
      public_inference: f("bool", true),
    },
    at,
  );
  if (!isDict(value)) return problems;
  if (isDict(value.deployment_state)) {
    problems.push(
      ...checkFields(
        value.deployment_state,
        {
          min_workers: f("int"),
          max_workers: f("int"),
          per_worker: f("int"),
          available_workers: f("int", true),
          unavailable_workers: f("int", true),
        },
        `${at}.deployment_state`,
      ),
    );
  }
  if (isDict(value.resource_state)) {
    problems.push(
      ...checkFields(
        value.resource_state,
        {
          cpus: f("quantity"),
          gpus: f("int"),
          memory: f("quantity"),
          gpu_type: f("str", true),
          storage: f("quantity", true),
        },
        `${at}.resource_state`,
      ),
    );
  }
  return problems;
}

// --- tasks ---

/** `GetAsyncTaskV1Response`. */
export function asyncTaskProblems(value: unknown): Problems {
  return checkFields(
    value,
    {
      task_id: f("str"),
      status: f({ literal: ["PENDING", "STARTED", "SUCCESS", "FAILURE", "UNDEFINED"] }),
      result: f("any", true),
      traceback: f("str", true),
      status_code: f("int", true),
    },
    "task",
  );
}

/** `SyncEndpointPredictV1Response` (also each streaming event's data). */
export function syncTaskProblems(value: unknown, at = "sync"): Problems {
  return checkFields(
    value,
    {
      status: f({ literal: ["PENDING", "STARTED", "SUCCESS", "FAILURE", "UNDEFINED"] }),
      result: f("any", true),
      traceback: f("str", true),
      status_code: f("int", true),
    },
    at,
  );
}

/** The client's `EndpointResponse`. */
export interface ClientResponse {
  status: string;
  result_url: unknown;
  result: unknown;
  traceback: unknown;
}

/** Python's `dict.get` on a value the client assumes is a dict: an `AttributeError` otherwise. */
function pyGet(value: unknown, key: string): unknown {
  if (!isDict(value)) throw new TypeError(`AttributeError: '${typeof value}' object has no attribute 'get'`);
  return value[key] ?? null;
}

/**
 * One round of `EndpointResponseFuture.get()` on a task answer: `"poll"` (PENDING: it sleeps and asks
 * again), the `EndpointResponse` it returns (SUCCESS, FAILURE), or the error it raises (any other
 * status: `ValueError("Unrecognized status: ...")`; a SUCCESS `result` that is not an object).
 */
export function futureGetStep(task: Record<string, unknown>): "poll" | ClientResponse {
  const status = task.status;
  if (status === "PENDING") return "poll";
  if (status === "SUCCESS") {
    const result = task.result ?? {};
    return {
      status,
      result_url: pyGet(result, "result_url"),
      result: pyGet(result, "result"),
      traceback: null,
    };
  }
  if (status === "FAILURE") {
    return { status, result_url: null, result: null, traceback: task.traceback ?? null };
  }
  throw new Error(`ValueError: Unrecognized status: ${String(status)}`);
}

/** `SyncEndpoint.predict` on a sync answer: None values dropped, then `result.get(...)`. */
export function syncPredict(answer: Record<string, unknown>): ClientResponse {
  const raw = Object.fromEntries(Object.entries(answer).filter(([, v]) => v !== null));
  const result = raw.result ?? {};
  return {
    status: String(raw.status),
    result_url: pyGet(result, "result_url"),
    result: pyGet(result, "result"),
    traceback: raw.traceback ?? null,
  };
}

/** The `data:` payloads of a `text/event-stream` body, each parsed as JSON (`json.loads(event.data)`). */
export function streamEvents(body: string): unknown[] {
  const events: unknown[] = [];
  for (const block of body.split(/\r?\n\r?\n/)) {
    const data = block
      .split(/\r?\n/)
      .filter((line) => line.startsWith("data:"))
      .map((line) => line.slice(5).replace(/^ /, ""));
    if (data.length > 0) events.push(JSON.parse(data.join("\n")));
  }
  return events;
}
