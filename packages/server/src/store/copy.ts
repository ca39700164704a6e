/**
 * Copies every record of one store into another, unchanged (ids, key hashes, sealed callback
 * credentials, endpoint versions, timestamps), through the store port: the data step of moving a
 * single-node install (SQLite) to PostgreSQL. `launch store copy` runs it.
 *
 * - The target's migrations are applied first (opening a store does that).
 * - Idempotent: a record already in the target with the same content is "present" and left alone, so a
 *   second run copies nothing.
 * - A record that the target holds with other content (same id, or the same key hash / endpoint name under
 *   another id) is a conflict: reported, never overwritten; the other records are still copied. Each record
 *   is one insert, so none is ever half-written.
 * - Reports name records by id, key prefix and owner/name, and conflicts by the fields that differ, never by
 *   their values: no key hash, sealed credential or database password is ever shown.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { isLaunchError, LaunchError } from "@launch/protocol";
import { openStore, type StoreSettings, storeLocation } from "./open.js";
import type { BundleRecord, EndpointRecord, KeyRecord, Store } from "./port.js";
import { redactDatabaseUrl } from "./postgres/postgres-store.js";

/** The kinds of records a copy moves, in the order it moves them (bundles before the endpoints using them). */
export const COPIED_KINDS = ["keys", "bundles", "endpoints"] as const;
export type CopiedKind = (typeof COPIED_KINDS)[number];

/**
 * What happened to one source record: `copied` (inserted into the target), `would_copy` (a dry run),
 * `present` (the target already has it, identical), `conflict` (the target has something else there).
 */
export type CopyOutcome = "copied" | "would_copy" | "present" | "conflict";

export interface CopiedRecord {
  kind: CopiedKind;
  id: string;
  /** How people recognise it: `lk_1234567 (alice in ml)` for a key, `owner/name` for a bundle or endpoint. */
  name: string;
  outcome: CopyOutcome;
  /** For a conflict: what differs (field names only, never values). */
  reason?: string | undefined;
}

export interface KindCounts {
  /** Records of this kind in the source. */
  source: number;
  /** Inserted into the target (on a dry run: that would be). */
  copied: number;
  /** Already in the target, identical. */
  present: number;
  /** In the target with other content; not copied. */
  conflicts: number;
}

export interface StoreCopyReport {
  dryRun: boolean;
  counts: Record<CopiedKind, KindCounts>;
  /** Every source record with its outcome, in copy order (keys, bundles, endpoints; oldest first). */
  records: CopiedRecord[];
}

export interface CopyStoreOptions {
  /** Report what would be copied and write nothing. */
  dryRun?: boolean | undefined;
}

/**
 * Copies every key, bundle and endpoint of `source` that `target` lacks; both stores must be ready.
 * Conflicts are reported in the result (see the file comment), not thrown.
 *
 * @example
 * const report = await copyStore(sqliteStore, postgresStore);
 * console.log(report.counts.endpoints.copied);
 */
export async function copyStore(
  source: Store,
  target: Store,
  options: CopyStoreOptions = {},
): Promise<StoreCopyReport> {
  const dryRun = options.dryRun === true;
  const records: CopiedRecord[] = [];

  const targetKeys = new Map((await target.listKeys()).map((k) => [k.id, k]));
  for (const key of await source.listKeys()) {
    const name = `${key.prefix} (${key.userId} in ${key.teamId})`;
    records.push({ kind: "keys", id: key.id, name, ...(await copyKey(key, targetKeys, target, dryRun)) });
  }
  for (const bundle of await source.listAllBundles()) {
    const name = `${bundle.owner}/${bundle.name}`;
    records.push({ kind: "bundles", id: bundle.id, name, ...(await copyBundle(bundle, target, dryRun)) });
  }
  for (const endpoint of await source.listAllEndpoints()) {
    const name = `${endpoint.owner}/${endpoint.name}`;
    records.push({
      kind: "endpoints",
      id: endpoint.id,
      name,
      ...(await copyEndpoint(endpoint, target, dryRun)),
    });
  }

  const counts = Object.fromEntries(
    COPIED_KINDS.map((kind) => {
      const mine = records.filter((r) => r.kind === kind);
      const count = (...outcomes: CopyOutcome[]) => mine.filter((r) => outcomes.includes(r.outcome)).length;
      return [
        kind,
        {
          source: mine.length,
          copied: count("copied", "would_copy"),
          present: count("present"),
          conflicts: count("conflict"),
        },
      ];
    }),
  ) as Record<CopiedKind, KindCounts>;
  return { dryRun, counts, records };
}

/** Where to copy from and to, as store settings (see {@link storeSettingsFromUrl}). */
export interface CopyBetweenOptions extends CopyStoreOptions {
  from: StoreSettings;
  to: StoreSettings;
}

export interface StoreCopyResult extends StoreCopyReport {
  /** The source as it may be shown (a file path, or a URL without its password). */
  from: string;
  /** The target as it may be shown. */
  to: string;
}

/**
 * Opens both stores, copies (see {@link copyStore}) and closes them. The source must exist: a SQLite
 * source file that is not there is an error (opening it would create an empty store). The target is
 * created as needed and migrated first, on a dry run too (no record is written then).
 *
 * @example
 * const result = await copyStoreBetween({
 *   from: loadConfig(),
 *   to: storeSettingsFromUrl("postgres://launch:secret@db:5432/launch", "--to"),
 * });
 */
