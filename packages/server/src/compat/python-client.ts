/**
 * The HTTP conversation of the Python client `scale-launch` (`LaunchClient`), for the wire-compatibility
 * tests in this folder. Each method sends exactly the requests the client's method of the same name sends,
 * in the client's order, with the client's encodings:
 *
 * - generated API client calls (`launch.api_client`, every `/v1/...` and `/v2/...` route): compact JSON
 *   bodies, `Content-Type: application/json`, `Authorization: Basic base64("<key>:")`; bodies built like
 *   the client's `dict_not_none(...)` (a `None` argument is left out, never sent as null);
 * - `Connection` calls (`/v1/hosted_inference/...`) and the streaming request go through `requests` with
 *   `json=`: Python `json.dumps` spacing (`", "`, `": "`);
 * - the artifact upload is `requests.put(signedUrl, data=bytes)`: raw bytes, no `Content-Type`, no
 *   `Authorization`, and its status is never checked (so the tests check it).
 *
 * The URL forms, from `LaunchClient.__init__`: the generated client's host is `endpoint` itself (or
 * `endpoint + "/v1/launch"` with `use_path_with_custom_endpoint=True`), the `Connection` base is
 * `endpoint + "/v1/hosted_inference"`. So `endpoint` is the server root, without `/v1`.
 *
 * The methods return what the client's methods read from the answers; `calls` records every request so
 * tests can assert the order.
 */
import { request as httpRequest } from "node:http";
import { pythonJsonDumps } from "../services/python-json.js";

/** One request the client made. */
export interface WireCall {
  method: string;
  /** Path and query, without the host. */
  path: string;
  body?: unknown;
}

/** What the generated client raises for a non-2xx answer (`launch.api_client.exceptions.ApiException`). */
export class ApiException extends Error {
  override readonly name = "ApiException";
  constructor(
    readonly status: number,
    readonly body: unknown,
    call: WireCall,
  ) {
    super(`${call.method} ${call.path} answered ${status}: ${JSON.stringify(body)}`);
  }
}

/** The raw answer of a request, for tests that check shapes the client would parse. */
export interface RawAnswer {
  status: number;
  headers: Headers;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: answers are checked by the tests against the client's models.
  json: any;
}

/** Python's `dict_not_none(**kwargs)`: keys whose value is None (undefined or null here) are left out. */
export function dictNotNone(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined && v !== null));
}

/** `create_model_endpoint`'s keyword arguments, with the client's defaults. */
export interface CreateEndpointArgs {
  endpoint_name: string;
  model_bundle: string;
  cpus?: number | string;
  memory?: string;
  storage?: string | null;
  gpus?: number;
  min_workers?: number;
  max_workers?: number;
  per_worker?: number;
  gpu_type?: string | null;
  endpoint_type?: "sync" | "async" | "streaming";
  high_priority?: boolean | null;
  post_inference_hooks?: string[] | null;
  default_callback_url?: string | null;
  default_callback_auth_kind?: "basic" | "mtls" | null;
  default_callback_auth_username?: string | null;
  default_callback_auth_password?: string | null;
  default_callback_auth_cert?: string | null;
  default_callback_auth_key?: string | null;
  public_inference?: boolean | null;
  update_if_exists?: boolean;
  labels?: Record<string, string> | null;
}

/** `create_model_endpoint`'s defaults (`storage` is None: the client sends none unless given). */
export const CREATE_ENDPOINT_DEFAULTS = {
  cpus: 3 as number | string,
  memory: "8Gi",
  storage: null as string | null,
  gpus: 0,
  min_workers: 1,
  max_workers: 1,
  per_worker: 10,
  gpu_type: null as string | null,
  endpoint_type: "sync" as "sync" | "async" | "streaming",
  high_priority: false as boolean | null,
  update_if_exists: false,
};

/** `edit_model_endpoint`'s keyword arguments (all None by default). */
export type EditEndpointArgs = Omit<
  CreateEndpointArgs,
  "endpoint_name" | "model_bundle" | "endpoint_type" | "update_if_exists" | "labels"
