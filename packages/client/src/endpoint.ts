/**
 * Endpoint objects, as the Python client's `AsyncEndpoint` / `SyncEndpoint` / `StreamingEndpoint`: a
 * handle on one endpoint with its last fetched wire view (`modelEndpoint`), `status()`,
 * `waitUntilReady()`, `logs()`, and `predict({ request })`, whose result depends on the endpoint type:
 * a future for async, a response for sync, an async iterable of responses for streaming.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type {
  CallbackDeliveryView,
  CallbackSecret,
  Endpoint,
  EndpointStatus,
  EndpointType,
} from "@launch/protocol";
import type { ListEndpointCallbacksOptions } from "./callbacks.js";
import type { LaunchClient } from "./client.js";
import { EndpointFailedError, ServerError, WaitTimeoutError } from "./errors.js";
import type { EndpointResponseFuture } from "./future.js";
import type { EndpointLogs } from "./task-calls.js";
import type { EndpointRequestInput, EndpointResponse } from "./tasks.js";

/** The wire view of an endpoint (`GET /v1/model-endpoints/{id}`), as the Python client's `ModelEndpoint`. */
export type ModelEndpoint = Endpoint;

/**
 * What every endpoint object can do.
 *
 * @example
 * const endpoint = await client.getModelEndpoint("demo-endpoint");
 * while ((await endpoint.status()) !== "READY") await new Promise((r) => setTimeout(r, 1000));
 */
export abstract class BaseEndpoint {
  abstract readonly endpointType: EndpointType;
  /** The wire view as last fetched; `status()` and `refresh()` update it. */
  modelEndpoint: ModelEndpoint;
  /** The client this endpoint talks through. */
  readonly client: LaunchClient;

  constructor(modelEndpoint: ModelEndpoint, client: LaunchClient) {
    this.modelEndpoint = modelEndpoint;
    this.client = client;
  }

  /** The endpoint's id (`end_...`). */
  get id(): string {
    return this.modelEndpoint.id;
  }

  /** The endpoint's name. */
  get name(): string {
    return this.modelEndpoint.name;
  }

  /**
   * Fetches the endpoint again and returns its current status (`UPDATE_PENDING`, `READY`, ...).
   *
   * @example if ((await endpoint.status()) === "UPDATE_FAILED") console.log(endpoint.modelEndpoint.status_reason);
   */
  async status(): Promise<EndpointStatus> {
    return (await this.refresh()).status;
  }

  /**
   * Fetches the endpoint again, stores the view in `modelEndpoint` and returns it.
   *
   * @example const { deployment_state } = await endpoint.refresh();
   */
  async refresh(): Promise<ModelEndpoint> {
    this.modelEndpoint = await this.client.request<ModelEndpoint>(
      "GET",
      `/v1/model-endpoints/${encodeURIComponent(this.id)}`,
    );
    return this.modelEndpoint;
  }

  /**
   * Polls the endpoint (every `intervalMs`, default 500) until it is `READY` and returns its view.
   * Throws `EndpointFailedError` with the server's `status_reason` when it ends in `UPDATE_FAILED` (or
   * starts deleting), and `WaitTimeoutError` after `timeoutMs`. `onProgress` sees every view fetched.
   *
   * @example
   * await endpoint.waitUntilReady({
   *   timeoutMs: 120_000,
   *   onProgress: (view) => console.error(view.status, view.deployment_state.available_workers),
   * });
   */
  async waitUntilReady(options: WaitUntilReadyOptions = {}): Promise<ModelEndpoint> {
    const deadline =
      options.timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + options.timeoutMs;
    const intervalMs = options.intervalMs ?? DEFAULT_READY_POLL_MS;
    for (;;) {
      const view = await this.refresh();
      options.onProgress?.(view);
      if (view.status === "READY") return view;
      if (view.status === "UPDATE_FAILED" || view.status === "DELETE_IN_PROGRESS") {
        throw new EndpointFailedError({
          status: 0,
          code: "endpoint_failed",
          detail: `Endpoint ${view.name} is ${view.status}: ${view.status_reason ?? "the server gave no reason"}`,
          endpointStatus: view.status,
          statusReason: view.status_reason,
        });
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new WaitTimeoutError({
          status: 0,
          code: "wait_timed_out",
          detail: `Endpoint ${view.name} is still ${view.status} after ${options.timeoutMs} ms (workers ${view.deployment_state.available_workers}/${view.deployment_state.min_workers} ready).`,
        });
      }
      await sleep(Math.min(intervalMs, remaining), undefined, { signal: options.signal });
    }
  }

  /**
   * Recent output of the endpoint's workers (`GET /v1/model-endpoints/{id}/logs` [ext]), oldest first.
   *
   * @example for (const { worker_id, line } of (await endpoint.logs({ tail: 50 })).logs) console.log(worker_id, line);
   */
  logs(options: { tail?: number | undefined } = {}): Promise<EndpointLogs> {
    return this.client.getEndpointLogs(this, options);
  }

