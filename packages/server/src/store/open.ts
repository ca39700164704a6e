/**
 * Picks the store adapter from `LAUNCH_DATABASE_URL`. The composition root calls this; services only
 * see the `Store` port.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { LaunchError } from "@launch/protocol";
import type { LaunchConfig } from "../config/schema.js";
import type { Store } from "./port.js";

/** Where the store lives, as parsed from the database URL. */
export type StoreLocation = { kind: "sqlite"; file: string };

const ACCEPTED =
  "an empty value (embedded SQLite at <dataDir>/launch.db), sqlite:<path> or file:<path> (a SQLite file)";

/**
 * Parses `databaseUrl` without opening anything. Never echoes the URL in errors (it may carry a
 * password); only its scheme.
 *
 * @example storeLocation({ databaseUrl: "", dataDir: "./.launch" }) // { kind: "sqlite", file: ".launch/launch.db" }
 */
export function storeLocation(config: Pick<LaunchConfig, "databaseUrl" | "dataDir">): StoreLocation {
  const url = config.databaseUrl.trim();
  if (url === "") return { kind: "sqlite", file: join(config.dataDir, "launch.db") };
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(url)?.[1]?.toLowerCase();
  if (scheme === "postgres" || scheme === "postgresql") {
    throw new LaunchError(
      "validation_failed",
      "LAUNCH_DATABASE_URL: PostgreSQL stores arrive with the scale-out work; use an empty value (embedded SQLite) for now",
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
  throw new LaunchError("validation_failed", `LAUNCH_DATABASE_URL: got ${got}; expected ${ACCEPTED}`);
}

/**
 * Opens the store that `databaseUrl` names (see {@link storeLocation}) and returns it ready: migrations
 * applied.
 *
 * @example const store = await openStore({ databaseUrl: "", dataDir: "./.launch" });
 */
export async function openStore(config: Pick<LaunchConfig, "databaseUrl" | "dataDir">): Promise<Store> {
  const location = storeLocation(config);
  // The adapter module is imported here, so choosing another adapter never loads the SQLite driver.
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
