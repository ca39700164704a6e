/**
 * Sync and streaming tasks (`POST /v1/sync-tasks`, `POST /v1/streaming-tasks`): checked like async tasks,
 * then forwarded at once to a ready worker of the endpoint (`worker-forward.ts`) instead of being queued.
 *
 * - `timeout_seconds` (default 60, at most 3600) bounds finding a worker and its answer; for streaming,
 *   its first byte (the stream then lasts as long as the model streams).
 * - `num_retries` (default 3) counts tries on another worker after a connection failure, never after a
 *   model error.
 * - Sync answers are the worker's bytes, untouched unless `results_as_string` is on (then `result.result`
 *   becomes Python JSON text). Streaming events are passed through as they come; `results_as_string`
 *   does not apply to them (nor in the reference server).
 * - Post-inference hooks run after sync tasks (with `task_id: null`) and never after streaming ones, as
 *   in the reference server: `afterSyncTask` is the seam where the callbacks work plugs in.
 */
import type { Readable } from "node:stream";
import {
  newId,
  SYNC_RETRIES_DEFAULT,
  SYNC_TIMEOUT_DEFAULT_SECONDS,
  type SyncPredictRequest,
} from "@launch/protocol";
import type { ArtifactStore } from "../artifacts/port.js";
import type { LaunchConfig } from "../config/schema.js";
import type { SecretsBox } from "../domain/secrets-box.js";
import type { Orchestrator } from "../orchestration/port.js";
import type { EndpointRecord, Store } from "../store/port.js";
import type { Caller } from "./endpoints.js";
import { storePickledResult } from "./pickled-results.js";
import {
  type CheckedPredictRequest,
  checkPredictRequest,
  taskPayload,
  workerRequestBody,
} from "./predict-request.js";
import { pythonJsonDumps } from "./python-json.js";
import { taskEndpoint } from "./task-endpoint.js";
import type { TaskPayload } from "./task-payload.js";
import { type ForwardRequest, forwardPredict, forwardStream } from "./worker-forward.js";
import type { WorkerPools } from "./worker-pools.js";

/** A sync task that has been answered, for post-inference hooks. */
export interface SyncTaskFinished {
  endpoint: EndpointRecord;
  caller: Caller;
  /** The request, its callback credentials sealed. */
  payload: TaskPayload;
  /** The worker's answer, the sync response shape as JSON text, before `results_as_string` applies. */
  response: string;
}

/**
 * Runs after each answered sync task of an endpoint that has post-inference hooks. The callbacks work
 * records deliveries here; it must not throw nor make the client wait.
 */
export type AfterSyncTask = (finished: SyncTaskFinished) => void;

export interface SyncTaskServiceDeps {
  store: Pick<Store, "getEndpoint">;
  orchestrator: Pick<Orchestrator, "acquireWorker">;
  pools: WorkerPools;
  secrets: SecretsBox;
  config: Pick<LaunchConfig, "resultsAsString">;
  /** Where `return_pickled` outputs are stored; without it such requests answer FAILURE. */
  artifacts?: ArtifactStore;
  /** The post-inference hook seam (see `AfterSyncTask`): `sync-callbacks.ts` records callbacks there. */
  afterSyncTask?: AfterSyncTask | undefined;
}

/**
 * The sync and streaming task use cases.
 *
 * @example
 * const sync = new SyncTaskService({ store, orchestrator, pools, secrets, config });
 * const json = await sync.predict(caller, "end_…", { args: { x: 2, y: "hello" } }, signal);
 */
export class SyncTaskService {
  readonly #deps: SyncTaskServiceDeps;

  constructor(deps: SyncTaskServiceDeps) {
    this.#deps = deps;
  }

