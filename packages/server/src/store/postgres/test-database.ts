/**
 * PostgreSQL for tests: the test database (`postgres://postgres@127.0.0.1:5432/test` unless
 * `LAUNCH_TEST_DATABASE_URL` names another), a fresh schema per use so tests never see each other's data,
 * and the rule for when PostgreSQL is not running: in CI (`CI` set) that is a failure; locally the tests
 * are skipped with the command that starts it.
 *
 * `pg` is loaded only when one of these functions runs, so `testing/server.ts` can offer PostgreSQL
 * without a SQLite-only run ever loading the driver.
 *
 * @example
 * const schema = await createTestSchema();
 * const store = await openPostgresStore({ url: schema.url });
 * // …
 * await store.close();
 * await schema.drop();
 */
import { randomBytes } from "node:crypto";
import type { Client as PgClient } from "pg";
import { redactDatabaseUrl } from "./postgres-store.js";

/** The test database, as the README and `.ci/run` set it up (trust authentication, no password). */
export const DEFAULT_TEST_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/test";

/** How to start the local cluster (Debian's postgresql package), for skip and failure messages. */
export const START_POSTGRES_COMMAND =
  "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start";

/** The URL of the test database. */
export function testDatabaseUrl(): string {
  const url = process.env.LAUNCH_TEST_DATABASE_URL;
  return url !== undefined && url !== "" ? url : DEFAULT_TEST_DATABASE_URL;
}

/** A schema made for one test (or one test server): its name, a URL that uses it, and how to drop it. */
export interface TestSchema {
  name: string;
  /** The test database's URL with `search_path` set to this schema (through `pg`'s `options`). */
  url: string;
  /** Drops the schema and everything in it. Close every store on it first. */
  drop(): Promise<void>;
}

/** Whether the test database answers; when it does not, `reason` says why and how to start it. */
export type TestDatabaseStatus = { reachable: true } | { reachable: false; reason: string };

/** Connects once to the test database (3 s at most) and reports whether it answers. */
export async function probeTestDatabase(): Promise<TestDatabaseStatus> {
  try {
    const client = await connect(3_000);
    await client.end();
    return { reachable: true };
  } catch (error) {
    return {
      reachable: false,
      reason:
        `PostgreSQL is not reachable at ${redactDatabaseUrl(testDatabaseUrl())} ` +
        `(${error instanceof Error ? error.message || error.name : String(error)}); start it with: ${START_POSTGRES_COMMAND}`,
    };
  }
}

/**
 * Creates a schema with a unique name starting with `prefix` in the test database. Throws, saying how
 * to start PostgreSQL, when the database does not answer.
 */
export async function createTestSchema(prefix = "launch_test"): Promise<TestSchema> {
  if (!/^[a-z_][a-z0-9_]*$/.test(prefix)) throw new Error(`Schema prefix ${prefix} must be [a-z0-9_]`);
  const name = `${prefix}_${process.pid}_${randomBytes(4).toString("hex")}`;
  await withClient(async (client) => {
    await client.query(`create schema ${name}`);
  });
  const url = new URL(testDatabaseUrl());
  url.searchParams.set("options", `-c search_path=${name}`);
  let dropped = false;
  return {
    name,
    url: url.href,
    async drop() {
      if (dropped) return;
      dropped = true;
      await withClient(async (client) => {
        await client.query(`drop schema if exists ${name} cascade`);
      });
    },
  };
}

async function withClient(fn: (client: PgClient) => Promise<void>): Promise<void> {
  let client: PgClient;
  try {
    client = await connect(10_000);
  } catch (error) {
    throw new Error(
      `The PostgreSQL test database does not answer (${error instanceof Error ? error.message || error.name : String(error)}); ` +
        `start it with: ${START_POSTGRES_COMMAND}`,
      { cause: error },
    );
  }
  try {
    await fn(client);
  } finally {
    await client.end();
  }
}

async function connect(timeoutMs: number): Promise<PgClient> {
  const mod = (await import("pg")) as typeof import("pg") & { default?: typeof import("pg") };
  const { Client } = mod.default ?? mod;
  const client = new Client({ connectionString: testDatabaseUrl(), connectionTimeoutMillis: timeoutMs });
  // A connection that fails after the test is done must not end the test process.
  client.on("error", () => {});
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => {});
    throw error;
  }
  return client;
}
