/**
 * PostgreSQL migrations, numbered from 1 and never edited once released: a change is a new migration.
 * The same tables and columns as the SQLite set (`store/sqlite/migrations.ts`, `store/sql/tables.ts`), so
 * the shared queries in `store/sql/sql-store.ts` run unchanged: JSON is TEXT parsed in code, times are
 * ISO 8601 TEXT, numbers are `integer` (which `pg` hands back as JavaScript numbers).
 *
 * Text that is compared or sorted (ids, owners, names, keys, ISO times, statuses) is `collate "C"`: byte
 * order, as SQLite compares text, whatever default collation the database was created with. So
 * `alphabetical` lists and time comparisons give the same answers on both engines.
 */
import type { Migration } from "../migrate.js";

export const POSTGRES_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "initial",
    sql: `
create table api_keys (
  id text collate "C" primary key,
  hash text collate "C" not null,
  prefix text collate "C" not null,
  user_id text collate "C" not null,
  team_id text collate "C" not null,
  role text collate "C" not null,
  created_at text collate "C" not null,
  revoked_at text collate "C",
  last_used_at text collate "C"
);
create unique index api_keys_hash_unique on api_keys (hash);
create index api_keys_prefix on api_keys (prefix);

create table bundles (
  id text collate "C" primary key,
  owner text collate "C" not null,
  created_by text collate "C" not null,
  name text collate "C" not null,
  created_at text collate "C" not null,
  api_version integer not null,
  flavor text not null,
  metadata text not null,
  schema_location text,
  model_artifact_ids text not null,
  v1 text
);
create index bundles_owner_name_created on bundles (owner, name, created_at);
create index bundles_owner_created on bundles (owner, created_at);

create table endpoints (
  id text collate "C" primary key,
  owner text collate "C" not null,
  created_by text collate "C" not null,
  name text collate "C" not null,
  endpoint_type text collate "C" not null,
  status text collate "C" not null,
  status_reason text,
  spec text not null,
  version integer not null,
  created_at text collate "C" not null,
  last_updated_at text collate "C" not null
);
create unique index endpoints_owner_name_unique on endpoints (owner, name);
create index endpoints_owner_created on endpoints (owner, created_at);
create index endpoints_status on endpoints (status);
`,
  },
];