  /** Forwards a sync task; resolves with the sync response as JSON text (HTTP 200, model errors included). */
  async predict(
    caller: Caller,
    endpointId: string,
    body: SyncPredictRequest,
    signal?: AbortSignal,
  ): Promise<string> {
    const endpoint = await taskEndpoint(this.#deps.store, caller, endpointId, "sync");
    const checked = checkPredictRequest(body);
    const request = this.#forward(endpoint, checked, body, signal);
    // Plain args may go straight to a runnable image's model server (see `worker-forward.ts`).
    if (checked.url === undefined && !checked.returnPickled) request.modelBody = JSON.stringify(checked.args);
    let response = await forwardPredict(request);
    if (checked.returnPickled) response = await this.#storePickled(caller, response);
    // Hooks get the model's own output (a callback body is the same whatever `results_as_string` says).
    this.#afterSyncTask(endpoint, caller, checked, response);
    return this.#deps.config.resultsAsString ? outputsAsStrings(response) : response;
  }

  /** Forwards a streaming task; resolves, once the worker answered, with the `text/event-stream` body. */
  async stream(
    caller: Caller,
    endpointId: string,
    body: SyncPredictRequest,
    signal?: AbortSignal,
  ): Promise<Readable> {
    const endpoint = await taskEndpoint(this.#deps.store, caller, endpointId, "streaming");
    const checked = checkPredictRequest(body);
    return forwardStream(this.#forward(endpoint, checked, body, signal));
  }

  #forward(
    endpoint: EndpointRecord,
    checked: CheckedPredictRequest,
    body: SyncPredictRequest,
    signal: AbortSignal | undefined,
  ): ForwardRequest {
    const { orchestrator, pools } = this.#deps;
    const request: ForwardRequest = {
      endpointId: endpoint.id,
      acquire: (timeoutMs, acquireSignal) =>
        orchestrator.acquireWorker(endpoint.id, timeoutMs, acquireSignal),
      pools,
      body: workerRequestBody(checked),
      timeoutMs: (body.timeout_seconds ?? SYNC_TIMEOUT_DEFAULT_SECONDS) * 1000,
      retries: body.num_retries ?? SYNC_RETRIES_DEFAULT,
    };
    if (signal) request.signal = signal;
    return request;
  }

  /**
   * The worker answers a pickled output as `{"result_pickle": <base64>}` (an internal shape); it is
   * stored like an async task's and the client gets `{"result_url": …}`.
   */
  async #storePickled(caller: Caller, response: string): Promise<string> {
    const parsed = JSON.parse(response) as {
      status?: string;
      result?: { result_pickle?: unknown };
      status_code?: number;
    };
    const pickle = parsed.status === "SUCCESS" ? parsed.result?.result_pickle : undefined;
    if (typeof pickle !== "string") return response;
    const { artifacts } = this.#deps;
    if (!artifacts) {
      const error = "return_pickled is not available: this server has no artifact store for results.";
      return JSON.stringify({ status: "FAILURE", result: null, traceback: error, status_code: null, error });
    }
    // The caller's team owns it (with public_inference, not necessarily the endpoint's).
    const resultUrl = await storePickledResult(artifacts, caller.teamId, newId("task"), pickle);
    return JSON.stringify({
      status: "SUCCESS",
      result: { result_url: resultUrl },
      traceback: null,
      status_code: parsed.status_code ?? 200,
    });
  }

  #afterSyncTask(
    endpoint: EndpointRecord,
    caller: Caller,
    checked: CheckedPredictRequest,
    response: string,
  ): void {
    const hook = this.#deps.afterSyncTask;
    if (!hook || !endpoint.spec.postInferenceHooks?.length) return;
    hook({ endpoint, caller, payload: taskPayload(checked, this.#deps.secrets), response });
  }
}

/** `results_as_string`: a SUCCESS answer's `result.result` as Python JSON text; everything else kept. */
export function outputsAsStrings(response: string): string {
  const parsed = JSON.parse(response) as { status?: unknown; result?: unknown };
  const result = parsed.result as Record<string, unknown> | null | undefined;
  if (parsed.status !== "SUCCESS" || typeof result !== "object" || result === null || !("result" in result)) {
    return response;
  }
  result.result = pythonJsonDumps(result.result);
  return JSON.stringify(parsed);
}