export async function copyStoreBetween(options: CopyBetweenOptions): Promise<StoreCopyResult> {
  const from = storeLabel(options.from);
  const to = storeLabel(options.to);
  const sourceLocation = storeLocation(options.from);
  if (sourceLocation.kind === "sqlite" && !existsSync(sourceLocation.file)) {
    throw new LaunchError(
      "not_found",
      `There is no store to copy from at ${from}; point --data-dir (or LAUNCH_DATA_DIR) at the install's data directory, or pass --from`,
    );
  }
  const source = await openStore(options.from);
  try {
    const target = await openStore(options.to);
    try {
      return { from, to, ...(await copyStore(source, target, options)) };
    } finally {
      await target.close();
    }
  } finally {
    await source.close();
  }
}

/**
 * Store settings for a store named by URL on the command line (`option` names the flag in errors):
 * `postgres://` or `postgresql://` for PostgreSQL, `sqlite:<path>` or `file:<path>` for a SQLite file.
 * Never echoes the URL (it may carry a password), only its scheme.
 *
 * @example storeSettingsFromUrl("postgres://launch:secret@db:5432/launch", "--to") // { store: "postgres", databaseUrl: "postgres://…", dataDir: "" }
 */
export function storeSettingsFromUrl(url: string, option: string): StoreSettings {
  const trimmed = url.trim();
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(trimmed)?.[1]?.toLowerCase();
  const expected =
    "postgres://user:password@host:5432/database (PostgreSQL) or sqlite:<path> (a SQLite file)";
  if (scheme === "postgres" || scheme === "postgresql") {
    return { store: "postgres", databaseUrl: trimmed, dataDir: "" };
  }
  if (scheme === "sqlite" || scheme === "file") {
    if (/^[a-z]+:(\/\/)?$/i.test(trimmed)) {
      throw new LaunchError(
        "validation_failed",
        `${option}: ${scheme}: needs a file path; expected ${expected}`,
      );
    }
    return { store: "sqlite", databaseUrl: trimmed, dataDir: "" };
  }
  const got = scheme ? `a "${scheme}:" URL` : trimmed === "" ? "an empty value" : "a value without a scheme";
  throw new LaunchError("validation_failed", `${option}: got ${got}; expected ${expected}`);
}

/**
 * A store as it may be shown to an operator: `SQLite file /abs/launch.db`, or `PostgreSQL <url>` with the
 * password replaced by `***`.
 *
 * @example storeLabel({ store: "postgres", databaseUrl: "postgres://u:pw@db/launch", dataDir: "" }) // "PostgreSQL postgres://u:***@db/launch"
 */
export function storeLabel(settings: StoreSettings): string {
  const location = storeLocation(settings);
  return location.kind === "sqlite"
    ? `SQLite file ${resolve(location.file)}`
    : `PostgreSQL ${redactDatabaseUrl(location.url)}`;
}

type Outcome = Pick<CopiedRecord, "outcome" | "reason">;

async function copyKey(
  key: KeyRecord,
  targetKeys: Map<string, KeyRecord>,
  target: Store,
  dryRun: boolean,
): Promise<Outcome> {
  const same = targetKeys.get(key.id);
  if (same) return compared(key, same);
  const sameHash = await target.findKeyByHash(key.hash);
  if (sameHash) return conflict(`the target holds the same key under id ${sameHash.id}`);
  if (dryRun) return { outcome: "would_copy" };
  await target.insertKey(key);
  return { outcome: "copied" };
}

async function copyBundle(bundle: BundleRecord, target: Store, dryRun: boolean): Promise<Outcome> {
  const same = await target.getBundle(bundle.id);
  if (same) return compared(bundle, same);
  if (dryRun) return { outcome: "would_copy" };
  await target.insertBundle(bundle);
  return { outcome: "copied" };
}

async function copyEndpoint(endpoint: EndpointRecord, target: Store, dryRun: boolean): Promise<Outcome> {
  const same = await target.getEndpoint(endpoint.id);
  if (same) return compared(endpoint, same);
  const sameName = await target.findEndpointByName(endpoint.owner, endpoint.name);
  if (sameName) return nameTaken(endpoint, sameName.id);
  if (dryRun) return { outcome: "would_copy" };
  try {
    await target.insertEndpoint(endpoint);
  } catch (error) {
    // Another writer took the name since the check above.
    if (isLaunchError(error) && error.code === "already_exists") {
      const taken = await target.findEndpointByName(endpoint.owner, endpoint.name);
      return nameTaken(endpoint, taken?.id ?? "another id");
    }
    throw error;
  }
  return { outcome: "copied" };
}

function nameTaken(endpoint: EndpointRecord, otherId: string): Outcome {
  return conflict(
    `the target's team ${endpoint.owner} has an endpoint named ${endpoint.name} already (${otherId})`,
  );
}

/** `present` when the target's record equals the source's, else a conflict naming the fields that differ. */
function compared<T extends object>(source: T, target: T): Outcome {
  const fields = differingFields(source, target);
  return fields.length === 0
    ? { outcome: "present" }
    : conflict(`the target's copy differs in ${fields.join(", ")}`);
}

function conflict(reason: string): Outcome {
  return { outcome: "conflict", reason };
}

/** Names of the fields whose values differ; an endpoint's `spec` is compared field by field. */
function differingFields(a: object, b: object, prefix = ""): string[] {
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  const names = [...new Set([...Object.keys(left), ...Object.keys(right)])];
  return names.flatMap((name) => {
    const x = left[name];
    const y = right[name];
    if (isDeepStrictEqual(x, y)) return [];
    if (prefix === "" && name === "spec" && isObject(x) && isObject(y)) return differingFields(x, y, "spec.");
    return [`${prefix}${name}`];
  });
}

function isObject(value: unknown): value is object {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
