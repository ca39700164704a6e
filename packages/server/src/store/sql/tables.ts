/**
 * The Kysely table types of the SQL store, shared by every SQL dialect (SQLite and PostgreSQL). Portable
 * on purpose: JSON is stored as TEXT and parsed in code, times are ISO 8601 text (which sorts correctly as
 * text), and there are no booleans at the top level of any table.
 *
 * The migrations in `store/<dialect>/migrations.ts` create exactly these columns.
 */
import type { KeyRole } from "../port.js";

/** `schema_migrations`: one row per applied migration (written by `store/migrate.ts`). */
export interface SchemaMigrationsTable {
  version: number;
  name: string;
  applied_at: string;
}

/** `api_keys`: API keys, stored as a SHA-256 hash (the key itself is never stored). */
export interface ApiKeysTable {
  id: string;
  hash: string;
  prefix: string;
  user_id: string;
  team_id: string;
  role: KeyRole;
  created_at: string;
  revoked_at: string | null;
  last_used_at: string | null;
}

/** `bundles`: immutable bundle records; the JSON columns hold the wire shapes as sent. */
export interface BundlesTable {
  id: string;
  owner: string;
  created_by: string;
  name: string;
  created_at: string;
  api_version: number;
  /** JSON of the `BundleFlavor`. */
  flavor: string;
  /** JSON object. */
  metadata: string;
  schema_location: string | null;
  /** JSON array of strings. */
  model_artifact_ids: string;
  /** JSON object of the v1 create body, or NULL for v2 bundles. */
  v1: string | null;
}

/** `endpoints`: one row per endpoint; UNIQUE(owner, name); `spec` holds the owner-set fields as JSON. */
export interface EndpointsTable {
  id: string;
  owner: string;
  created_by: string;
  name: string;
  endpoint_type: string;
  status: string;
  status_reason: string | null;
  /** JSON of the `EndpointSpec`. */
  spec: string;
  version: number;
  created_at: string;
  last_updated_at: string;
}

/** The database as Kysely sees it. */
export interface Database {
  schema_migrations: SchemaMigrationsTable;
  api_keys: ApiKeysTable;
  bundles: BundlesTable;
  endpoints: EndpointsTable;
}

/** The name of the unique index that keeps endpoint names unique per owner (checked in error handling). */
export const ENDPOINT_NAME_INDEX = "endpoints_owner_name_unique";