  /**
   * The endpoint's callbacks, newest first [ext]; `status: "failed"` lists the dead letters.
   *
   * @example const deadLetters = await endpoint.callbacks({ status: "failed" });
   */
  callbacks(options: ListEndpointCallbacksOptions = {}): Promise<CallbackDeliveryView[]> {
    return this.client.listEndpointCallbacks(this, options);
  }

  /**
   * The endpoint's callback signing secret (`whsec_…`) [ext], to verify callbacks with.
   *
   * @example const { secret } = await endpoint.callbackSecret();
   */
  callbackSecret(): Promise<CallbackSecret> {
    return this.client.getCallbackSecret(this);
  }

  /**
   * Makes a new callback signing secret and returns it [ext]; the previous one signs too until
   * `previous_secret_expires_at`.
   *
   * @example const { secret } = await endpoint.rotateCallbackSecret();
   */
  rotateCallbackSecret(): Promise<CallbackSecret> {
    return this.client.rotateCallbackSecret(this);
  }

  /**
   * The wire view, so `JSON.stringify(endpoint)` prints what the server returned.
   *
   * @example console.log(JSON.stringify(endpoint));
   */
  toJSON(): ModelEndpoint {
    return this.modelEndpoint;
  }
}

/** How often `waitUntilReady` polls by default. */
export const DEFAULT_READY_POLL_MS = 500;

export interface WaitUntilReadyOptions {
  /** Give up after this long (default: wait as long as it takes). */
  timeoutMs?: number | undefined;
  /** Time between polls; default 500 ms. */
  intervalMs?: number | undefined;
  /** Called with every view fetched (status, `deployment_state.available_workers`, ...). */
  onProgress?: ((view: ModelEndpoint) => void) | undefined;
  signal?: AbortSignal | undefined;
}

export interface AsyncPredictOptions {
  /** An `EndpointRequest`, or its options. */
  request: EndpointRequestInput;
  signal?: AbortSignal | undefined;
}

export interface SyncPredictOptions {
  /** An `EndpointRequest`, or its options. */
  request: EndpointRequestInput;
  /** How long the server waits for the model (`timeout_seconds`); the request waits as long. */
  timeoutSeconds?: number | undefined;
  /** `num_retries`, as the Python client sends it. */
  numRetries?: number | undefined;
  signal?: AbortSignal | undefined;
}

/** An endpoint whose tasks are queued and answered later (optionally through a callback). */
export class AsyncEndpoint extends BaseEndpoint {
  readonly endpointType = "async" as const;

  /**
   * Queues a task and returns its future; the task is durable once this resolves.
   *
   * @example
   * const future = await endpoint.predict({ request: new EndpointRequest({ args: { x: 2, y: "hello" } }) });
   * console.log((await future.get({ timeoutMs: 60_000 })).result); // 7
   */
  predict(options: AsyncPredictOptions): Promise<EndpointResponseFuture> {
    return this.client.predictAsync(this, options.request, { signal: options.signal });
  }
}

/** An endpoint that answers each task in the request. */
export class SyncEndpoint extends BaseEndpoint {
  readonly endpointType = "sync" as const;

  /**
   * Runs a task and returns its outcome. A model error is a response with status `FAILURE`, not an
   * exception.
   *
   * @example const { result } = await endpoint.predict({ request: new EndpointRequest({ args: { x: 2, y: "hello" } }) }); // 7
   */
  predict(options: SyncPredictOptions): Promise<EndpointResponse> {
    return this.client.predictSync(this, options.request, options);
  }
}

/** An endpoint that answers each task with a stream of server-sent events. */
export class StreamingEndpoint extends BaseEndpoint {
  readonly endpointType = "streaming" as const;

  /**
   * Runs a task and yields each event the model streams, as it arrives. The request is sent when the
   * iteration starts; breaking out of the loop closes the connection.
   *
   * @example
   * for await (const event of endpoint.predict({ request: new EndpointRequest({ args: { x: 2, y: "hi" } }) })) {
   *   console.log(event.result);
   * }
   */
  predict(options: SyncPredictOptions): AsyncIterable<EndpointResponse> {
    return this.client.predictStreaming(this, options.request, options);
  }
}

/** The endpoint class for each endpoint type. */
export interface EndpointsByType {
  async: AsyncEndpoint;
  sync: SyncEndpoint;
  streaming: StreamingEndpoint;
}

/** Any endpoint object. */
export type AnyEndpoint = EndpointsByType[EndpointType];

/**
 * The endpoint object for a wire view, by its `endpoint_type`.
 *
 * @example const endpoint = endpointFromView(view, client); // AsyncEndpoint when view.endpoint_type is "async"
 */
export function endpointFromView(view: ModelEndpoint, client: LaunchClient): AnyEndpoint {
  switch (view.endpoint_type) {
    case "async":
      return new AsyncEndpoint(view, client);
    case "sync":
      return new SyncEndpoint(view, client);
    case "streaming":
      return new StreamingEndpoint(view, client);
    default:
      throw new ServerError({
        status: 502,
        code: "internal",
        detail: `The server returned endpoint ${String((view as { id?: unknown }).id)} with an unknown endpoint_type ${JSON.stringify((view as { endpoint_type?: unknown }).endpoint_type)}.`,
      });
  }
}
