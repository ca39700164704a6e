import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { Kysely, SqliteDialect, sql } from "kysely";
import { afterEach, describe, expect, it } from "vitest";
import type { Store } from "../port.js";
import { SqlStore } from "../sql/sql-store.js";
import type { Database as Tables } from "../sql/tables.js";
import { describeStore } from "../store.suite.js";
import { SQLITE_MIGRATIONS } from "./migrations.js";
import { openSqliteStore, sqliteLockedTransaction } from "./sqlite-store.js";

describeStore("sqlite", async () => {
  const dir = await mkdtemp(join(tmpdir(), "launch-store-"));
  const file = join(dir, "launch.db");
  const opened: Store[] = [];
  const openOne = async () => {
    const store = await openSqliteStore({ file });
    opened.push(store);
    return store;
  };
  return {
    store: await openOne(),
    reopen: openOne,
    cleanup: async () => {
      for (const store of opened) await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

describe("openSqliteStore", () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  });

  it("creates missing directories and sets the pragmas", async () => {
    const dir = await mkdtemp(join(tmpdir(), "launch-store-"));
    dirs.push(dir);
    const file = join(dir, "nested", "deeper", "launch.db");
    const store = await openSqliteStore({ file });
    try {
      expect(existsSync(file)).toBe(true);
      expect(store.capabilities.multiProcess).toBe(false);
      const pragma = async (name: string) =>
        Object.values(
          (await sql<Record<string, unknown>>`pragma ${sql.raw(name)}`.execute(store.db)).rows[0] ?? {},
        )[0];
      expect(await pragma("journal_mode")).toBe("wal");
      expect(await pragma("synchronous")).toBe(1); // NORMAL
      expect(await pragma("busy_timeout")).toBe(5000);
      expect(await pragma("foreign_keys")).toBe(1);
    } finally {
      await store.close();
    }
  });

  it("with several writers (multiProcess), reads every endpoint from SQL, never from a cache", async () => {
    const dir = await mkdtemp(join(tmpdir(), "launch-store-"));
    dirs.push(dir);
    const file = join(dir, "launch.db");
    const writer = await openSqliteStore({ file });
    const db = new Kysely<Tables>({ dialect: new SqliteDialect({ database: new Database(file) }) });
    const shared = new SqlStore({
      db,
      capabilities: { multiProcess: true },
      migrations: SQLITE_MIGRATIONS,
      inLockedTransaction: sqliteLockedTransaction(db),
    });
    try {
      await shared.ready();
      const now = new Date().toISOString();
      const record = {
        id: "end_shared",
        owner: "ml",
        createdBy: "alice",
        name: "shared",
        endpointType: "sync" as const,
        status: "READY" as const,
        statusReason: null,
        spec: { minWorkers: 1 } as never,
        version: 1,
        createdAt: now,
        lastUpdatedAt: now,
      };
      await writer.insertEndpoint(record);
      expect((await shared.getEndpoint(record.id))?.status).toBe("READY");
      // Another process (here: another connection) changes it.
      await writer.updateEndpoint(record.id, 1, { status: "UPDATE_PENDING" }, now);
      expect((await shared.getEndpoint(record.id))?.status).toBe("UPDATE_PENDING");
      await writer.deleteEndpoint(record.id);
      expect(await shared.getEndpoint(record.id)).toBeUndefined();
    } finally {
      await shared.close();
      await writer.close();
    }
  });

  it("closes more than once without error", async () => {
    const store = await openSqliteStore({ file: ":memory:" });
    await store.close();
    await store.close();
  });
});
