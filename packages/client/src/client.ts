/**
 * `LaunchClient`: the bundle and endpoint methods of the Python client `scale-launch` 0.4, in camelCase.
 *
 * Conventions:
 * - Arguments are camelCase option objects; results are the server's wire objects (snake_case, typed by
 *   `@launch/protocol`: `BundleV2`, `Endpoint`, ...), exactly as the REST API documents them, so nothing
 *   the server adds is lost. Endpoints come back as objects (`AsyncEndpoint`, `SyncEndpoint`,
 *   `StreamingEndpoint`) whose `modelEndpoint` is the wire view.
 * - Failures throw the typed errors of `errors.ts`, recognised by `name`.
 */
import type {
  BundleV2,
  CallbackDeliveryView,
  CallbackSecret,
  CallbacksReplayed,
  CloneBundleRequest,
  CreateBundleV2Request,
  EndpointCreated,
  EndpointType,
  TaskResponse,
  ValidationIssue,
} from "@launch/protocol";
import { isId, zipFiles } from "@launch/protocol";
import { collectBundleFiles, modulePathOf } from "./bundle-dirs.js";
import type {
  CloneModelBundleWithChangesV2Options,
  CreateModelBundleFromDirsV2Options,
  CreateModelBundleFromRunnableImageV2Options,
  CreateModelBundleV2Options,
  CreateModelBundleV2Response,
  ListModelBundlesV2Options,
  ListModelBundlesV2Response,
  ModelBundleRef,
} from "./bundle-options.js";
import {
  callbackSecret,
  getCallback,
  getTaskCallbacks,
  type ListEndpointCallbacksOptions,
  listEndpointCallbacks,
  replayCallback,
  replayFailedCallbacks,
} from "./callbacks.js";
import {
  type AnyEndpoint,
  BaseEndpoint,
  type EndpointsByType,
  endpointFromView,
  type ModelEndpoint,
} from "./endpoint.js";
import {
  CREATE_DEFAULTS,
  type CreateModelEndpointOptions,
  createBody,
  type EditModelEndpointOptions,
  type ListModelEndpointsOptions,
  type ModelEndpointRef,
  updateBody,
} from "./endpoint-options.js";
import {
  AuthenticationError,
  ConflictError,
  isLaunchClientError,
  NotFoundError,
  ValidationError,
} from "./errors.js";
import type { ModelBundleFlavorInput } from "./flavors.js";
import { EndpointResponseFuture } from "./future.js";
import { type HttpMethod, HttpTransport, type RequestOptions } from "./http.js";
import {
  createAsyncTask,
  type EndpointLogs,
  type GetAsyncTaskOptions,
  getAsyncTask,
  getEndpointLogs,
  runSyncTask,
  type SyncTaskOptions,
  streamTask,
} from "./task-calls.js";
import { type EndpointRequestInput, type EndpointResponse, toEndpointRequest } from "./tasks.js";
import { type ArtifactUploader, uploadThroughServer } from "./upload.js";

/** Where the SDK connects when no endpoint is given: a local `launch serve`. */
export const DEFAULT_ENDPOINT = "http://127.0.0.1:5001";
/** The Python client's network timeout. */
export const DEFAULT_TIMEOUT_MS = 120_000;
/** The prefix the Python client adds with `use_path_with_custom_endpoint=True`. */
export const CUSTOM_ENDPOINT_PATH = "/v1/launch";

export interface LaunchClientOptions {
  /** Your API key (`launch keys create`). Sent as the HTTP Basic username with an empty password. */
  apiKey: string;
  /** The server's URL. Default `http://127.0.0.1:5001`. */
  endpoint?: string | undefined;
  /** Per-request timeout. Default 120 000 ms. */
  timeoutMs?: number | undefined;
  /**
   * As in the Python client: artifacts are not uploaded through the server's upload URL but by
   * `uploader`, which you provide (for example a write to your own object store).
   */
  selfHosted?: boolean | undefined;
  /** With `selfHosted`: uploads bytes and returns a location the server can read. */
  uploader?: ArtifactUploader | undefined;
  /** Prefix every route with `/v1/launch`, as the Python client's `use_path_with_custom_endpoint`. */
  usePathWithCustomEndpoint?: boolean | undefined;
  /** The `fetch` to use (for example one bound to an undici dispatcher). Default: the global `fetch`. */
  fetch?: typeof globalThis.fetch | undefined;
}

