/**
 * The store port: durable records of keys, bundles and endpoints, in domain terms. Services import this
 * file, never an adapter; the composition root (`compose.ts`) picks the adapter from configuration.
 *
 * Adapters: `store/sqlite/` (embedded default) and `store/postgres/` (scale-out); both run the behaviour
 * suite in `store/store.suite.ts`.
 *
 * All times are ISO 8601 strings in UTC with milliseconds (`2026-11-29T14:13:30.123Z`), which sort as text.
 */
import type {
  BundleFlavor,
  CallbackEvent,
  EndpointOrderBy,
  EndpointStatus,
  EndpointType,
  Quantity,
} from "@launch/protocol";

/** What an adapter can do; core code asks for capabilities, never for the adapter's kind. */
export interface StoreCapabilities {
  /** Several processes (gateways on other hosts) may use this store at once. */
  readonly multiProcess: boolean;
}

export type KeyRole = "admin" | "user";

export interface KeyRecord {
  id: string;
  /** SHA-256 of the key, hex. The key itself is never stored. */
  hash: string;
  /** The first characters of the key, for people to recognise it in `launch keys list`. */
  prefix: string;
  userId: string;
  teamId: string;
  role: KeyRole;
  createdAt: string;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

export interface BundleRecord {
  id: string;
  owner: string;
  createdBy: string;
  name: string;
  createdAt: string;
  /** 1 when created through the v1 routes; their v1 fields are kept in `v1` for an exact echo. */
  apiVersion: 1 | 2;
  flavor: BundleFlavor;
  metadata: Record<string, unknown>;
  schemaLocation: string | null;
  modelArtifactIds: string[];
  /** The v1 body as created (location, requirements, env_params, packaging_type, app_config), for v1 bundles. */
  v1: Record<string, unknown> | null;
}

/**
 * Callback credentials as stored: the kind and basic username in clear (they are shown to the owner),
 * the secret part sealed by the secrets box (AES-GCM). Never rendered in a response or a log line.
 */
export type StoredCallbackAuth =
  | { kind: "basic"; username: string; sealed: string }
  | { kind: "mtls"; sealed: string };

/**
 * An endpoint's callback signing secrets (`whsec_…`), sealed by the secrets box. After a rotation the
 * previous secret keeps signing until `previousExpiresAt`, so receivers can switch without losing
 * callbacks. Never rendered in an endpoint view or a log line.
 */
export interface StoredCallbackSecret {
  current: string;
  previous: string | null;
  /** ISO time after which `previous` no longer signs; null when there is no previous secret. */
  previousExpiresAt: string | null;
}

/** Everything about an endpoint that its owner sets with create or edit. */
export interface EndpointSpec {
  modelBundleId: string;
  metadata: Record<string, unknown>;
  cpus: Quantity;
  gpus: number;
  memory: Quantity;
  /** Null when the create gave none (the Python client's default). */
  storage: Quantity | null;
  gpuType: string | null;
  minWorkers: number;
  maxWorkers: number;
  perWorker: number;
  concurrentRequestsPerWorker: number | null;
  labels: Record<string, string>;
  postInferenceHooks: string[] | null;
  defaultCallbackUrl: string | null;
  defaultCallbackAuth: StoredCallbackAuth | null;
  callbackEvents: CallbackEvent[] | null;
  publicInference: boolean;
  highPriority: boolean | null;
  prewarm: boolean | null;
  billingTags: Record<string, unknown> | null;
  optimizeCosts: boolean | null;
  forwarderMaxConcurrency: number | null;
  taskExpiresSeconds: number | null;
  queueMessageTimeoutSeconds: number | null;
  nodesPerWorker: number;
  /**
   * The signing secrets of its callbacks, set at create (endpoints created before signing existed get
   * one on first read of it). Kept by edits; changed only by a rotation.
   */
  callbackSecret?: StoredCallbackSecret | null | undefined;
}

export interface EndpointRecord {
  id: string;
  owner: string;
  createdBy: string;
  name: string;
  endpointType: EndpointType;
  status: EndpointStatus;
  statusReason: string | null;
  spec: EndpointSpec;
  /** Goes up by one on every write; writes that name an older version fail (optimistic concurrency). */
  version: number;
  createdAt: string;
  lastUpdatedAt: string;
}

export interface EndpointListQuery {
  owner: string;
  name?: string | undefined;
  orderBy?: EndpointOrderBy | undefined;
}

export interface BundleListQuery {
  owner: string;
  name?: string | undefined;
  orderBy?: "newest" | "oldest" | undefined;
}

/** The fields of an endpoint a write may change. */
export type EndpointChanges = Partial<Pick<EndpointRecord, "status" | "statusReason" | "spec">>;

/**
 * Carries "this endpoint changed" between the processes that share a store (the coordination port's
 * Redis adapter), so that each may cache endpoints. `null` means "anything may have changed" (the
 * channel was interrupted): drop everything.
 */
export interface EndpointChangeBus {
  publish(endpointId: string): void;
  subscribe(listener: (endpointId: string | null) => void): void;
}

export interface Store {
  readonly capabilities: StoreCapabilities;
  /** Opens connections and applies pending migrations (under a lock where the engine has one). */
  /**
   * A store shared by several processes caches no endpoint by default (another process may change it).
   * Given a bus, it caches them, publishes its own endpoint writes and drops what others publish; a
   * cached endpoint is also dropped after a few seconds whatever happens, so a lost message cannot keep
   * it stale for long. Optional: adapters that are one process's only do not need it.
   */
  shareEndpointChanges?(bus: EndpointChangeBus): void;
  ready(): Promise<void>;
  close(): Promise<void>;