> & { model_endpoint: string; model_bundle?: string | null };

/** An `EndpointRequest` (the task input and its callback overrides). */
export interface EndpointRequestArgs {
  url?: string | null;
  args?: unknown;
  return_pickled?: boolean;
  callback_url?: string | null;
  callback_auth_kind?: "basic" | "mtls" | null;
  callback_auth_username?: string | null;
  callback_auth_password?: string | null;
  callback_auth_cert?: string | null;
  callback_auth_key?: string | null;
}

/** The model definitions `_upload_schemas` uploads for the documentation's request/response schemas. */
export const DOC_MODEL_DEFINITIONS = {
  RequestSchema: {
    title: "MyRequestSchema",
    type: "object",
    properties: { x: { title: "X", type: "integer" }, y: { title: "Y", type: "string" } },
    required: ["x", "y"],
  },
  ResponseSchema: { title: "MyResponseSchema", type: "integer" },
};

/** `cloudpickle.dumps(...)` stands in: the control plane stores the bytes, it never unpickles them. */
export const FAKE_PICKLE = Uint8Array.from([0x80, 0x05, 0x95, 0x10, 0, 0, 0, 0, 0, 0, 0, 0x7d, 0x94, 0x2e]);

/**
 * The requests of `LaunchClient(api_key, endpoint=base)`.
 *
 * @example
 * const client = new PythonClientWire(server.url, key);
 * const { model_bundle_id } = await client.createModelBundleFromCallableV2({ model_bundle_name: "b" });
 */
export class PythonClientWire {
  readonly calls: WireCall[] = [];
  readonly #apiHost: string;
  readonly #connectionBase: string;

  constructor(
    readonly endpoint: string,
    readonly apiKey: string,
    options: { usePathWithCustomEndpoint?: boolean } = {},
  ) {
    this.#apiHost = options.usePathWithCustomEndpoint ? `${endpoint}/v1/launch` : endpoint;
    this.#connectionBase = `${endpoint}/v1/hosted_inference`;
  }

