/**
 * Model endpoints: create, list, get, update (patch), delete and restart, for the caller's team.
 *
 * Every write validates the whole request first (`endpoint-validation.ts`), seals callback credentials
 * with the secrets box (and, at create, a new callback signing secret: `callback-secrets.ts`), records
 * the desired state in the store with its new status from the state machine
 * (`domain/endpoint-status.ts`), and only then tells the orchestrator. Nothing is written when a
 * request is rejected. Another team's endpoint is not found, exactly like a missing one.
 *
 * `endpoint_creation_task_id`: the reference returns the id of an internal build task; we return the
 * endpoint's own id (`end_…`), so a client can poll `GET /v1/model-endpoints/{id}` for its status.
 */
import {
  type EndpointCreated,
  type EndpointOrderBy,
  type Endpoint as EndpointView,
  isLaunchError,
  LaunchError,
  newId,
  REFERENCE_MESSAGES,
} from "@launch/protocol";
import { transition } from "../domain/endpoint-status.js";
import type { SecretsBox } from "../domain/secrets-box.js";
import type { Orchestrator, WorkerLogLine } from "../orchestration/port.js";
import type { TaskQueue } from "../queue/port.js";
import type { BundleRecord, EndpointChanges, EndpointRecord, Store } from "../store/port.js";
import { sealCallbackAuth } from "./callback-auth.js";
import { newCallbackSecret } from "./callback-secrets.js";
import { checkCreateRequest, checkUpdateRequest } from "./endpoint-validation.js";
import { endpointView } from "./endpoint-view.js";

export interface EndpointServiceDeps {
  store: Store;
  secrets: SecretsBox;
  orchestrator: Orchestrator;
  /** For `num_queued_items` (the queue keeps its counts in memory, so this costs nothing). */
  queue: Pick<TaskQueue, "counts">;
  now: () => Date;
}

/** Who is asking: everything they create is owned by their team. */
export interface Caller {
  userId: string;
  teamId: string;
}

export interface ListEndpointsQuery {
  /** Exact name. */
  name?: string | undefined;
  /** Default `oldest` (creation order), like the bundle lists. */
  orderBy?: EndpointOrderBy | undefined;
}

/** How often a write re-reads and retries after losing a race with another write to the same endpoint. */
const WRITE_ATTEMPTS = 5;

/**
 * The endpoint use cases behind `/v1/model-endpoints`.
 *
 * @example
 * const endpoints = new EndpointService({ store, secrets, orchestrator, queue, now: () => new Date() });
 * const { endpoint_creation_task_id } = await endpoints.create({ userId: "u", teamId: "t" }, body);
 */
export class EndpointService {
  readonly #deps: EndpointServiceDeps;

  constructor(deps: EndpointServiceDeps) {
    this.#deps = deps;
  }

  /** Creates an endpoint (status `UPDATE_PENDING`, then whatever the orchestrator makes of it). */
  async create(caller: Caller, body: Record<string, unknown>): Promise<EndpointCreated> {
    const { store, secrets, orchestrator } = this.#deps;
    const checked = checkCreateRequest(body);
    await this.#ownedBundle(caller, checked.spec.modelBundleId);
    if (await store.findEndpointByName(caller.teamId, checked.name)) throw endpointExists();
    const at = this.#now();
    const { status, statusReason } = transition(null, { type: "created" });
    const record: EndpointRecord = {
      id: newId("endpoint"),
      owner: caller.teamId,
      createdBy: caller.userId,
      name: checked.name,
      endpointType: checked.endpointType,
      status,
      statusReason,
      spec: {
        ...checked.spec,
        defaultCallbackAuth: checked.auth === null ? null : sealCallbackAuth(checked.auth, secrets),
        callbackSecret: newCallbackSecret(secrets),
      },
      version: 1,
      createdAt: at,
      lastUpdatedAt: at,
    };
    try {
      await store.insertEndpoint(record);
    } catch (error) {
      // Two creates of one name at the same moment: the store's unique index decides.
      if (isLaunchError(error) && error.code === "already_exists") throw endpointExists();
      throw error;
    }
    await orchestrator.reconcile(record.id, "created");
    return { endpoint_creation_task_id: record.id };
  }

