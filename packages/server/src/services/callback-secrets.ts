/**
 * Callback signing secrets [ext]: every endpoint has a `whsec_…` secret that signs its callbacks
 * (Standard Webhooks `webhook-signature`, `callbacks.md` §3). It is made at create, sealed by the secrets
 * box inside the endpoint's spec, readable and rotatable by the endpoint's team only
 * (`/v1/model-endpoints/{id}/callback-secret`: the one place a secret is returned, to its owner, on
 * purpose), and never shown in an endpoint view or a log line.
 *
 * A rotation makes a new current secret; the old one becomes `previous` and keeps signing for
 * `callbackSecretGraceSeconds`, so receivers can switch without rejecting a callback. Only one previous
 * secret is kept: rotating twice within the grace drops the oldest at once.
 *
 * Endpoints created before signing existed get a secret on the first read of it (by the owner or by the
 * dispatcher), written through to the store.
 */
import { type CallbackSecret, generateWebhookSecret, LaunchError } from "@launch/protocol";
import type { SigningKeys } from "../callbacks/sender.js";
import type { LaunchConfig } from "../config/schema.js";
import type { SecretsBox } from "../domain/secrets-box.js";
import type { EndpointRecord, Store, StoredCallbackSecret } from "../store/port.js";
import type { Caller } from "./endpoints.js";

/** A fresh sealed secret (`whsec_…`, from `@launch/protocol`'s `generateWebhookSecret`) for a new endpoint. */
export function newCallbackSecret(box: SecretsBox): StoredCallbackSecret {
  return { current: box.seal(generateWebhookSecret()), previous: null, previousExpiresAt: null };
}

export interface CallbackSecretServiceDeps {
  store: Pick<Store, "getEndpoint" | "updateEndpoint">;
  secrets: SecretsBox;
  config: Pick<LaunchConfig, "callbackSecretGraceSeconds">;
  now: () => Date;
  /** How long `secretsFor` may reuse what it read of an endpoint (ms; default 1000, 0: always read). */
  cacheMs?: number | undefined;
}

/** How often a write re-reads and retries after losing a race with another write to the same endpoint. */
const WRITE_ATTEMPTS = 5;

interface CacheEntry {
  stored: StoredCallbackSecret;
  current: string;
  previous: string | null;
  readAt: number;
}

/**
 * Reads, rotates and serves endpoints' signing secrets.
 *
 * @example
 * const secrets = new CallbackSecretService({ store, secrets: box, config, now: () => new Date() });
 * const { secret } = await secrets.read(caller, "end_…");
 * await secrets.secretsFor("end_…"); // ["whsec_…"] (and the previous one during a rotation's grace)
 */
export class CallbackSecretService implements SigningKeys {
  readonly #deps: CallbackSecretServiceDeps;
  readonly #cache = new Map<string, CacheEntry>();

  constructor(deps: CallbackSecretServiceDeps) {
    this.#deps = deps;
  }

  /** The endpoint's current secret, for its team (another team's endpoint is a 404). */
  async read(caller: Caller, endpointId: string): Promise<CallbackSecret> {
    const record = await this.#owned(caller, endpointId);
    return this.#view(await this.#ensure(record));
  }