  get #authorization(): string {
    return `Basic ${Buffer.from(`${this.apiKey}:`).toString("base64")}`;
  }

  /** A generated-client call: compact JSON, raises `ApiException` on a non-2xx answer. */
  async api(method: string, path: string, body?: unknown): Promise<RawAnswer> {
    const answer = await this.apiRaw(method, path, body);
    if (answer.status < 200 || answer.status > 299) {
      throw new ApiException(answer.status, answer.json ?? answer.text, { method, path, body });
    }
    return answer;
  }

  /** A generated-client call whose answer is returned whatever its status. */
  async apiRaw(method: string, path: string, body?: unknown): Promise<RawAnswer> {
    const headers: Record<string, string> = {
      authorization: this.#authorization,
      "user-agent": "OpenAPI-Generator/1.0.0/python",
    };
    if (body !== undefined) headers["content-type"] = "application/json";
    return this.#send(`${this.#apiHost}${path}`, method, headers, body, JSON.stringify(body));
  }

  /** A `requests.<method>(url, json=payload, auth=(key, ""))` call: Python `json.dumps` spacing. */
  async requestsJson(method: string, url: string, payload: unknown): Promise<RawAnswer> {
    const headers = {
      authorization: this.#authorization,
      "content-type": "application/json",
      "user-agent": "python-requests/2.31.0",
    };
    return this.#send(url, method, headers, payload, pythonJsonDumps(payload));
  }

  async #send(
    url: string,
    method: string,
    headers: Record<string, string>,
    body: unknown,
    text: string | undefined,
  ): Promise<RawAnswer> {
    const path = url.slice(this.endpoint.length);
    this.calls.push(body === undefined ? { method, path } : { method, path, body });
    const response = await fetch(url, { method, headers, body: body === undefined ? undefined : text });
    const answerText = await response.text();
    let json: unknown;
    try {
      json = answerText === "" ? undefined : JSON.parse(answerText);
    } catch {
      json = undefined;
    }
    return { status: response.status, headers: response.headers, text: answerText, json };
  }

  // --- uploads (`_upload_data`, not self-hosted) ---

  /** The status of the last `requests.put` of an upload (the client never looks at it). */
  lastPutStatus: number | undefined;

  /** `_upload_data(data)`: POST `{}` to the Connection, PUT the raw bytes, use `s3://{bucket}/{key}`. */
  async uploadData(data: Uint8Array): Promise<string> {
    const grant = await this.requestsJson("POST", `${this.#connectionBase}/model_bundle_upload`, {});
    if (grant.status !== 200) throw new ApiException(grant.status, grant.json, { method: "POST", path: "" });
    const { signedUrl, bucket, key } = grant.json as { signedUrl: string; bucket: string; key: string };
    this.calls.push({ method: "PUT", path: signedUrl });
    this.lastPutStatus = await requestsPut(signedUrl, data);
    return `s3://${bucket}/${key}`;
  }

  /** `_upload_schemas(request_schema, response_schema)`: `json.dumps(model_definitions).encode()`. */
  uploadSchemas(definitions: unknown = DOC_MODEL_DEFINITIONS): Promise<string> {
    return this.uploadData(Buffer.from(pythonJsonDumps(definitions)));
  }

  // --- bundles ---

  /** `create_model_bundle_from_callable_v2`: upload the pickle, then the schemas, then create. */
  async createModelBundleFromCallableV2(args: {
    model_bundle_name: string;
    load_predict_fn?: string;
    load_model_fn?: string;
    requirements?: string[] | null;
    pytorch_image_tag?: string;
    app_config?: Record<string, unknown> | null;
    metadata?: Record<string, unknown> | null;
  }): Promise<{ model_bundle_id: string }> {
    const location = await this.uploadData(FAKE_PICKLE);
    const schemaLocation = await this.uploadSchemas();
    const flavor = dictNotNone({
      flavor: "cloudpickle_artifact",
      load_predict_fn: args.load_predict_fn ?? DOC_LOAD_PREDICT_FN,
      load_model_fn: args.load_model_fn ?? DOC_LOAD_MODEL_FN,
      framework: {
        pytorch_image_tag: args.pytorch_image_tag ?? "1.7.1-cuda11.0-cudnn8-runtime",
        framework_type: "pytorch",
      },
      requirements: args.requirements ?? [],
      app_config: args.app_config,
      location,
    });
    return this.#createV2(args.model_bundle_name, schemaLocation, flavor, args.metadata);
  }

  /** `create_model_bundle_from_dirs_v2`: upload the zip, then the schemas, then create. */
  async createModelBundleFromDirsV2(args: {
    model_bundle_name: string;
    zip: Uint8Array;
    load_predict_fn_module_path: string;
    load_model_fn_module_path: string;
    requirements?: string[];
    app_config?: Record<string, unknown> | null;
    metadata?: Record<string, unknown> | null;
  }): Promise<{ model_bundle_id: string }> {
    const location = await this.uploadData(args.zip);
    const schemaLocation = await this.uploadSchemas();
    const flavor = dictNotNone({
      flavor: "zip_artifact",
      load_predict_fn_module_path: args.load_predict_fn_module_path,
      load_model_fn_module_path: args.load_model_fn_module_path,
      framework: { tensorflow_version: "2.3.0", framework_type: "tensorflow" },
      requirements: args.requirements ?? [],
      app_config: args.app_config,
      location,
    });
    return this.#createV2(args.model_bundle_name, schemaLocation, flavor, args.metadata);
  }

  /** `create_model_bundle_from_runnable_image_v2`: upload the schemas, then create. */
  async createModelBundleFromRunnableImageV2(args: {
    model_bundle_name: string;
    repository: string;
    tag: string;
    command: string[];
    healthcheck_route?: string | null;
    predict_route?: string | null;
    env: Record<string, string>;
    readiness_initial_delay_seconds: number;
    metadata?: Record<string, unknown> | null;
  }): Promise<{ model_bundle_id: string }> {
    const schemaLocation = await this.uploadSchemas();
    const flavor = dictNotNone({
      flavor: "runnable_image",
      repository: args.repository,
      tag: args.tag,
      command: args.command,
      healthcheck_route: args.healthcheck_route,
      predict_route: args.predict_route,
      env: args.env,
      protocol: "http",
      readiness_initial_delay_seconds: args.readiness_initial_delay_seconds,
    });
    return this.#createV2(args.model_bundle_name, schemaLocation, flavor, args.metadata);
  }

  /** `create_model_bundle_from_streaming_enhanced_runnable_image_v2` (`command` may be None). */
  async createModelBundleFromStreamingEnhancedRunnableImageV2(args: {
    model_bundle_name: string;
    repository: string;
    tag: string;
    command?: string[] | null;
    healthcheck_route?: string | null;
    predict_route?: string | null;
    streaming_command: string[];
    streaming_predict_route?: string | null;
    env: Record<string, string>;
    readiness_initial_delay_seconds: number;
    metadata?: Record<string, unknown> | null;
  }): Promise<{ model_bundle_id: string }> {
    const schemaLocation = await this.uploadSchemas();
    const flavor = dictNotNone({
      flavor: "streaming_enhanced_runnable_image",
      repository: args.repository,
      tag: args.tag,
      command: args.command,
      healthcheck_route: args.healthcheck_route,
      predict_route: args.predict_route,
      streaming_command: args.streaming_command,
      streaming_predict_route: args.streaming_predict_route,
      env: args.env,
      protocol: "http",
      readiness_initial_delay_seconds: args.readiness_initial_delay_seconds,
    });
    return this.#createV2(args.model_bundle_name, schemaLocation, flavor, args.metadata);
  }

  async #createV2(
    name: string,
    schemaLocation: string,
    flavor: Record<string, unknown>,
    metadata: Record<string, unknown> | null | undefined,
  ): Promise<{ model_bundle_id: string }> {
    const body = dictNotNone({ name, schema_location: schemaLocation, flavor, metadata });
    return (await this.api("POST", "/v2/model-bundles", body)).json;
  }

  /** `get_model_bundle_v2(id)`: the raw `ModelBundleV2Response`. */
  async getModelBundleV2(id: string): Promise<RawAnswer> {
    return this.api("GET", `/v2/model-bundles/${id}`);
  }

  /** `get_latest_model_bundle_v2(name)`. */
  async getLatestModelBundleV2(name: string): Promise<RawAnswer> {
    return this.api("GET", `/v2/model-bundles/latest?model_name=${encodeURIComponent(name)}`);
  }

  /** `list_model_bundles_v2()`. */
  async listModelBundlesV2(): Promise<RawAnswer> {
    return this.api("GET", "/v2/model-bundles");
  }

  /** `clone_model_bundle_with_changes_v2(original_model_bundle_id, new_app_config)`. */
  async cloneModelBundleWithChangesV2(
    original: string,
    newAppConfig?: Record<string, unknown> | null,
  ): Promise<{ model_bundle_id: string }> {
    const body = dictNotNone({ original_model_bundle_id: original, new_app_config: newAppConfig });
    return (await this.api("POST", "/v2/model-bundles/clone-with-changes", body)).json;
  }

  /** `get_model_bundle(name)`: `ModelBundle.from_dict` of the v1 latest view. */
  async getModelBundle(name: string): Promise<RawAnswer> {
    return this.api("GET", `/v1/model-bundles/latest?model_name=${encodeURIComponent(name)}`);
  }

  /** `list_model_bundles()` (v1). */
  async listModelBundles(): Promise<RawAnswer> {
    return this.api("GET", "/v1/model-bundles");
  }

  // --- endpoints ---

  /** `get_model_endpoint(name)`: the first of `?name=`, or null when the list is empty. */
  // biome-ignore lint/suspicious/noExplicitAny: a wire view the tests check against the client's model.
  async getModelEndpoint(name: string): Promise<any | null> {
    const answer = await this.api("GET", `/v1/model-endpoints?name=${encodeURIComponent(name)}`);
    const list = answer.json.model_endpoints as unknown[];
    return list.length === 0 ? null : list[0];
  }

  /**
   * `create_model_endpoint(...)`: always looks the name up first; with `update_if_exists` and a hit it
   * edits (without `labels` and `post_inference_hooks`, which the client does not pass on), else it
   * resolves the bundle name through v1 and creates. Returns the creation answer, or the existing view.
   */
  async createModelEndpoint(
    input: CreateEndpointArgs,
  ): Promise<{ created?: { endpoint_creation_task_id: string }; existing?: unknown }> {
    const a: CreateEndpointArgs & typeof CREATE_ENDPOINT_DEFAULTS = { ...CREATE_ENDPOINT_DEFAULTS, ...input };
    const existing = await this.getModelEndpoint(a.endpoint_name);
    if (a.update_if_exists && existing) {
      await this.editModelEndpoint({
        model_endpoint: a.endpoint_name,
        model_bundle: a.model_bundle,
        cpus: a.cpus,
        memory: a.memory,
        storage: a.storage,
        gpus: a.gpus,
        min_workers: a.min_workers,
        max_workers: a.max_workers,
        per_worker: a.per_worker,
        gpu_type: a.gpu_type,
        high_priority: a.high_priority,
        default_callback_url: a.default_callback_url ?? null,
        default_callback_auth_kind: a.default_callback_auth_kind ?? null,
        default_callback_auth_username: a.default_callback_auth_username ?? null,
        default_callback_auth_password: a.default_callback_auth_password ?? null,
        default_callback_auth_cert: a.default_callback_auth_cert ?? null,
        default_callback_auth_key: a.default_callback_auth_key ?? null,
        public_inference: a.public_inference ?? null,
      });
      return { existing };
    }
    const bundle = (await this.getModelBundle(a.model_bundle)).json as { id: string };
    const payload = dictNotNone({
      cpus: a.cpus,
      endpoint_type: a.endpoint_type,
      gpus: a.gpus,
      gpu_type: a.gpu_type,
      labels: a.labels ?? {},
      max_workers: a.max_workers,
      memory: a.memory,
      metadata: {},
      min_workers: a.min_workers,
      model_bundle_id: bundle.id,
      name: a.endpoint_name,
      per_worker: a.per_worker,
      high_priority: a.high_priority,
      post_inference_hooks: a.post_inference_hooks,
      default_callback_url: a.default_callback_url,
      default_callback_auth: callbackAuth(
        a.default_callback_auth_kind,
        a.default_callback_auth_username,
        a.default_callback_auth_password,
        a.default_callback_auth_cert,
        a.default_callback_auth_key,
      ),
      storage: a.storage,
      public_inference: a.public_inference,
    });
    return { created: (await this.api("POST", "/v1/model-endpoints", payload)).json };
  }

  /** `edit_model_endpoint(...)`: bundle name → v1 latest, endpoint name → `?name=`, then PUT. */
  async editModelEndpoint(a: EditEndpointArgs): Promise<{ endpoint_creation_task_id: string }> {
    const bundleId =
      a.model_bundle === undefined || a.model_bundle === null
        ? null
        : ((await this.getModelBundle(a.model_bundle)).json as { id: string }).id;
    const endpoint = await this.getModelEndpoint(a.model_endpoint);
    if (!endpoint) throw new Error(`no endpoint named ${a.model_endpoint}`);
    const payload = dictNotNone({
      cpus: a.cpus,
      gpus: a.gpus,
      gpu_type: a.gpu_type,
      max_workers: a.max_workers,
      memory: a.memory,
      min_workers: a.min_workers,
      model_bundle_id: bundleId,
      per_worker: a.per_worker,
      high_priority: a.high_priority,
      post_inference_hooks: a.post_inference_hooks,
      default_callback_url: a.default_callback_url,
      default_callback_auth: callbackAuth(
        a.default_callback_auth_kind,
        a.default_callback_auth_username,
        a.default_callback_auth_password,
        a.default_callback_auth_cert,
        a.default_callback_auth_key,
      ),
      storage: a.storage,
      public_inference: a.public_inference,
    });
    return (await this.api("PUT", `/v1/model-endpoints/${endpoint.id}`, payload)).json;
  }

  /** `delete_model_endpoint(name)`: `?name=` then DELETE; returns `resp["deleted"]`. */
  async deleteModelEndpoint(name: string): Promise<boolean> {
    const endpoint = await this.getModelEndpoint(name);
    const answer = await this.api("DELETE", `/v1/model-endpoints/${endpoint.id}`);
    return answer.json.deleted;
  }

  /** `list_model_endpoints()`. */
  async listModelEndpoints(): Promise<RawAnswer> {
    return this.api("GET", "/v1/model-endpoints");
  }

  // --- tasks ---

  /** `_async_request(name, ...)`: `?name=`, then POST the task; returns `{task_id}`. */
  async asyncRequest(name: string, request: EndpointRequestArgs): Promise<{ task_id: string }> {
    const endpoint = await this.getModelEndpoint(name);
    const payload = dictNotNone({
      return_pickled: request.return_pickled ?? false,
      url: request.url,
      args: request.args,
      callback_url: request.callback_url,
      callback_auth: callbackAuth(
        request.callback_auth_kind,
        request.callback_auth_username,
        request.callback_auth_password,
        request.callback_auth_cert,
        request.callback_auth_key,
      ),
    });
    return (await this.api("POST", `/v1/async-tasks?model_endpoint_id=${endpoint.id}`, payload)).json;
  }

  /** `_get_async_endpoint_response(name, task_id)`: the raw task answer. */
  async getAsyncEndpointResponse(taskId: string): Promise<RawAnswer> {
    return this.api("GET", `/v1/async-tasks/${taskId}`);
  }

  /** `_sync_request(name, ...)`: `?name=`, then POST; returns the decoded answer. */
  async syncRequest(name: string, request: EndpointRequestArgs): Promise<RawAnswer> {
    const endpoint = await this.getModelEndpoint(name);
    const payload = dictNotNone({
      return_pickled: request.return_pickled ?? false,
      url: request.url,
      args: request.args,
    });
    return this.api("POST", `/v1/sync-tasks?model_endpoint_id=${endpoint.id}`, payload);
  }

  /** `_streaming_request(name, ...)`: `?name=`, then `requests.post(..., json=payload)`. */
  async streamingRequest(name: string, request: EndpointRequestArgs): Promise<RawAnswer> {
    const endpoint = await this.getModelEndpoint(name);
    const payload = dictNotNone({
      return_pickled: request.return_pickled ?? false,
      url: request.url,
      args: request.args,
    });
    return this.requestsJson(
      "POST",
      `${this.#apiHost}/v1/streaming-tasks?model_endpoint_id=${endpoint.id}`,
      payload,
    );
  }
}