  insertKey(key: KeyRecord): Promise<void>;
  /** The key with this hash, revoked or not. */
  findKeyByHash(hash: string): Promise<KeyRecord | undefined>;
  /** Every key, revoked or not, oldest first. */
  listKeys(): Promise<KeyRecord[]>;
  /**
   * Marks the key revoked (a key revoked earlier keeps its first `revokedAt`); false when no key has that
   * id or displayed prefix. Throws `bad_request` when the prefix matches several keys (revoke by id then).
   */
  revokeKey(idOrPrefix: string, at: string): Promise<boolean>;
  /** Records use at most once a minute per key (callers may call on every request). */
  touchKey(id: string, at: string): Promise<void>;

  insertBundle(bundle: BundleRecord): Promise<void>;
  getBundle(id: string): Promise<BundleRecord | undefined>;
  /** The newest bundle of that name owned by `owner`. */
  latestBundle(owner: string, name: string): Promise<BundleRecord | undefined>;
  /** The owner's bundles, filtered by exact name when given; `newest` first unless `orderBy: "oldest"`. */
  listBundles(query: BundleListQuery): Promise<BundleRecord[]>;
  /** Every bundle of every owner, oldest first (for copying a store: `store/copy.ts`). */
  listAllBundles(): Promise<BundleRecord[]>;

  /** Inserts; throws `already_exists` LaunchError when the owner has an endpoint of that name. */
  insertEndpoint(endpoint: EndpointRecord): Promise<void>;
  getEndpoint(id: string): Promise<EndpointRecord | undefined>;
  findEndpointByName(owner: string, name: string): Promise<EndpointRecord | undefined>;
  /** The owner's endpoints, filtered by exact name when given; `newest` first unless `orderBy` says otherwise. */
  listEndpoints(query: EndpointListQuery): Promise<EndpointRecord[]>;
  /** Every endpoint of every owner, oldest first (for the controller). */
  listAllEndpoints(): Promise<EndpointRecord[]>;
  /**
   * Applies `changes` when the stored version is `expectedVersion`; returns the new record, or undefined
   * when the endpoint is gone or was changed by someone else (the caller re-reads and decides).
   */
  updateEndpoint(
    id: string,
    expectedVersion: number,
    changes: EndpointChanges,
    at: string,
  ): Promise<EndpointRecord | undefined>;
  /** Removes the record; false when it was not there. */
  deleteEndpoint(id: string): Promise<boolean>;
}
