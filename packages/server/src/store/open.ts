/**
 * Picks the store adapter from `LAUNCH_STORE` and `LAUNCH_DATABASE_URL`. The composition root (and
 * `launch keys`) call this; services only see the `Store` port. Each adapter module, and so its driver,
 * is imported only when it is chosen.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { LaunchError } from "@launch/protocol";
import type { LaunchConfig } from "../config/schema.js";
import type { Store } from "./port.js";

/** Where the store lives, as parsed from the configuration. */
export type StoreLocation = { kind: "sqlite"; file: string } | { kind: "postgres"; url: string };

/** The settings that choose the store; `store` defaults to `sqlite`. */
export type StoreSettings = Pick<LaunchConfig, "databaseUrl" | "dataDir"> & {
  store?: LaunchConfig["store"] | undefined;
};

const ACCEPTED =
  "an empty value (embedded SQLite at <dataDir>/launch.db), sqlite:<path> or file:<path> (a SQLite file)";
const POSTGRES_EXAMPLE = "postgres://user:password@host:5432/database";

/**
 * Parses `store` and `databaseUrl` without opening anything. Throws `validation_failed` naming the
 * setting and what it expects; never echoes the URL (it may carry a password), only its scheme.
 *
 * @example storeLocation({ databaseUrl: "", dataDir: "./.launch" }) // { kind: "sqlite", file: ".launch/launch.db" }
 * @example storeLocation({ store: "postgres", databaseUrl: "postgres://db/launch", dataDir: "" }) // { kind: "postgres", url: "postgres://db/launch" }
 */
export function storeLocation(config: StoreSettings): StoreLocation {
  const url = config.databaseUrl.trim();
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(url)?.[1]?.toLowerCase();
  const isPostgres = scheme === "postgres" || scheme === "postgresql";
  if (config.store === "postgres") {
    if (url === "") {
      throw new LaunchError(
        "validation_failed",
        `LAUNCH_DATABASE_URL is empty but LAUNCH_STORE is postgres; set it to the database, e.g. ${POSTGRES_EXAMPLE}`,
      );
    }
    if (!isPostgres) {
      const got = scheme ? `a "${scheme}:" URL` : "a value without a scheme";
      throw new LaunchError(
        "validation_failed",
        `LAUNCH_DATABASE_URL: got ${got}; LAUNCH_STORE=postgres expects postgres:// or postgresql://, e.g. ${POSTGRES_EXAMPLE}`,
      );
    }
    return { kind: "postgres", url };
  }
  if (url === "") return { kind: "sqlite", file: join(config.dataDir, "launch.db") };
  if (isPostgres) {
    throw new LaunchError(
      "validation_failed",
      "LAUNCH_DATABASE_URL is a PostgreSQL URL but LAUNCH_STORE is sqlite; set LAUNCH_STORE=postgres to use PostgreSQL",
    );
  }
  if (scheme === "sqlite" || scheme === "file") {
    const file = sqliteFile(url, scheme);
    if (file === "") {
      throw new LaunchError(
        "validation_failed",
        `LAUNCH_DATABASE_URL: ${scheme}: needs a file path, e.g. ${scheme}:/var/lib/launch/launch.db`,
      );
    }
    return { kind: "sqlite", file };
  }
  const got = scheme ? `a "${scheme}:" URL` : "a value without a scheme";
  throw new LaunchError(
    "validation_failed",
    `LAUNCH_DATABASE_URL: got ${got}; expected ${ACCEPTED}, or set LAUNCH_STORE=postgres for a PostgreSQL URL`,
  );
}

/**
 * Opens the store that the configuration names (see {@link storeLocation}) and returns it ready:
 * migrations applied.
 *
 * @example const store = await openStore({ databaseUrl: "", dataDir: "./.launch" });
 */
export async function openStore(config: StoreSettings): Promise<Store> {
  const location = storeLocation(config);
  // The adapter module is imported here, so choosing one adapter never loads another's driver.
  if (location.kind === "postgres") {
    const { openPostgresStore } = await import("./postgres/postgres-store.js");
    return openPostgresStore({ url: location.url });
  }
  const { openSqliteStore } = await import("./sqlite/sqlite-store.js");
  const store = await openSqliteStore({ file: location.file });
  await store.ready();
  return store;
}

/** The file of a `sqlite:` / `file:` URL: `sqlite:./a.db`, `sqlite:///abs/a.db`, `file:///abs/a%20b.db`. */
function sqliteFile(url: string, scheme: "sqlite" | "file"): string {
  if (scheme === "file" && url.startsWith("file://")) {
    try {
      return fileURLToPath(url);
    } catch (error) {
      throw new LaunchError(
        "validation_failed",
        `LAUNCH_DATABASE_URL: not a local file URL (${messageOf(error)})`,
        {
          cause: error,
        },
      );
    }
  }
  const rest = url.slice(scheme.length + 1);
  return rest.startsWith("//") ? rest.slice(2) : rest;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
