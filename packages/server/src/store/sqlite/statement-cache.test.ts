import Database from "better-sqlite3";
import { Kysely, SqliteDialect, sql } from "kysely";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { cachingStatements, type PreparingDatabase } from "./statement-cache.js";

/** A real in-memory database that counts the statements it prepares. */
function countingDatabase(): PreparingDatabase & { prepared: string[]; closed: boolean } {
  const database = new Database(":memory:");
  const counted = {
    prepared: [] as string[],
    closed: false,
    prepare(text: string) {
      counted.prepared.push(text);
      return database.prepare(text);
    },
    close() {
      counted.closed = true;
      database.close();
    },
  };
  return counted;
}

describe("cachingStatements", () => {
  let raw: ReturnType<typeof countingDatabase>;
  let db: Kysely<{ t: { id: number; v: string } }>;

  beforeEach(async () => {
    raw = countingDatabase();
    db = new Kysely({ dialect: new SqliteDialect({ database: cachingStatements(raw, 3) }) });
    await sql`create table t (id integer primary key, v text not null)`.execute(db);
  });

  afterEach(async () => {
    if (!raw.closed) await db.destroy();
  });

  it("prepares each SQL text once and binds new values every time", async () => {
    for (let id = 1; id <= 5; id++)
      await db
        .insertInto("t")
        .values({ id, v: `v${id}` })
        .execute();
    const rows = [];
    for (let id = 1; id <= 5; id++) {
      rows.push(await db.selectFrom("t").select("v").where("id", "=", id).executeTakeFirst());
    }
    expect(rows).toStrictEqual([1, 2, 3, 4, 5].map((id) => ({ v: `v${id}` })));
    const inserts = raw.prepared.filter((text) => text.startsWith("insert"));
    const selects = raw.prepared.filter((text) => text.startsWith("select"));
    expect(inserts).toHaveLength(1);
    expect(selects).toHaveLength(1);
  });

  it("keeps at most the configured number of statements, dropping the least recently used", async () => {
    const query = (n: number) => sql.raw(`select ${n} as n`).execute(db);
    await query(1);
    await query(2);
    await query(3);
    await query(1); // 1 is now the most recent; 2 the oldest
    await query(4); // evicts 2
    await query(1);
    await query(2); // prepared again
    const counts = new Map<string, number>();
    for (const text of raw.prepared) counts.set(text, (counts.get(text) ?? 0) + 1);
    expect(counts.get("select 1 as n")).toBe(1);
    expect(counts.get("select 2 as n")).toBe(2);
  });

  it("a cached statement sees later writes and schema changes", async () => {
    const count = async () =>
      Number(
        (
          await db
            .selectFrom("t")
            .select((eb) => eb.fn.countAll().as("n"))
            .executeTakeFirst()
        )?.n,
      );
    expect(await count()).toBe(0);
    await db.insertInto("t").values({ id: 1, v: "a" }).execute();
    expect(await count()).toBe(1);
    await sql`alter table t add column w text`.execute(db);
    await db.insertInto("t").values({ id: 2, v: "b" }).execute();
    expect(await count()).toBe(2);
  });

  it("closes the database", async () => {
    await db.destroy();
    expect(raw.closed).toBe(true);
  });
});
