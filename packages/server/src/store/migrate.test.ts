import { isLaunchError } from "@launch/protocol";
import BetterSqlite3 from "better-sqlite3";
import { Kysely, SqliteDialect, sql } from "kysely";
import { afterEach, describe, expect, it } from "vitest";
import { appliedMigrations, type Migration, migrate, recordMigration, schemaVersion } from "./migrate.js";
import type { Database } from "./sql/tables.js";
import { sqliteLockedTransaction } from "./sqlite/sqlite-store.js";

const M1: Migration = {
  version: 1,
  name: "one",
  sql: "create table a (x text); insert into a values ('1;2');",
};
const M2: Migration = { version: 2, name: "two", sql: "create table b (y integer);\n-- done;\n" };

describe("migrate", () => {
  let db: Kysely<Database> | undefined;
  const open = () => {
    db = new Kysely<Database>({ dialect: new SqliteDialect({ database: new BetterSqlite3(":memory:") }) });
    return db;
  };
  afterEach(async () => {
    await db?.destroy();
    db = undefined;
  });

  it("applies pending migrations in order, once", async () => {
    const kdb = open();
    const lock = sqliteLockedTransaction(kdb);
    expect(await migrate({ migrations: [M1], inLockedTransaction: lock })).toEqual({
      applied: [1],
      version: 1,
    });
    expect(await migrate({ migrations: [M1, M2], inLockedTransaction: lock })).toEqual({
      applied: [2],
      version: 2,
    });
    expect(await migrate({ migrations: [M1, M2], inLockedTransaction: lock })).toEqual({
      applied: [],
      version: 2,
    });
    expect((await appliedMigrations(kdb)).map((m) => [m.version, m.name])).toEqual([
      [1, "one"],
      [2, "two"],
    ]);
    const rows = await sql<{ x: string }>`select x from a`.execute(kdb);
    expect(rows.rows).toEqual([{ x: "1;2" }]);
  });

  it("rolls back a failing migration and names it; earlier ones stay", async () => {
    const kdb = open();
    const broken: Migration = {
      version: 2,
      name: "broken",
      sql: "create table c (z text); select * from missing;",
    };
    const error = await migrate({
      migrations: [M1, broken],
      inLockedTransaction: sqliteLockedTransaction(kdb),
    }).catch((e: unknown) => e);
    expect(isLaunchError(error) && error.code).toBe("internal");
    expect((error as Error).message).toMatch(
      /^Database migration 2 \(broken\) failed and was rolled back: .*missing/,
    );
    expect(await schemaVersion(kdb)).toBe(1);
    const tables = await sql<{ name: string }>`select name from sqlite_master where name = 'c'`.execute(kdb);
    expect(tables.rows).toEqual([]);
  });

  it("refuses a schema newer than the code, naming the database", async () => {
    const kdb = open();
    const lock = sqliteLockedTransaction(kdb);
    await migrate({ migrations: [M1, M2], inLockedTransaction: lock });
    await recordMigration(kdb, { version: 3, name: "future" }, new Date().toISOString());
    const error = await migrate({
      migrations: [M1, M2],
      inLockedTransaction: lock,
      label: "/data/launch.db",
    }).catch((e: unknown) => e);
    expect((error as Error).message).toBe(
      "The database schema is at version 3 but this Launch knows only up to 2; " +
        "upgrade Launch or point it at another database (/data/launch.db).",
    );
  });

  it("rejects a migration list that is not numbered 1, 2, 3…", async () => {
    const kdb = open();
    const lock = sqliteLockedTransaction(kdb);
    await expect(migrate({ migrations: [M2], inLockedTransaction: lock })).rejects.toThrow(/expected 1/);
    await expect(migrate({ migrations: [M1, M1], inLockedTransaction: lock })).rejects.toThrow(/expected 2/);
  });
});
