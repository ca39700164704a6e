/**
 * Endpoint objects, as the Python client's `AsyncEndpoint` / `SyncEndpoint` / `StreamingEndpoint`: a
 * handle on one endpoint with its last fetched wire view (`modelEndpoint`) and `status()`. The execution
 * issue adds `predict({ request })` to each class, with a return type that depends on the endpoint type.
 */
import type { Endpoint, EndpointStatus, EndpointType } from "@launch/protocol";
import type { LaunchClient } from "./client.js";
import { ServerError } from "./errors.js";

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
   * The wire view, so `JSON.stringify(endpoint)` prints what the server returned.
   *
   * @example console.log(JSON.stringify(endpoint));
   */
  toJSON(): ModelEndpoint {
    return this.modelEndpoint;
  }
}

/** An endpoint whose tasks are queued and answered later (optionally through a callback). */
export class AsyncEndpoint extends BaseEndpoint {
  readonly endpointType = "async" as const;
}

/** An endpoint that answers each task in the request. */
export class SyncEndpoint extends BaseEndpoint {
  readonly endpointType = "sync" as const;
}

/** An endpoint that answers each task with a stream of server-sent events. */
export class StreamingEndpoint extends BaseEndpoint {
  readonly endpointType = "streaming" as const;
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
