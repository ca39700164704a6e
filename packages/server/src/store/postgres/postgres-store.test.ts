import { createServer } from "node:net";
import { isLaunchError, newId } from "@launch/protocol";
import { sql } from "kysely";
import { afterEach, describe, expect, it } from "vitest";
import { startTestServer } from "../../testing/server.js";
import { appliedMigrations, recordMigration, schemaVersion } from "../migrate.js";
import { openStore } from "../open.js";
import type { EndpointRecord, Store } from "../port.js";
import type { SqlStore } from "../sql/sql-store.js";
import { describeStore } from "../store.suite.js";
import { POSTGRES_MIGRATIONS } from "./migrations.js";
import { openPostgresStore, redactDatabaseUrl } from "./postgres-store.js";
import { createTestSchema, probeTestDatabase, type TestSchema } from "./test-database.js";

/** A loopback port that nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function withPassword(url: string, password: string): string {
  const parsed = new URL(url);
  parsed.password = password;
  return parsed.href;
}

describe("redactDatabaseUrl", () => {
  it("replaces the password, in the user part or as a parameter, and keeps the rest", () => {
    expect(redactDatabaseUrl("postgres://launch:hunter2@db.internal:5432/launch")).toBe(
      "postgres://launch:***@db.internal:5432/launch",
    );
    expect(redactDatabaseUrl("postgres://postgres@127.0.0.1:5432/test")).toBe(
      "postgres://postgres@127.0.0.1:5432/test",
    );
    const param = redactDatabaseUrl("postgresql://db/launch?sslmode=require&password=hunter2");
    expect(param).toBe("postgresql://db/launch?sslmode=require&password=***");
    expect(redactDatabaseUrl("postgres://launch:p%40ss@db/launch")).not.toContain("p%40ss");
  });

  it("does not show a value that is not a URL at all", () => {
    const shown = redactDatabaseUrl("host=db password=hunter2");
    expect(shown).not.toContain("hunter2");
    expect(shown).toMatch(/not a valid URL/);
  });
});

describe("openPostgresStore without a server", () => {
  it("fails with `unavailable`, naming the URL without its password", async () => {
    const port = await closedPort();
    for (const url of [
      `postgres://launch:hunter2-secret@127.0.0.1:${port}/launch`,
      `postgres://launch@127.0.0.1:${port}/launch?password=hunter2-secret`,
    ]) {
      const error = await openPostgresStore({ url }).catch((e: unknown) => e);
      expect(isLaunchError(error) && error.code).toBe("unavailable");
      const message = (error as Error).message;
      expect(message).toMatch(
        new RegExp(
          `^Cannot connect to the PostgreSQL store at postgres://launch(:\\*\\*\\*)?@127\\.0\\.0\\.1:${port}/launch`,
        ),
      );
      expect(message).toMatch(/ECONNREFUSED/);
      expect(message).not.toContain("hunter2");
      expect(JSON.stringify(error)).not.toContain("hunter2");
    }
  });
});

const database = await probeTestDatabase();

if (!database.reachable) {
  // In CI PostgreSQL is part of the job (.ci/run starts it): its absence is a failure, never a skip.
  describe("PostgreSQL store", () => {
    it("needs the PostgreSQL test database", (ctx) => {
      if (process.env.CI) throw new Error(database.reason);
      console.warn(`Skipping the PostgreSQL store tests: ${database.reason}`);
      ctx.skip(database.reason);
    });
  });
} else {
  describeStore("postgres", async () => {
    const schema = await createTestSchema("launch_store");
    const opened: Store[] = [];
    const openOne = async () => {
      const store = await openPostgresStore({ url: schema.url });
      opened.push(store);
      return store;
    };
    const cleanup = async () => {
      for (const store of opened) await store.close();
      await schema.drop();
    };
    try {
      return { store: await openOne(), reopen: openOne, cleanup };
    } catch (error) {
      await cleanup();
      throw error;
    }
  });

  describe("openPostgresStore", () => {
    const schemas: TestSchema[] = [];
    const stores: Store[] = [];
    const freshSchema = async () => {
      const schema = await createTestSchema("launch_store");
      schemas.push(schema);
      return schema;
    };
    const open = async (url: string, options: { onIdleError?: (error: Error) => void } = {}) => {
      const store = await openPostgresStore({ url, ...options });
      stores.push(store);
      return store;
    };
    afterEach(async () => {
      for (const store of stores.splice(0)) await store.close();
      for (const schema of schemas.splice(0)) await schema.drop();
    });

    it("declares several processes, and every endpoint read goes to SQL", async () => {
      const schema = await freshSchema();
      const writer = await open(schema.url);
      const reader = await open(schema.url);
      expect(reader.capabilities.multiProcess).toBe(true);
      const record = endpointRecord();
      await writer.insertEndpoint(record);
      expect((await reader.getEndpoint(record.id))?.status).toBe("READY");
      // Another gateway (here: another store on the same schema) changes it.
      await writer.updateEndpoint(record.id, 1, { status: "UPDATE_PENDING" }, record.createdAt);
      expect((await reader.getEndpoint(record.id))?.status).toBe("UPDATE_PENDING");
      await writer.deleteEndpoint(record.id);
      expect(await reader.getEndpoint(record.id)).toBeUndefined();
    });

    it("migrates a fresh schema once when several stores open it at the same moment", async () => {
      const schema = await freshSchema();
      const opened = (await Promise.all([1, 2, 3, 4].map(() => open(schema.url)))) as SqlStore[];
      const all = POSTGRES_MIGRATIONS.map((m) => m.version);
      const applied = opened.flatMap((store) => store.migration?.applied ?? []);
      expect(applied.sort((a, b) => a - b)).toEqual(all);
      expect(opened.map((store) => store.migration?.version)).toEqual(opened.map(() => all.at(-1)));
      expect((await appliedMigrations(opened[0]!.db)).map((m) => m.version)).toEqual(all);
      // Every store works on the one schema.
      await opened[0]!.insertEndpoint(endpointRecord({ name: "seen-by-all" }));
      for (const store of opened) expect(await store.findEndpointByName("ml", "seen-by-all")).toBeDefined();
    });

    it("refuses a schema newer than the code, naming the database without its password", async () => {
      // Trust authentication accepts any password; what matters is that it never shows.
      const url = withPassword((await freshSchema()).url, "hunter2-secret");
      const store = (await open(url)) as SqlStore;
      const known = await schemaVersion(store.db);
      await recordMigration(
        store.db,
        { version: known + 1, name: "from_the_future" },
        new Date().toISOString(),
      );
      const error = await openPostgresStore({ url }).catch((e: unknown) => e);
      expect(isLaunchError(error) && error.code).toBe("internal");
      const message = (error as Error).message;
      expect(message).toContain(
        `The database schema is at version ${known + 1} but this Launch knows only up to ${known}; ` +
          "upgrade Launch or point it at another database (postgres://postgres:***@",
      );
      expect(message).not.toContain("hunter2");
    });

    it("names a missing database without the password", async () => {
      const url = new URL(withPassword((await freshSchema()).url, "hunter2-secret"));
      url.pathname = `/launch_missing_${process.pid}`;
      const error = await openPostgresStore({ url: url.href }).catch((e: unknown) => e);
      expect(isLaunchError(error) && error.code).toBe("unavailable");
      expect((error as Error).message).toMatch(
        new RegExp(
          `^Cannot connect to the PostgreSQL store at postgres://postgres:\\*\\*\\*@[^ ]+/launch_missing_${process.pid}\\?.*database "launch_missing_${process.pid}" does not exist`,
        ),
      );
      expect((error as Error).message).not.toContain("hunter2");
    });

    it("sorts and compares text byte by byte, as SQLite does, whatever the database's collation", async () => {
      const store = await open((await freshSchema()).url);
      for (const name of ["b", "B", "a", "_x", "é"]) await store.insertEndpoint(endpointRecord({ name }));
      const names = (await store.listEndpoints({ owner: "ml", orderBy: "alphabetical" })).map((e) => e.name);
      expect(names).toEqual(["B", "_x", "a", "b", "é"]);
    });

    it("survives the server closing an idle connection, reporting it, and reconnects", async () => {
      const schema = await freshSchema();
      const url = new URL(schema.url);
      const application = `launch_idle_${process.pid}_${Date.now()}`;
      url.searchParams.set("application_name", application);
      const idleErrors: Error[] = [];
      const store = (await open(url.href, { onIdleError: (e) => idleErrors.push(e) })) as SqlStore;
      const admin = await open(schema.url);
      await store.insertEndpoint(endpointRecord({ name: "before" }));
      const killed = await sql<{ n: number }>`select count(pg_terminate_backend(pid))::int as n
        from pg_stat_activity where application_name = ${application}`.execute((admin as SqlStore).db);
      expect(killed.rows[0]?.n).toBeGreaterThan(0);
      for (let i = 0; i < 100 && idleErrors.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
      expect(idleErrors.length).toBeGreaterThan(0);
      expect(await store.findEndpointByName("ml", "before")).toBeDefined();
    });

    it("is what openStore opens for LAUNCH_STORE=postgres", async () => {
      const schema = await freshSchema();
      const store = await openStore({ store: "postgres", databaseUrl: schema.url, dataDir: "/nonexistent" });
      stores.push(store);
      expect(store.capabilities.multiProcess).toBe(true);
      expect(await store.listKeys()).toEqual([]);
    });
  });
}

if (database.reachable) {
  describe('startTestServer({ store: "postgres" })', () => {
    it("serves from a fresh schema, keeps it across a restart and drops it on close", async () => {
      const server = await startTestServer({ store: "postgres" });
      let closed = false;
      try {
        expect(server.config.store).toBe("postgres");
        expect(server.store.capabilities.multiProcess).toBe(true);
        const schema = new URL(server.config.databaseUrl).searchParams.get("options")?.split("=")[1];
        expect(schema).toMatch(/^launch_server_/);
        const key = await server.createKey("alice", "ml");
        const before = await server.request("GET", "/v2/model-bundles", { key });
        expect(before.status).toBe(200);
        await server.restart();
        expect((await server.request("GET", "/v2/model-bundles", { key })).status).toBe(200);
        await server.close();
        closed = true;
        expect(await schemaExists(schema!)).toBe(false);
      } finally {
        if (!closed) await server.close();
      }
    });
  });
}

/** Whether the test database has a schema of that name (asked through a store in a schema of its own). */
async function schemaExists(name: string): Promise<boolean> {
  const own = await createTestSchema("launch_probe");
  try {
    const store = await openPostgresStore({ url: own.url });
    try {
      const result = await sql<{
        n: number;
      }>`select count(*)::int as n from pg_namespace where nspname = ${name}`.execute(store.db);
      return result.rows[0]?.n === 1;
    } finally {
      await store.close();
    }
  } finally {
    await own.drop();
  }
}

function endpointRecord(overrides: Partial<EndpointRecord> = {}): EndpointRecord {
  const now = new Date(Date.UTC(2026, 0, 1)).toISOString();
  return {
    id: newId("endpoint"),
    owner: "ml",
    createdBy: "alice",
    name: `endpoint-${newId("endpoint").slice(-8)}`,
    endpointType: "sync",
    status: "READY",
    statusReason: null,
    spec: { minWorkers: 1 } as never,
    version: 1,
    createdAt: now,
    lastUpdatedAt: now,
    ...overrides,
  };
}
