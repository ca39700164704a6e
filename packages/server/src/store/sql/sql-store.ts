/**
 * The store on SQL, through Kysely. Dialect-neutral: an adapter (SQLite, PostgreSQL) hands
 * in a `Kysely<Database>`, its migrations and its migration lock, and reuses every query here
 * unchanged. Queries stay portable: no engine-specific functions, JSON as TEXT parsed in `rows.ts`,
 * times as ISO text compared as text.
 *
 * Read caches (rows, so every read still builds a fresh record):
 * - bundles are immutable once inserted: `getBundle` keeps up to `cache.bundles` of them;
 * - endpoints are kept (`getEndpoint`, up to `cache.endpoints`) when this process is the store's single
 *   writer (`capabilities.multiProcess === false`), or when several processes share endpoint changes
 *   through a bus (`shareEndpointChanges`; kept at most `SHARED_ENDPOINT_MAX_AGE_MS` then); every write
 *   here goes through the cache (an
 *   update or delete is visible to the next read at once). With several processes, every read goes to SQL.
 * - keys are never cached: `launch keys revoke` writes from another process and must take effect at once.
 */
import { LaunchError, REFERENCE_MESSAGES } from "@launch/protocol";
import type { Kysely, Updateable } from "kysely";
import { type LockedTransaction, type MigrateResult, type Migration, migrate } from "../migrate.js";
import type {
  BundleListQuery,
  BundleRecord,
  EndpointChangeBus,
  EndpointChanges,
  EndpointListQuery,
  EndpointRecord,
  KeyRecord,
  Store,
  StoreCapabilities,
} from "../port.js";
import { isUniqueViolation } from "./errors.js";
import { RowCache } from "./row-cache.js";
import { bundleFromRow, bundleToRow, endpointFromRow, endpointToRow, keyFromRow, keyToRow } from "./rows.js";
import { type BundlesTable, type Database, ENDPOINT_NAME_INDEX, type EndpointsTable } from "./tables.js";

/** `touchKey` writes at most once per this many milliseconds per key. */
export const TOUCH_INTERVAL_MS = 60_000;

/** With several processes, cached endpoints are all dropped this often, whatever the bus says. */
export const SHARED_ENDPOINT_MAX_AGE_MS = 5_000;

/** Default bounds of the read caches. */
export const DEFAULT_CACHE = Object.freeze({ bundles: 1_024, endpoints: 4_096 });

export interface SqlStoreOptions {
  db: Kysely<Database>;
  capabilities: StoreCapabilities;
  migrations: readonly Migration[];
  inLockedTransaction: LockedTransaction<Database>;
  /** Names the database in operator messages (a file path; never a URL carrying a password). */
  label?: string | undefined;
  /** Most rows each read cache keeps (0 turns that cache off). Default `DEFAULT_CACHE`. */
  cache?: { bundles?: number; endpoints?: number } | undefined;
}

/**
 * `Store` on any Kysely dialect. `ready()` applies pending migrations (once; later calls wait for the
 * same run); `close()` destroys the Kysely instance and may be called more than once.
 *
 * @example const store = new SqlStore({ db, capabilities, migrations, inLockedTransaction }); await store.ready();
 */
export class SqlStore implements Store {
  readonly capabilities: StoreCapabilities;
  /** The Kysely instance, for adapters and the behaviour suite; services use the `Store` methods. */
  readonly db: Kysely<Database>;
  readonly #options: SqlStoreOptions;
  #ready: Promise<MigrateResult> | undefined;
  #migration: MigrateResult | undefined;
  #closed = false;
  readonly #bundleRows: RowCache<BundlesTable> | undefined;
  /** Only when this process is the single writer (see the file comment). */
  #endpointRows: RowCache<EndpointsTable> | undefined;
  /** With several processes: how endpoint changes reach the others (`shareEndpointChanges`). */
  #endpointBus: EndpointChangeBus | undefined;
  #endpointExpiry: NodeJS.Timeout | undefined;
  /** Goes up before every endpoint write: a read that overlapped a write does not fill the cache. */
  #endpointWrites = 0;

  constructor(options: SqlStoreOptions) {
    this.#options = options;
    this.db = options.db;
    this.capabilities = Object.freeze({ ...options.capabilities });
    const bundles = options.cache?.bundles ?? DEFAULT_CACHE.bundles;
    const endpoints = options.cache?.endpoints ?? DEFAULT_CACHE.endpoints;
    if (bundles > 0) this.#bundleRows = new RowCache(bundles);
    if (endpoints > 0 && !this.capabilities.multiProcess) this.#endpointRows = new RowCache(endpoints);
  }

  /** What the last `ready()` did: the migrations it applied and the resulting schema version. */
  get migration(): MigrateResult | undefined {
    return this.#migration;
  }

