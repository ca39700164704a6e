/**
 * The store on SQL, through Kysely. Dialect-neutral: an adapter (SQLite now, PostgreSQL later) hands
 * in a `Kysely<Database>`, its migrations and its migration lock, and reuses every query here
 * unchanged. Queries stay portable: no engine-specific functions, JSON as TEXT parsed in `rows.ts`,
 * times as ISO text compared as text.
 */
import { LaunchError, REFERENCE_MESSAGES } from "@launch/protocol";
import type { Kysely, Updateable } from "kysely";
import { type LockedTransaction, type MigrateResult, type Migration, migrate } from "../migrate.js";
import type {
  BundleListQuery,
  BundleRecord,
  EndpointChanges,
  EndpointListQuery,
  EndpointRecord,
  KeyRecord,
  Store,
  StoreCapabilities,
} from "../port.js";
import { isUniqueViolation } from "./errors.js";
import { bundleFromRow, bundleToRow, endpointFromRow, endpointToRow, keyFromRow, keyToRow } from "./rows.js";
import { type Database, ENDPOINT_NAME_INDEX, type EndpointsTable } from "./tables.js";

/** `touchKey` writes at most once per this many milliseconds per key. */
export const TOUCH_INTERVAL_MS = 60_000;

export interface SqlStoreOptions {
  db: Kysely<Database>;
  capabilities: StoreCapabilities;
  migrations: readonly Migration[];
  inLockedTransaction: LockedTransaction<Database>;
  /** Names the database in operator messages (a file path; never a URL carrying a password). */
  label?: string | undefined;
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

  constructor(options: SqlStoreOptions) {
    this.#options = options;
    this.db = options.db;
    this.capabilities = Object.freeze({ ...options.capabilities });
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

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
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
    const row = await this.db.selectFrom("bundles").selectAll().where("id", "=", id).executeTakeFirst();
    return row && bundleFromRow(row);
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

  async insertEndpoint(endpoint: EndpointRecord): Promise<void> {
    try {
      await this.db.insertInto("endpoints").values(endpointToRow(endpoint)).execute();
    } catch (error) {
      if (isUniqueViolation(error, ENDPOINT_NAME_INDEX, "endpoints", ["owner", "name"])) {
        throw new LaunchError("already_exists", REFERENCE_MESSAGES.endpointExists, { cause: error });
      }
      throw error;
    }
  }

  async getEndpoint(id: string): Promise<EndpointRecord | undefined> {
    const row = await this.db.selectFrom("endpoints").selectAll().where("id", "=", id).executeTakeFirst();
    return row && endpointFromRow(row);
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
    const row = await this.db
      .updateTable("endpoints")
      .set(set)
      .where("id", "=", id)
      .where("version", "=", expectedVersion)
      .returningAll()
      .executeTakeFirst();
    return row && endpointFromRow(row);
  }

  async deleteEndpoint(id: string): Promise<boolean> {
    const result = await this.db.deleteFrom("endpoints").where("id", "=", id).executeTakeFirst();
    return result.numDeletedRows > 0n;
  }
}