/** `CallbackAuth(**dict_not_none(kind, username, password, cert, key))` when a kind is given, else None. */
function callbackAuth(
  kind: string | null | undefined,
  username: string | null | undefined,
  password: string | null | undefined,
  cert: string | null | undefined,
  key: string | null | undefined,
): Record<string, unknown> | null {
  if (kind === undefined || kind === null) return null;
  return dictNotNone({ kind, username, password, cert, key });
}

/**
 * `requests.put(url, data=bytes)`: `Content-Length` and requests' default headers, no `Content-Type`, no
 * `Authorization`. Resolves with the status.
 */
export function requestsPut(url: string, data: Uint8Array): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      {
        method: "PUT",
        headers: {
          "user-agent": "python-requests/2.31.0",
          "accept-encoding": "gzip, deflate",
          accept: "*/*",
          connection: "close",
          "content-length": String(data.byteLength),
        },
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(data);
  });
}

/** `inspect.getsource` of the documentation's loaders: display text, stored and echoed. */
export const DOC_LOAD_MODEL_FN =
  "def my_load_model_fn():\n    def my_model(x):\n        return x\n\n    return my_model\n";
export const DOC_LOAD_PREDICT_FN =
  "def my_load_predict_fn(model):\n    def returns_model_of_x_plus_len_of_y(x: int, y: str) -> int:\n        return model(x) + len(y)\n\n    return returns_model_of_x_plus_len_of_y\n";