  async ready(): Promise<void> {
    if (this.#closed) throw new Error("The store is closed");
    this.#ready ??= migrate({
      migrations: this.#options.migrations,
      inLockedTransaction: this.#options.inLockedTransaction,
      label: this.#options.label,
    }).then(
      (result) => {
        this.#migration = result;
        return result;
      },
      (error: unknown) => {
        this.#ready = undefined;
        throw error;
      },
    );
    await this.#ready;
  }

  shareEndpointChanges(bus: EndpointChangeBus): void {
    if (!this.capabilities.multiProcess || this.#endpointBus) return;
    const max = this.#options.cache?.endpoints ?? DEFAULT_CACHE.endpoints;
    if (max <= 0) return;
    const cache = new RowCache<EndpointsTable>(max);
    // Each drop counts as a write, so a read that overlapped it does not put the old row back.
    bus.subscribe((id) => {
      this.#endpointWrites++;
      if (id === null) cache.clear();
      else cache.delete(id);
    });
    this.#endpointExpiry = setInterval(() => {
      this.#endpointWrites++;
      cache.clear();
    }, SHARED_ENDPOINT_MAX_AGE_MS);
    this.#endpointExpiry.unref();
    this.#endpointBus = bus;
    this.#endpointRows = cache;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#endpointExpiry);
    this.#bundleRows?.clear();
    this.#endpointRows?.clear();
    await this.db.destroy();
  }

  async insertKey(key: KeyRecord): Promise<void> {
    await this.db.insertInto("api_keys").values(keyToRow(key)).execute();
  }

  async findKeyByHash(hash: string): Promise<KeyRecord | undefined> {
    const row = await this.db.selectFrom("api_keys").selectAll().where("hash", "=", hash).executeTakeFirst();
    return row && keyFromRow(row);
  }

  async listKeys(): Promise<KeyRecord[]> {
    const rows = await this.db
      .selectFrom("api_keys")
      .selectAll()
      .orderBy("created_at")
      .orderBy("id")
      .execute();
    return rows.map(keyFromRow);
  }

  /**
   * Revokes the key whose id is `idOrPrefix`, else the one key whose displayed prefix is `idOrPrefix`.
   * A key revoked earlier keeps its first `revokedAt` (and this returns true). Throws `bad_request`
   * when the prefix matches several keys, naming the way out (revoke by id).
   */
  async revokeKey(idOrPrefix: string, at: string): Promise<boolean> {
    let ids = await this.db.selectFrom("api_keys").select("id").where("id", "=", idOrPrefix).execute();
    if (ids.length === 0) {
      ids = await this.db.selectFrom("api_keys").select("id").where("prefix", "=", idOrPrefix).execute();
    }
    if (ids.length > 1) {
      throw new LaunchError(
        "bad_request",
        `Key prefix ${idOrPrefix} matches ${ids.length} keys; revoke by key id instead (see the ids in the key list).`,
      );
    }
    const id = ids[0]?.id;
    if (id === undefined) return false;
    await this.db
      .updateTable("api_keys")
      .set({ revoked_at: at })
      .where("id", "=", id)
      .where("revoked_at", "is", null)
      .execute();
    return true;
  }

  async touchKey(id: string, at: string): Promise<void> {
    const threshold = new Date(Date.parse(at) - TOUCH_INTERVAL_MS).toISOString();
    await this.db
      .updateTable("api_keys")
      .set({ last_used_at: at })
      .where("id", "=", id)
      .where((eb) => eb.or([eb("last_used_at", "is", null), eb("last_used_at", "<=", threshold)]))
      .execute();
  }

  async insertBundle(bundle: BundleRecord): Promise<void> {
    await this.db.insertInto("bundles").values(bundleToRow(bundle)).execute();
  }

  async getBundle(id: string): Promise<BundleRecord | undefined> {
    const cached = this.#bundleRows?.get(id);
    if (cached) return bundleFromRow(cached);
    const row = await this.db.selectFrom("bundles").selectAll().where("id", "=", id).executeTakeFirst();
    if (!row) return undefined;
    this.#bundleRows?.set(id, row);
    return bundleFromRow(row);
  }

  async latestBundle(owner: string, name: string): Promise<BundleRecord | undefined> {
    const row = await this.db
      .selectFrom("bundles")
      .selectAll()
      .where("owner", "=", owner)
      .where("name", "=", name)
      .orderBy("created_at", "desc")
      .orderBy("id", "desc")
      .limit(1)
      .executeTakeFirst();
    return row && bundleFromRow(row);
  }

  /** The owner's bundles, filtered by exact `name` when given; newest first unless `orderBy: "oldest"`. */
  async listBundles(query: BundleListQuery): Promise<BundleRecord[]> {
    const direction = query.orderBy === "oldest" ? "asc" : "desc";
    let select = this.db.selectFrom("bundles").selectAll().where("owner", "=", query.owner);
    if (query.name !== undefined) select = select.where("name", "=", query.name);
    const rows = await select.orderBy("created_at", direction).orderBy("id", direction).execute();
    return rows.map(bundleFromRow);
  }

  /** Every bundle of every owner, oldest first. */
  async listAllBundles(): Promise<BundleRecord[]> {
    const rows = await this.db
      .selectFrom("bundles")
      .selectAll()
      .orderBy("created_at")
      .orderBy("id")
      .execute();
    return rows.map(bundleFromRow);
  }

  async insertEndpoint(endpoint: EndpointRecord): Promise<void> {
    const row = endpointToRow(endpoint);
    const write = ++this.#endpointWrites;
    try {
      await this.db.insertInto("endpoints").values(row).execute();
      this.#written(write, row.id, row);
    } catch (error) {
      if (isUniqueViolation(error, ENDPOINT_NAME_INDEX, "endpoints", ["owner", "name"])) {
        throw new LaunchError("already_exists", REFERENCE_MESSAGES.endpointExists, { cause: error });
      }
      throw error;
    }
  }

  async getEndpoint(id: string): Promise<EndpointRecord | undefined> {
    const cache = this.#endpointRows;
    const cached = cache?.get(id);
    if (cached) return endpointFromRow(cached);
    const writes = this.#endpointWrites;
    const row = await this.db.selectFrom("endpoints").selectAll().where("id", "=", id).executeTakeFirst();
    if (!row) return undefined;
    if (writes === this.#endpointWrites) cache?.set(id, row);
    return endpointFromRow(row);
  }

  async findEndpointByName(owner: string, name: string): Promise<EndpointRecord | undefined> {
    const row = await this.db
      .selectFrom("endpoints")
      .selectAll()
      .where("owner", "=", owner)
      .where("name", "=", name)
      .executeTakeFirst();
    return row && endpointFromRow(row);
  }

  /** The owner's endpoints, filtered by exact `name` when given; `newest` first by default. */
  async listEndpoints(query: EndpointListQuery): Promise<EndpointRecord[]> {
    let select = this.db.selectFrom("endpoints").selectAll().where("owner", "=", query.owner);
    if (query.name !== undefined) select = select.where("name", "=", query.name);
    switch (query.orderBy ?? "newest") {
      case "newest":
        select = select.orderBy("created_at", "desc").orderBy("id", "desc");
        break;
      case "oldest":
        select = select.orderBy("created_at", "asc").orderBy("id", "asc");
        break;
      case "alphabetical":
        select = select.orderBy("name", "asc").orderBy("id", "asc");
        break;
    }
    return (await select.execute()).map(endpointFromRow);
  }

  /** Every endpoint of every owner, oldest first. */
  async listAllEndpoints(): Promise<EndpointRecord[]> {
    const rows = await this.db
      .selectFrom("endpoints")
      .selectAll()
      .orderBy("created_at")
      .orderBy("id")
      .execute();
    return rows.map(endpointFromRow);
  }

  async updateEndpoint(
    id: string,
    expectedVersion: number,
    changes: EndpointChanges,
    at: string,
  ): Promise<EndpointRecord | undefined> {
    const set: Updateable<EndpointsTable> = { version: expectedVersion + 1, last_updated_at: at };
    if (changes.status !== undefined) set.status = changes.status;
    if (changes.statusReason !== undefined) set.status_reason = changes.statusReason;
    if (changes.spec !== undefined) set.spec = JSON.stringify(changes.spec);
    const write = ++this.#endpointWrites;
    let row: EndpointsTable | undefined;
    try {
      row = await this.db
        .updateTable("endpoints")
        .set(set)
        .where("id", "=", id)
        .where("version", "=", expectedVersion)
        .returningAll()
        .executeTakeFirst();
    } catch (error) {
      // It may have been written all the same (a connection lost after the commit).
      this.#endpointRows?.delete(id);
      this.#endpointBus?.publish(id);
      throw error;
    }
    // Gone or changed by someone else: nothing kept, the next read goes to SQL.
    this.#written(write, id, row);
    if (row) this.#endpointBus?.publish(id);
    return row && endpointFromRow(row);
  }

  async deleteEndpoint(id: string): Promise<boolean> {
    this.#endpointWrites++;
    this.#endpointRows?.delete(id);
    try {
      const result = await this.db.deleteFrom("endpoints").where("id", "=", id).executeTakeFirst();
      return result.numDeletedRows > 0n;
    } finally {
      this.#endpointRows?.delete(id);
      this.#endpointBus?.publish(id);
    }
  }

  /**
   * After endpoint write number `write`: keeps the row it wrote, unless another write started since (their
   * answers may arrive in any order) or there is no row; then nothing is kept and the next read goes to SQL.
   */
  #written(write: number, id: string, row: EndpointsTable | undefined): void {
    const cache = this.#endpointRows;
    if (!cache) return;
    if (row && write === this.#endpointWrites) cache.set(id, row);
    else cache.delete(id);
  }
}