/**
 * A client of one Launch server.
 *
 * @example
 * const client = new LaunchClient({ apiKey: process.env.LAUNCH_API_KEY!, endpoint: "http://127.0.0.1:5001" });
 * const { model_bundles } = await client.listModelBundlesV2();
 */
export class LaunchClient {
  /** The base URL requests go to, including the `/v1/launch` prefix when asked for. */
  readonly endpoint: string;
  readonly selfHosted: boolean;
  readonly #http: HttpTransport;
  readonly #uploader: ArtifactUploader | undefined;

  constructor(options: LaunchClientOptions) {
    if (typeof options?.apiKey !== "string" || options.apiKey.trim() === "") {
      throw new AuthenticationError({
        status: 401,
        code: "unauthenticated",
        detail: "apiKey is required: new LaunchClient({ apiKey }) (create one with `launch keys create`).",
      });
    }
    const base = (options.endpoint ?? DEFAULT_ENDPOINT).replace(/\/+$/, "");
    this.endpoint = options.usePathWithCustomEndpoint ? `${base}${CUSTOM_ENDPOINT_PATH}` : base;
    this.selfHosted = options.selfHosted ?? false;
    this.#uploader = options.uploader;
    this.#http = new HttpTransport({
      apiKey: options.apiKey,
      baseUrl: this.endpoint,
      timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      fetch: options.fetch ?? globalThis.fetch.bind(globalThis),
    });
  }

  /**
   * Sends an authenticated request to any route and returns the parsed JSON (an escape hatch for routes
   * this SDK does not wrap yet). Errors are typed as for every other method.
   *
   * @example const health = await client.request<{ restarted: boolean }>("POST", `/v1/model-endpoints/${id}/restart`);
   */
  request<T>(method: HttpMethod, path: string, options?: RequestOptions): Promise<T> {
    return this.#http.request<T>(method, path, options);
  }

  /**
   * Uploads bytes (a schema document, a pickle, a zip) and returns their location, `s3://bucket/key`.
   * Goes through the server's upload URL, or through `uploader` when the client is `selfHosted`.
   *
   * @example const schemaLocation = await client.uploadArtifact(JSON.stringify({ RequestSchema: {} }));
   */
  async uploadArtifact(bytes: Uint8Array | string): Promise<string> {
    const data = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
    if (this.selfHosted) {
      if (!this.#uploader) {
        throw new ValidationError({
          status: 422,
          code: "validation_failed",
          detail: [
            {
              loc: ["options", "uploader"],
              msg: "a selfHosted client uploads through `uploader`: new LaunchClient({ selfHosted: true, uploader })",
              type: "missing",
            },
          ],
        });
      }
      return this.#uploader(data);
    }
    return uploadThroughServer(this.#http, data);
  }

  // ---- bundles -------------------------------------------------------------------------------------

  /**
   * Creates a bundle from a flavor. Without `schemaLocation`, an empty schema document is uploaded first.
   *
   * @example
   * const { model_bundle_id } = await client.createModelBundleV2({
   *   modelBundleName: "echo",
   *   flavor: { flavor: "runnable_image", repository: "python", tag: "3.12", command: ["python", "serve.py"] },
   * });
   */
  async createModelBundleV2(options: CreateModelBundleV2Options): Promise<CreateModelBundleV2Response> {
    const schemaLocation = options.schemaLocation ?? (await this.uploadArtifact(schemaDocument()));
    const body: Omit<CreateBundleV2Request, "flavor"> & { flavor: ModelBundleFlavorInput } = {
      name: options.modelBundleName,
      schema_location: schemaLocation,
      flavor: options.flavor,
      ...(options.metadata === undefined ? {} : { metadata: options.metadata }),
    };
    return this.#http.request<CreateModelBundleV2Response>("POST", "/v2/model-bundles", { body });
  }

  /**
   * Creates a runnable-image bundle: uploads the request/response JSON schemas, then creates the bundle.
   * The command must start an HTTP server on port 5005 answering `predictRoute` and `healthcheckRoute`.
   *
   * @example
   * await client.createModelBundleFromRunnableImageV2({
   *   modelBundleName: "test-bundle",
   *   repository: "python", tag: "3.12", command: ["python", "-m", "server"],
   *   requestSchema: { type: "object", properties: { x: { type: "integer" } } },
   *   responseSchema: { type: "integer" },
   * });
   */
  async createModelBundleFromRunnableImageV2(
    options: CreateModelBundleFromRunnableImageV2Options,
  ): Promise<CreateModelBundleV2Response> {
    const schemaLocation = await this.uploadArtifact(
      schemaDocument(options.requestSchema, options.responseSchema),
    );
    return this.createModelBundleV2({
      modelBundleName: options.modelBundleName,
      schemaLocation,
      metadata: options.metadata,
      flavor: {
        flavor: "runnable_image",
        repository: options.repository,
        tag: options.tag,
        command: options.command,
        protocol: "http",
        env: options.env ?? {},
        ...(options.predictRoute === undefined ? {} : { predict_route: options.predictRoute }),
        ...(options.healthcheckRoute === undefined ? {} : { healthcheck_route: options.healthcheckRoute }),
        ...(options.readinessInitialDelaySeconds === undefined
          ? {}
          : { readiness_initial_delay_seconds: options.readinessInitialDelaySeconds }),
      },
    });
  }

  /**
   * Creates a Node bundle from local code [ext]: packs the directory (or directories) into a zip
   * (keeping an installed `node_modules`, skipping `.git` and `node_modules/.cache`), uploads it and the
   * request/response schemas through the server's upload URL, then creates a `zip_artifact` bundle with
   * `framework_type: "node"`, in the Python client's order (artifact, schemas, create). The module
   * paths are checked against the packed files first, so a typo uploads nothing.
   *
   * @example
   * const { model_bundle_id } = await client.createModelBundleFromDirsV2({
   *   modelBundleName: "test-bundle",
   *   baseDir: "./doc-model",
   *   loadModelFnModulePath: "model.mjs#loadModel",
   *   loadPredictFnModulePath: "model.mjs#loadPredictFn",
   * });
   */
  async createModelBundleFromDirsV2(
    options: CreateModelBundleFromDirsV2Options,
  ): Promise<CreateModelBundleV2Response> {
    const entries = await collectBundleFiles(options);
    const paths = new Set(entries.map((entry) => entry.path));
    const issues: ValidationIssue[] = [];
    for (const [option, field, ref] of [
      ["loadModelFnModulePath", "load_model_fn_module_path", options.loadModelFnModulePath],
      ["loadPredictFnModulePath", "load_predict_fn_module_path", options.loadPredictFnModulePath],
    ] as const) {
      if (typeof ref !== "string" || modulePathOf(ref) === "") {
        issues.push({
          loc: [option],
          msg: 'expected "module#export", e.g. "model.mjs#loadModel"',
          type: "missing",
        });
      } else if (!paths.has(modulePathOf(ref))) {
        issues.push({
          loc: [option],
          msg: `${modulePathOf(ref)} is not among the bundled files (${field} names a path inside the bundle, e.g. "model.mjs#loadModel")`,
          type: "value_error",
        });
      }
    }
    if (issues.length > 0)
      throw new ValidationError({ status: 422, code: "validation_failed", detail: issues });

    const location = await this.uploadArtifact(zipFiles(entries));
    const schemaLocation = await this.uploadArtifact(
      schemaDocument(options.requestSchema, options.responseSchema),
    );
    return this.createModelBundleV2({
      modelBundleName: options.modelBundleName,
      schemaLocation,
      metadata: options.metadata,
      flavor: {
        flavor: "zip_artifact",
        requirements: options.requirements ?? [],
        framework: { framework_type: "node", node_version: options.nodeVersion ?? null },
        location,
        load_predict_fn_module_path: options.loadPredictFnModulePath,
        load_model_fn_module_path: options.loadModelFnModulePath,
        app_config: options.appConfig ?? null,
      },
    });
  }

  /**
   * A bundle by id. Throws `NotFoundError` when it does not exist or belongs to another team.
   *
   * @example const bundle = await client.getModelBundleV2("bun_01jdq9z6v4k3m8n2p5r7s9t1vw");
   */
  getModelBundleV2(modelBundleId: string): Promise<BundleV2> {
    return this.#http.request<BundleV2>("GET", `/v2/model-bundles/${encodeURIComponent(modelBundleId)}`);
  }

  /**
   * The newest bundle of a name in your team. Throws `NotFoundError` when there is none.
   *
   * @example const bundle = await client.getLatestModelBundleV2("test-bundle");
   */
  getLatestModelBundleV2(modelBundleName: string): Promise<BundleV2> {
    return this.#http.request<BundleV2>("GET", "/v2/model-bundles/latest", {
      query: { model_name: modelBundleName },
    });
  }

  /**
   * Your team's bundles, optionally of one name, newest or oldest first.
   *
   * @example const { model_bundles } = await client.listModelBundlesV2({ modelName: "test-bundle", orderBy: "newest" });
   */
  listModelBundlesV2(options: ListModelBundlesV2Options = {}): Promise<ListModelBundlesV2Response> {
    return this.#http.request<ListModelBundlesV2Response>("GET", "/v2/model-bundles", {
      query: { model_name: options.modelName, order_by: options.orderBy },
    });
  }

  /**
   * Creates a copy of a bundle, optionally with a new `app_config`.
   *
   * @example const { model_bundle_id } = await client.cloneModelBundleWithChangesV2({ originalModelBundleId: id, newAppConfig: { k: 1 } });
   */
  cloneModelBundleWithChangesV2(
    options: CloneModelBundleWithChangesV2Options,
  ): Promise<CreateModelBundleV2Response> {
    const body: CloneBundleRequest = { original_model_bundle_id: options.originalModelBundleId };
    if (options.newAppConfig !== undefined) body.new_app_config = options.newAppConfig;
    return this.#http.request<CreateModelBundleV2Response>("POST", "/v2/model-bundles/clone-with-changes", {
      body,
    });
  }

  // ---- endpoints -----------------------------------------------------------------------------------

  /**
   * Creates an endpoint and returns its object (`AsyncEndpoint`, `SyncEndpoint` or `StreamingEndpoint`
   * by `endpointType`, default `"sync"`). A bundle given by name means the latest bundle of that name.
   * With `updateIfExists`, an existing endpoint of that name is edited with these arguments instead,
   * hooks and labels included; its type cannot change (`ConflictError`).
   *
   * @example
   * const endpoint = await client.createModelEndpoint({
   *   endpointName: "demo-endpoint-callback", modelBundle: "test-bundle", cpus: 1, minWorkers: 1,
   *   endpointType: "async", updateIfExists: true, labels: { team: "MY_TEAM", product: "MY_PRODUCT" },
   *   postInferenceHooks: [PostInferenceHooks.CALLBACK], defaultCallbackUrl: "https://example.com",
   *   defaultCallbackAuthKind: "basic", defaultCallbackAuthUsername: "user", defaultCallbackAuthPassword: "password",
   * });
   * while ((await endpoint.status()) !== "READY") await new Promise((r) => setTimeout(r, 1000));
   */
  async createModelEndpoint<T extends EndpointType = "sync">(
    options: CreateModelEndpointOptions<T>,
  ): Promise<EndpointsByType[T]> {
    const endpointType: EndpointType = options.endpointType ?? CREATE_DEFAULTS.endpointType;
    if (options.updateIfExists) {
      const existing = await this.#findEndpointByName(options.endpointName);
      if (existing) {
        if (existing.endpoint_type !== endpointType) {
          throw new ConflictError({
            status: 409,
            code: "conflict",
            detail: `Model endpoint ${options.endpointName} exists with endpoint_type "${existing.endpoint_type}"; an edit cannot change it to "${endpointType}" (delete it first).`,
          });
        }
        const modelBundleId = await this.#resolveBundleId(options.modelBundle);
        const body = updateBody(
          {
            ...options,
            cpus: options.cpus ?? CREATE_DEFAULTS.cpus,
            memory: options.memory ?? CREATE_DEFAULTS.memory,
            storage: options.storage ?? CREATE_DEFAULTS.storage,
            gpus: options.gpus ?? CREATE_DEFAULTS.gpus,
            minWorkers: options.minWorkers ?? CREATE_DEFAULTS.minWorkers,
            maxWorkers: options.maxWorkers ?? CREATE_DEFAULTS.maxWorkers,
            perWorker: options.perWorker ?? CREATE_DEFAULTS.perWorker,
          },
          modelBundleId,
        );
        await this.#http.request("PUT", endpointPath(existing.id), { body });
        return endpointFromView(await this.#getEndpointView(existing.id), this) as EndpointsByType[T];
      }
    }
    const modelBundleId = await this.#resolveBundleId(options.modelBundle);
    const body = createBody({ ...options, endpointType }, modelBundleId);
    const { endpoint_creation_task_id: taskId } = await this.#http.request<EndpointCreated>(
      "POST",
      "/v1/model-endpoints",
      { body },
    );
    // Our server answers the endpoint's own id; the reference answers a build task id.
    const created = isId("endpoint", taskId ?? "")
      ? await this.#getEndpointView(taskId)
      : await this.#findEndpointByName(options.endpointName);
    if (!created) throw endpointNotFound(options.endpointName);
    return endpointFromView(created, this) as EndpointsByType[T];
  }

  /**
   * Edits an endpoint (patch semantics: only the given fields change; labels merge into the existing
   * ones). Returns the endpoint object after the edit; an endpoint object passed in is refreshed too.
   *
   * @example
   * await client.editModelEndpoint({
   *   modelEndpoint: endpoint.modelEndpoint,
   *   defaultCallbackAuthKind: "mtls", defaultCallbackAuthCert: certPem, defaultCallbackAuthKey: keyPem,
   * });
   */
  async editModelEndpoint(options: EditModelEndpointOptions): Promise<AnyEndpoint> {
    const { modelEndpoint, modelBundle, ...settings } = options;
    const id = await this.#resolveEndpointId(modelEndpoint);
    const modelBundleId = modelBundle === undefined ? undefined : await this.#resolveBundleId(modelBundle);
    await this.#http.request("PUT", endpointPath(id), { body: updateBody(settings, modelBundleId) });
    const view = await this.#getEndpointView(id);
    if (modelEndpoint instanceof BaseEndpoint) modelEndpoint.modelEndpoint = view;
    return endpointFromView(view, this);
  }

  /**
   * An endpoint by name (or id). Throws `NotFoundError` when there is none in your team.
   *
   * @example const endpoint = await client.getModelEndpoint("demo-endpoint-callback");
   */
  async getModelEndpoint(nameOrId: string): Promise<AnyEndpoint> {
    if (isId("endpoint", nameOrId)) {
      try {
        return endpointFromView(await this.#getEndpointView(nameOrId), this);
      } catch (error) {
        if (!isLaunchClientError(error, "NotFoundError")) throw error;
      }
    }
    const view = await this.#findEndpointByName(nameOrId);
    if (!view) throw endpointNotFound(nameOrId);
    return endpointFromView(view, this);
  }

  /**
   * Your team's endpoints as endpoint objects (an empty list when there are none).
   *
   * @example for (const endpoint of await client.listModelEndpoints()) console.log(endpoint.name, endpoint.modelEndpoint.status);
   */
  async listModelEndpoints(options: ListModelEndpointsOptions = {}): Promise<AnyEndpoint[]> {
    const { model_endpoints } = await this.#http.request<{ model_endpoints: ModelEndpoint[] }>(
      "GET",
      "/v1/model-endpoints",
      { query: { name: options.name, order_by: options.orderBy } },
    );
    return model_endpoints.map((view) => endpointFromView(view, this));
  }

  /**
   * Deletes an endpoint given by name, id or object. Returns the server's `deleted` flag.
   *
   * @example await client.deleteModelEndpoint("demo-endpoint-callback");
   */
  async deleteModelEndpoint(modelEndpoint: ModelEndpointRef): Promise<boolean> {
    const id = await this.#resolveEndpointId(modelEndpoint);
    const { deleted } = await this.#http.request<{ deleted: boolean }>("DELETE", endpointPath(id));
    return deleted;
  }

  /**
   * Recent output of an endpoint's workers (`GET /v1/model-endpoints/{id}/logs` [ext]), oldest first;
   * `tail` limits it to the last lines.
   *
   * @example const { logs } = await client.getEndpointLogs("demo-endpoint", { tail: 100 });
   */
  async getEndpointLogs(
    modelEndpoint: ModelEndpointRef,
    options: { tail?: number | undefined } = {},
  ): Promise<EndpointLogs> {
    return getEndpointLogs(this.#http, await this.#idOf(modelEndpoint), options.tail);
  }

  // ---- tasks ---------------------------------------------------------------------------------------

  /**
   * Queues an async task on an endpoint (name, id or object) and returns its future.
   *
   * @example
   * const future = await client.predictAsync("demo-endpoint", new EndpointRequest({ args: { x: 2, y: "hello" } }));
   * const { result } = await future.get({ timeoutMs: 60_000 }); // 7
   */
  async predictAsync(
    modelEndpoint: ModelEndpointRef,
    request: EndpointRequestInput,
    options: { signal?: AbortSignal | undefined } = {},
  ): Promise<EndpointResponseFuture> {
    const endpointRequest = toEndpointRequest(request);
    const id = await this.#idOf(modelEndpoint);
    return new EndpointResponseFuture(
      this,
      await createAsyncTask(this.#http, id, endpointRequest, options.signal),
    );
  }

  /**
   * Runs a sync task on an endpoint and returns its outcome (a model error is status `FAILURE`).
   *
   * @example const { result } = await client.predictSync("demo-sync", { args: { x: 2, y: "hello" } }, { timeoutSeconds: 30 });
   */
  async predictSync(
    modelEndpoint: ModelEndpointRef,
    request: EndpointRequestInput,
    options: SyncTaskOptions = {},
  ): Promise<EndpointResponse> {
    const endpointRequest = toEndpointRequest(request);
    return runSyncTask(this.#http, await this.#idOf(modelEndpoint), endpointRequest, options);
  }

  /**
   * Runs a streaming task and yields each event as it arrives. Nothing is sent until the iteration
   * starts; breaking out of the loop closes the connection.
   *
   * @example for await (const event of client.predictStreaming("demo-stream", { args: { x: 2, y: "hi" } })) console.log(event.result);
   */
  async *predictStreaming(
    modelEndpoint: ModelEndpointRef,
    request: EndpointRequestInput,
    options: SyncTaskOptions = {},
  ): AsyncGenerator<EndpointResponse> {
    const endpointRequest = toEndpointRequest(request);
    yield* streamTask(this.#http, await this.#idOf(modelEndpoint), endpointRequest, options);
  }

  /**
   * An async task's wire state (`{task_id, status, result, traceback, status_code}`). With
   * `waitSeconds`, the server answers as soon as the task is finished or after that many seconds
   * (long-poll [ext], at most 60). Unknown task ids throw `NotFoundError`.
   *
   * @example const task = await client.getAsyncTask("tsk_01...", { waitSeconds: 30 });
   */
  getAsyncTask(taskId: string, options: GetAsyncTaskOptions = {}): Promise<TaskResponse> {
    return getAsyncTask(this.#http, taskId, options);
  }

  /**
   * The future of an async task created earlier (for example by another process).
   *
   * @example const response = await client.asyncTaskFuture("tsk_01...").get({ timeoutMs: 10_000 });
   */
  asyncTaskFuture(taskId: string): EndpointResponseFuture {
    return new EndpointResponseFuture(this, taskId);
  }

  // ---- callbacks [ext] -----------------------------------------------------------------------------

  /**
   * An async task's callbacks (usually one; none without the endpoint's `callback` hook), each with every
   * attempt: time, URL, HTTP status or error, latency, next attempt. Another team's task throws
   * `NotFoundError`.
   *
   * @example
   * const [delivery] = await client.getTaskCallbacks("tsk_01...");
   * console.log(delivery?.status, delivery?.attempts.length); // "delivered" 1
   */
  getTaskCallbacks(taskId: string): Promise<CallbackDeliveryView[]> {
    return getTaskCallbacks(this.#http, taskId);
  }

  /**
   * An endpoint's callbacks (name, id or object), newest first; `status: "failed"` lists the dead
   * letters. Page with `before`: the last id of the previous page.
   *
   * @example
   * const deadLetters = await client.listEndpointCallbacks("demo-endpoint", { status: "failed", limit: 50 });
   */
  async listEndpointCallbacks(
    modelEndpoint: ModelEndpointRef,
    options: ListEndpointCallbacksOptions = {},
  ): Promise<CallbackDeliveryView[]> {
    return listEndpointCallbacks(this.#http, await this.#idOf(modelEndpoint), options);
  }

  /**
   * Sends a delivered or failed callback again, now, with the same `webhook-id` and body (a pending one is
   * left as it is); returns the delivery. A skipped delivery (no URL) throws `BadRequestError`.
   *
   * @example const delivery = await client.replayCallback("dlv_01..."); // status "pending" or "delivered"
   */
  replayCallback(deliveryId: string): Promise<CallbackDeliveryView> {
    return replayCallback(this.#http, deliveryId);
  }

  /**
   * One callback delivery with its attempts.
   *
   * @example const delivery = await client.getCallback("dlv_01..."); // delivery.attempts[0].status_code
   */
  getCallback(deliveryId: string): Promise<CallbackDeliveryView> {
    return getCallback(this.#http, deliveryId);
  }

  /**
   * Replays every dead letter (`failed` delivery) of an endpoint; returns how many.
   *
   * @example const { replayed } = await client.replayFailedCallbacks("demo-endpoint");
   */
  async replayFailedCallbacks(modelEndpoint: ModelEndpointRef): Promise<CallbacksReplayed> {
    return replayFailedCallbacks(this.#http, await this.#idOf(modelEndpoint));
  }

  /**
   * The endpoint's callback signing secret (`whsec_…`): verify callbacks with it (`verifyCallback`,
   * `createCallbackHandler`). `previous_secret_expires_at` says until when the secret before the last
   * rotation signs too.
   *
   * @example const { secret } = await client.getCallbackSecret("demo-endpoint");
   */
  async getCallbackSecret(modelEndpoint: ModelEndpointRef): Promise<CallbackSecret> {
    return callbackSecret(this.#http, await this.#idOf(modelEndpoint), "read");
  }

  /**
   * Makes a new signing secret for the endpoint and returns it. The previous one keeps signing too (a
   * second signature) until `previous_secret_expires_at`, so receivers can switch without a rejection.
   *
   * @example const { secret, previous_secret_expires_at } = await client.rotateCallbackSecret("demo-endpoint");
   */
  async rotateCallbackSecret(modelEndpoint: ModelEndpointRef): Promise<CallbackSecret> {
    return callbackSecret(this.#http, await this.#idOf(modelEndpoint), "rotate");
  }

  // ---- lookups -------------------------------------------------------------------------------------

  /** An endpoint's id without a lookup when it is known: ids and objects as they are, names looked up. */
  async #idOf(ref: ModelEndpointRef): Promise<string> {
    if (typeof ref === "string" && isId("endpoint", ref)) return ref;
    return this.#resolveEndpointId(ref);
  }

  #getEndpointView(id: string): Promise<ModelEndpoint> {
    return this.#http.request<ModelEndpoint>("GET", endpointPath(id));
  }

  async #findEndpointByName(name: string): Promise<ModelEndpoint | undefined> {
    const { model_endpoints } = await this.#http.request<{ model_endpoints: ModelEndpoint[] }>(
      "GET",
      "/v1/model-endpoints",
      { query: { name } },
    );
    return model_endpoints.find((view) => view.name === name);
  }

  async #resolveEndpointId(ref: ModelEndpointRef): Promise<string> {
    if (typeof ref !== "string") return "modelEndpoint" in ref ? ref.modelEndpoint.id : ref.id;
    return (await this.getModelEndpoint(ref)).id;
  }

  async #resolveBundleId(ref: ModelBundleRef): Promise<string> {
    if (typeof ref !== "string") return ref.id;
    if (isId("bundle", ref)) {
      try {
        return (await this.getModelBundleV2(ref)).id;
      } catch (error) {
        if (!isLaunchClientError(error, "NotFoundError")) throw error;
      }
    }
    return (await this.getLatestModelBundleV2(ref)).id;
  }
}

function endpointPath(id: string): string {
  return `/v1/model-endpoints/${encodeURIComponent(id)}`;
}

function endpointNotFound(nameOrId: string): NotFoundError {
  return new NotFoundError({
    status: 404,
    code: "not_found",
    detail: `Model endpoint ${nameOrId} was not found.`,
  });
}

/** The schema document the Python client uploads: model definitions keyed `RequestSchema` / `ResponseSchema`. */
function schemaDocument(
  requestSchema: Record<string, unknown> = {},
  responseSchema: Record<string, unknown> = {},
): string {
  return JSON.stringify({ RequestSchema: requestSchema, ResponseSchema: responseSchema });
}