  /** Makes a new current secret; the old one signs too until the grace ends. Answers the new secret. */
  async rotate(caller: Caller, endpointId: string): Promise<CallbackSecret> {
    const { store, secrets, config } = this.#deps;
    for (let attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
      const record = await this.#owned(caller, endpointId);
      const was = record.spec.callbackSecret;
      const next: StoredCallbackSecret = {
        current: secrets.seal(generateWebhookSecret()),
        previous: was?.current ?? null,
        previousExpiresAt: was
          ? new Date(this.#now() + config.callbackSecretGraceSeconds * 1000).toISOString()
          : null,
      };
      const updated = await store.updateEndpoint(
        endpointId,
        record.version,
        { spec: { ...record.spec, callbackSecret: next } },
        // The secret is not part of the endpoint's view: `last_updated_at` keeps meaning "last edit".
        record.lastUpdatedAt,
      );
      if (updated) {
        this.#cache.delete(endpointId);
        return this.#view(next);
      }
    }
    throw busy(endpointId);
  }

  /**
   * The secrets that sign the endpoint's callbacks now (the dispatcher's `SigningKeys`): current first,
   * then the previous one while its grace lasts; `[]` for an endpoint that no longer exists. What it read
   * is reused for `cacheMs`; a rotation through this instance is seen at once.
   */
  async secretsFor(endpointId: string): Promise<string[]> {
    const now = this.#now();
    let entry = this.#cache.get(endpointId);
    if (!entry || now - entry.readAt >= (this.#deps.cacheMs ?? 1000) || now < entry.readAt) {
      const record = await this.#deps.store.getEndpoint(endpointId);
      if (!record) {
        this.#cache.delete(endpointId);
        return [];
      }
      const stored = await this.#ensure(record);
      entry = this.#open(stored, entry, now);
      this.#cache.set(endpointId, entry);
    }
    return inGrace(entry.stored, now) && entry.previous !== null
      ? [entry.current, entry.previous]
      : [entry.current];
  }

  /** The record's secret, made and written through first when it has none. */
  async #ensure(first: EndpointRecord): Promise<StoredCallbackSecret> {
    let record: EndpointRecord | undefined = first;
    for (let attempt = 0; attempt < WRITE_ATTEMPTS && record; attempt++) {
      if (record.spec.callbackSecret) return record.spec.callbackSecret;
      const made = newCallbackSecret(this.#deps.secrets);
      const updated = await this.#deps.store.updateEndpoint(
        record.id,
        record.version,
        { spec: { ...record.spec, callbackSecret: made } },
        record.lastUpdatedAt,
      );
      if (updated) return made;
      // Someone wrote in between (maybe another first read that made one): read again.
      record = await this.#deps.store.getEndpoint(first.id);
    }
    if (!record) throw notFound(first.id);
    throw busy(first.id);
  }

  /** Opens the sealed secrets, reusing what the last entry opened when the sealed text is the same. */
  #open(stored: StoredCallbackSecret, last: CacheEntry | undefined, now: number): CacheEntry {
    const box = this.#deps.secrets;
    const current = last?.stored.current === stored.current ? last.current : box.open(stored.current);
    let previous: string | null = null;
    if (stored.previous !== null) {
      if (last?.stored.previous === stored.previous) previous = last.previous;
      else if (last?.stored.current === stored.previous) previous = last.current;
      else previous = box.open(stored.previous);
    }
    return { stored, current, previous, readAt: now };
  }

  #view(stored: StoredCallbackSecret): CallbackSecret {
    const now = this.#now();
    return {
      secret: this.#deps.secrets.open(stored.current),
      previous_secret_expires_at: inGrace(stored, now) ? stored.previousExpiresAt : null,
    };
  }

  async #owned(caller: Caller, endpointId: string): Promise<EndpointRecord> {
    const record = await this.#deps.store.getEndpoint(endpointId);
    if (!record || record.owner !== caller.teamId) throw notFound(endpointId);
    return record;
  }

  #now(): number {
    return this.#deps.now().getTime();
  }
}

/** Whether the previous secret still signs at `now`. */
function inGrace(stored: StoredCallbackSecret, now: number): boolean {
  return (
    stored.previous !== null &&
    stored.previousExpiresAt !== null &&
    Date.parse(stored.previousExpiresAt) > now
  );
}

function notFound(endpointId: string): LaunchError {
  return new LaunchError("not_found", `Model endpoint ${endpointId} was not found.`);
}

function busy(endpointId: string): LaunchError {
  return new LaunchError(
    "conflict",
    `Model endpoint ${endpointId} is being changed by other requests at the same moment; try again.`,
  );
}
