/**
 * SQLite migrations, numbered from 1 and never edited once released: a change is a new migration.
 * Kept portable-minded (TEXT for JSON and ISO times, INTEGER for numbers, no SQLite-only functions) so
 * that the PostgreSQL set is a near copy. The columns match `store/sql/tables.ts`.
 */
import type { Migration } from "../migrate.js";

export const SQLITE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "initial",
    sql: `
create table api_keys (
  id text primary key,
  hash text not null,
  prefix text not null,
  user_id text not null,
  team_id text not null,
  role text not null,
  created_at text not null,
  revoked_at text,
  last_used_at text
);
create unique index api_keys_hash_unique on api_keys (hash);
create index api_keys_prefix on api_keys (prefix);

create table bundles (
  id text primary key,
  owner text not null,
  created_by text not null,
  name text not null,
  created_at text not null,
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
  id text primary key,
  owner text not null,
  created_by text not null,
  name text not null,
  endpoint_type text not null,
  status text not null,
  status_reason text,
  spec text not null,
  version integer not null,
  created_at text not null,
  last_updated_at text not null
);
create unique index endpoints_owner_name_unique on endpoints (owner, name);
create index endpoints_owner_created on endpoints (owner, created_at);
create index endpoints_status on endpoints (status);
`,
  },
];