  /** The caller's endpoints, filtered by exact `name`, oldest first unless `orderBy` says otherwise. */
  async list(caller: Caller, query: ListEndpointsQuery = {}): Promise<{ model_endpoints: EndpointView[] }> {
    const records = await this.#deps.store.listEndpoints({
      owner: caller.teamId,
      name: query.name,
      orderBy: query.orderBy ?? "oldest",
    });
    const bundles = new Map<string, Promise<BundleRecord | undefined>>();
    const model_endpoints = await Promise.all(records.map((record) => this.#view(record, bundles)));
    return { model_endpoints };
  }

  /** One endpoint of the caller's team, or 404. */
  async get(caller: Caller, endpointId: string): Promise<EndpointView> {
    return this.#view(await this.#owned(caller, endpointId));
  }

  /**
   * Patches an endpoint: absent or null fields keep their value, `labels` merge, other given fields
   * (hooks, callback URL, callback credentials, metadata...) replace. The endpoint goes back to
   * `UPDATE_PENDING`; editing one that is being deleted is a 409.
   */
  async update(caller: Caller, endpointId: string, body: Record<string, unknown>): Promise<EndpointCreated> {
    const { secrets, orchestrator } = this.#deps;
    await this.#write(caller, endpointId, async (current) => {
      const checked = checkUpdateRequest(body, current);
      if (checked.spec.modelBundleId !== current.spec.modelBundleId) {
        await this.#ownedBundle(caller, checked.spec.modelBundleId);
      }
      const next = transition(current.status, { type: "edited" });
      return {
        ...next,
        spec: {
          ...checked.spec,
          defaultCallbackAuth:
            checked.auth === undefined
              ? current.spec.defaultCallbackAuth
              : sealCallbackAuth(checked.auth, secrets),
          // The signing secret is kept by edits; only a rotation changes it.
          ...(current.spec.callbackSecret ? { callbackSecret: current.spec.callbackSecret } : {}),
        },
      };
    });
    await orchestrator.reconcile(endpointId, "edited");
    return { endpoint_creation_task_id: endpointId };
  }

  /** Marks the endpoint `DELETE_IN_PROGRESS`, then has the orchestrator stop its workers and remove it. */
  async delete(caller: Caller, endpointId: string): Promise<{ deleted: true }> {
    await this.#write(caller, endpointId, async (current) =>
      transition(current.status, { type: "delete_requested" }),
    );
    await this.#deps.orchestrator.remove(endpointId);
    return { deleted: true };
  }

  /** The most recent `tail` lines of the endpoint's worker output, oldest first [ext]. */
  async logs(caller: Caller, endpointId: string, tail: number): Promise<{ logs: WorkerLogLine[] }> {
    await this.#owned(caller, endpointId);
    return { logs: await this.#deps.orchestrator.logs(endpointId, tail) };
  }

  /** Replaces the endpoint's workers with the same spec; the endpoint goes through `UPDATE_PENDING` again. */
  async restart(caller: Caller, endpointId: string): Promise<{ restarted: true }> {
    await this.#write(caller, endpointId, async (current) => transition(current.status, { type: "restart" }));
    await this.#deps.orchestrator.reconcile(endpointId, "restarted");
    return { restarted: true };
  }

  #now(): string {
    return this.#deps.now().toISOString();
  }

  async #owned(caller: Caller, endpointId: string): Promise<EndpointRecord> {
    const record = await this.#deps.store.getEndpoint(endpointId);
    if (!record || record.owner !== caller.teamId) {
      throw new LaunchError("not_found", `Model endpoint ${endpointId} was not found.`);
    }
    return record;
  }

  async #ownedBundle(caller: Caller, bundleId: string): Promise<BundleRecord> {
    const bundle = await this.#deps.store.getBundle(bundleId);
    if (!bundle || bundle.owner !== caller.teamId) {
      throw new LaunchError("not_found", `Model bundle ${bundleId} was not found.`);
    }
    return bundle;
  }

  /**
   * Reads the endpoint, computes the changes from it, and writes them if nobody wrote in between;
   * otherwise reads again (at most `WRITE_ATTEMPTS` times).
   */
  async #write(
    caller: Caller,
    endpointId: string,
    change: (current: EndpointRecord) => Promise<EndpointChanges>,
  ): Promise<EndpointRecord> {
    for (let attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
      const current = await this.#owned(caller, endpointId);
      const changes = await change(current);
      const updated = await this.#deps.store.updateEndpoint(
        endpointId,
        current.version,
        changes,
        this.#now(),
      );
      if (updated) return updated;
    }
    throw new LaunchError(
      "conflict",
      `Model endpoint ${endpointId} is being changed by other requests at the same moment; try again.`,
    );
  }

  async #view(
    record: EndpointRecord,
    bundles: Map<string, Promise<BundleRecord | undefined>> = new Map(),
  ): Promise<EndpointView> {
    const bundleId = record.spec.modelBundleId;
    let bundle = bundles.get(bundleId);
    if (!bundle) {
      bundle = this.#deps.store.getBundle(bundleId);
      bundles.set(bundleId, bundle);
    }
    const [found, workers, depth] = await Promise.all([
      bundle,
      this.#deps.orchestrator.workerCounts(record.id),
      this.#deps.queue.counts(record.id),
    ]);
    return endpointView(record, {
      // Bundles are never deleted; an empty name would only show a store that lost one.
      bundleName: found?.name ?? "",
      workers,
      queuedItems: depth.queued,
    });
  }
}

function endpointExists(): LaunchError {
  return new LaunchError("already_exists", REFERENCE_MESSAGES.endpointExists);
}
