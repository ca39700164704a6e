import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { isLaunchError } from "@launch/protocol";
import { afterEach, describe, expect, it } from "vitest";
import { openStore, storeLocation } from "./open.js";

const dataDir = "/srv/launch";

function failure(databaseUrl: string): { code: unknown; message: string } {
  try {
    storeLocation({ databaseUrl, dataDir });
  } catch (error) {
    return { code: isLaunchError(error) ? error.code : undefined, message: (error as Error).message };
  }
  throw new Error(`expected ${databaseUrl} to be refused`);
}

describe("storeLocation", () => {
  it("defaults to <dataDir>/launch.db", () => {
    expect(storeLocation({ databaseUrl: "", dataDir })).toEqual({
      kind: "sqlite",
      file: "/srv/launch/launch.db",
    });
    expect(storeLocation({ databaseUrl: "  ", dataDir })).toEqual({
      kind: "sqlite",
      file: "/srv/launch/launch.db",
    });
  });

  it("accepts sqlite: and file: paths", () => {
    const at = (databaseUrl: string) => storeLocation({ databaseUrl, dataDir });
    expect(at("sqlite:./here.db")).toEqual({ kind: "sqlite", file: "./here.db" });
    expect(at("sqlite:/var/lib/launch.db")).toEqual({ kind: "sqlite", file: "/var/lib/launch.db" });
    expect(at("sqlite:///var/lib/launch.db")).toEqual({ kind: "sqlite", file: "/var/lib/launch.db" });
    expect(at("file:rel/launch.db")).toEqual({ kind: "sqlite", file: "rel/launch.db" });
    expect(at("file:///var/lib/a%20b.db")).toEqual({ kind: "sqlite", file: "/var/lib/a b.db" });
  });

  it("picks PostgreSQL when LAUNCH_STORE is postgres", () => {
    for (const url of ["postgres://u:secret@db/launch", "postgresql://db:5433/launch?sslmode=require"]) {
      expect(storeLocation({ store: "postgres", databaseUrl: url, dataDir })).toEqual({
        kind: "postgres",
        url,
      });
    }
  });

  it("refuses postgres without a URL, or with another kind of URL, naming LAUNCH_DATABASE_URL", () => {
    const refused = (databaseUrl: string) => {
      try {
        storeLocation({ store: "postgres", databaseUrl, dataDir });
      } catch (error) {
        return { code: isLaunchError(error) ? error.code : undefined, message: (error as Error).message };
      }
      throw new Error(`expected ${databaseUrl} to be refused`);
    };
    expect(refused(" ")).toEqual({
      code: "validation_failed",
      message:
        "LAUNCH_DATABASE_URL is empty but LAUNCH_STORE is postgres; set it to the database, e.g. postgres://user:password@host:5432/database",
    });
    const sqlite = refused("sqlite:/var/lib/launch.db");
    expect(sqlite.code).toBe("validation_failed");
    expect(sqlite.message).toBe(
      'LAUNCH_DATABASE_URL: got a "sqlite:" URL; LAUNCH_STORE=postgres expects postgres:// or postgresql://, ' +
        "e.g. postgres://user:password@host:5432/database",
    );
    expect(refused("mysql://root:hunter2@db/launch").message).not.toContain("hunter2");
  });

  it("refuses a PostgreSQL URL while LAUNCH_STORE is sqlite, saying which setting to change", () => {
    for (const url of ["postgres://u:secret@db/launch", "postgresql://db/launch"]) {
      const refused = failure(url);
      expect(refused).toEqual({
        code: "validation_failed",
        message:
          "LAUNCH_DATABASE_URL is a PostgreSQL URL but LAUNCH_STORE is sqlite; set LAUNCH_STORE=postgres to use PostgreSQL",
      });
      expect(refused.message).not.toContain("secret");
    }
  });

  it("refuses other forms, listing the accepted ones without echoing the value", () => {
    const unknown = failure("mysql://root:hunter2@db/launch");
    expect(unknown.code).toBe("validation_failed");
    expect(unknown.message).toBe(
      'LAUNCH_DATABASE_URL: got a "mysql:" URL; expected an empty value (embedded SQLite at <dataDir>/launch.db), ' +
        "sqlite:<path> or file:<path> (a SQLite file), or set LAUNCH_STORE=postgres for a PostgreSQL URL",
    );
    expect(unknown.message).not.toContain("hunter2");
    expect(failure("/var/lib/launch.db").message).toMatch(
      /got a value without a scheme; expected an empty value/,
    );
    expect(failure("sqlite:").message).toMatch(/sqlite: needs a file path/);
  });
});

describe("openStore", () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  });

  it("opens a ready SQLite store at <dataDir>/launch.db by default", async () => {
    const dir = await mkdtemp(join(tmpdir(), "launch-open-"));
    dirs.push(dir);
    const store = await openStore({ databaseUrl: "", dataDir: join(dir, "data") });
    try {
      expect(existsSync(join(dir, "data", "launch.db"))).toBe(true);
      expect(await store.listKeys()).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it("opens the file a file: URL names", async () => {
    const dir = await mkdtemp(join(tmpdir(), "launch-open-"));
    dirs.push(dir);
    const file = join(dir, "other place", "store.db");
    const store = await openStore({ databaseUrl: pathToFileURL(file).href, dataDir: join(dir, "unused") });
    try {
      expect(existsSync(file)).toBe(true);
      expect(existsSync(join(dir, "unused"))).toBe(false);
    } finally {
      await store.close();
    }
  });
});
