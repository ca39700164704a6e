/**
 * The delivery log [ext] (`callbacks.md` §3): a task's deliveries with their attempts, an endpoint's
 * deliveries by status (dead letters are `failed`), and replays, one by one or every dead letter of an
 * endpoint.
 *
 * Who sees what (another team's anything is a 404, exactly like a missing one):
 * - a task's deliveries: the team that submitted the task;
 * - an endpoint's deliveries and its bulk replay: the endpoint's team (with `public_inference`, that
 *   includes deliveries of other teams' tasks, shown without their body);
 * - one delivery's replay: the team that owns the delivery or the endpoint's team.
 *
 * Views never carry credentials (only their kind). The body, the task's own result, is shown to the
 * delivery's team.
 */
import {
  CALLBACK_LIST_LIMIT_DEFAULT,
  type CallbackAttemptView,
  type CallbackDeliveryList,
  type CallbackDeliveryStatus,
  type CallbackDeliveryView,
  type CallbacksReplayed,
  LaunchError,
} from "@launch/protocol";
import type { AttemptRecord, CallbackOutbox, DeliveryRecord } from "../callbacks/port.js";
import type { TaskQueue } from "../queue/port.js";
import type { Store } from "../store/port.js";
import type { Caller } from "./endpoints.js";

export interface CallbackLogServiceDeps {
  outbox: CallbackOutbox;
  store: Pick<Store, "getEndpoint">;
  queue: Pick<TaskQueue, "get">;
  now: () => Date;
}

export interface EndpointDeliveriesQuery {
  status?: CallbackDeliveryStatus | undefined;
  limit?: number | undefined;
  before?: string | undefined;
}

/**
 * The delivery log use cases behind `/v1/async-tasks/{id}/callbacks`, `/v1/model-endpoints/{id}/callbacks`
 * and `/v1/callbacks/{id}/replay`.
 *
 * @example
 * const log = new CallbackLogService({ outbox, store, queue, now: () => new Date() });
 * const { callbacks } = await log.ofTask(caller, "tsk_…");
 */
export class CallbackLogService {
  readonly #deps: CallbackLogServiceDeps;

  constructor(deps: CallbackLogServiceDeps) {
    this.#deps = deps;
  }

  /** A task's deliveries (usually one), oldest first, with their attempts. */
  async ofTask(caller: Caller, taskId: string): Promise<CallbackDeliveryList> {
    const [task, deliveries] = await Promise.all([
      this.#deps.queue.get(taskId),
      this.#deps.outbox.listDeliveriesOfTask(taskId),
    ]);
    // The task may have been purged after the result retention while its deliveries remain.
    const owner = task?.owner ?? deliveries[0]?.owner;
    if (owner !== caller.teamId) {
      throw new LaunchError("not_found", `Task not found: ${taskId} (unknown, or another team's).`);
    }
    return { callbacks: await Promise.all(deliveries.map((d) => this.#view(d, caller))) };
  }

  /** An endpoint's deliveries, newest first, optionally of one status, with their attempts. */
  async ofEndpoint(
    caller: Caller,
    endpointId: string,
    query: EndpointDeliveriesQuery = {},
  ): Promise<CallbackDeliveryList> {
    await this.#ownedEndpoint(caller, endpointId);
    const deliveries = await this.#deps.outbox.listDeliveries({
      endpointId,
      status: query.status,
      limit: query.limit ?? CALLBACK_LIST_LIMIT_DEFAULT,
      before: query.before,
    });
    return { callbacks: await Promise.all(deliveries.map((d) => this.#view(d, caller))) };
  }

  /** One delivery with its attempts, for its team or the endpoint's team. */
  async one(caller: Caller, deliveryId: string): Promise<CallbackDeliveryView> {
    const found = await this.#deps.outbox.getDelivery(deliveryId);
    if (!found || !(await this.#mayReplay(caller, found))) throw deliveryNotFound(deliveryId);
    return this.#view(found, caller);
  }

  /**
   * Sends a delivery again (same `webhook-id`, same body), due now. A pending one is left as it is; a
   * skipped one (no URL) cannot be replayed (400).
   */
  async replay(caller: Caller, deliveryId: string): Promise<CallbackDeliveryView> {
    const { outbox } = this.#deps;
    const found = await outbox.getDelivery(deliveryId);
    if (!found || !(await this.#mayReplay(caller, found))) throw deliveryNotFound(deliveryId);
    const replayed = await outbox.replay(deliveryId, this.#deps.now().getTime());
    if (!replayed) throw deliveryNotFound(deliveryId);
    return this.#view(replayed, caller);
  }

  /** Replays every dead letter (`failed`) of an endpoint; answers how many. */
  async replayFailed(caller: Caller, endpointId: string): Promise<CallbacksReplayed> {
    await this.#ownedEndpoint(caller, endpointId);
    return { replayed: await this.#deps.outbox.replayFailed(endpointId, this.#deps.now().getTime()) };
  }

  async #mayReplay(caller: Caller, delivery: DeliveryRecord): Promise<boolean> {
    if (delivery.owner === caller.teamId) return true;
    const endpoint = await this.#deps.store.getEndpoint(delivery.endpointId);
    return endpoint?.owner === caller.teamId;
  }

  async #ownedEndpoint(caller: Caller, endpointId: string): Promise<void> {
    const endpoint = await this.#deps.store.getEndpoint(endpointId);
    if (!endpoint || endpoint.owner !== caller.teamId) {
      throw new LaunchError("not_found", `Model endpoint ${endpointId} was not found.`);
    }
  }

  async #view(delivery: DeliveryRecord, caller: Caller): Promise<CallbackDeliveryView> {
    const attempts = await this.#deps.outbox.listAttempts(delivery.id);
    return deliveryView(delivery, attempts, { showBody: delivery.owner === caller.teamId });
  }
}

/**
 * The wire view of a delivery and its attempts: ISO times, the credentials' kind only, and the body
 * (parsed) when `showBody`.
 *
 * @example deliveryView(record, attempts, { showBody: true }).auth_kind // "basic"
 */
export function deliveryView(
  delivery: DeliveryRecord,
  attempts: readonly AttemptRecord[],
  options: { showBody: boolean },
): CallbackDeliveryView {
  return {
    id: delivery.id,
    task_id: delivery.taskId,
    endpoint_id: delivery.endpointId,
    event: delivery.event,
    url: delivery.url,
    auth_kind: delivery.auth?.kind ?? null,
    status: delivery.status,
    attempts: attempts.map(attemptView),
    next_attempt_at: iso(delivery.nextAttemptAt),
    last_error: delivery.lastError,
    last_status_code: delivery.lastStatusCode,
    created_at: new Date(delivery.createdAt).toISOString(),
    delivered_at: iso(delivery.deliveredAt),
    body: options.showBody ? parseBody(delivery.body) : null,
  };
}

/** The wire view of one attempt. */
export function attemptView(attempt: AttemptRecord): CallbackAttemptView {
  return {
    n: attempt.n,
    started_at: new Date(attempt.startedAt).toISOString(),
    url: attempt.url,
    status_code: attempt.statusCode,
    error_class: attempt.errorClass,
    error_message: attempt.errorMessage,
    latency_ms: attempt.latencyMs,
    outcome: attempt.outcome,
    next_attempt_at: iso(attempt.nextAttemptAt),
  };
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

/** The stored body is the exact JSON text sent; shown as JSON (as text if it somehow is not). */
function parseBody(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return body;
  }
}

function deliveryNotFound(deliveryId: string): LaunchError {
  return new LaunchError("not_found", `Callback delivery ${deliveryId} was not found.`);
}
