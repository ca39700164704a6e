import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { GroupCommit } from "./group-commit.js";

describe("GroupCommit", () => {
  let dir: string;
  let db: Database.Database;
  let commits: number;
  let writer: GroupCommit;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "launch-group-commit-"));
    db = new Database(join(dir, "t.db"));
    db.exec("CREATE TABLE t (v INTEGER NOT NULL CHECK (v >= 0))");
    commits = 0;
    writer = new GroupCommit({
      transaction: (body) => db.transaction(body).immediate(),
      afterCommit: () => commits++,
      maxBatch: 100,
    });
  });

  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const insert = (v: number) => () =>
    Number(db.prepare("INSERT INTO t (v) VALUES (?)").run(v).lastInsertRowid);
  const count = () => db.prepare("SELECT count(*) AS n FROM t").get() as { n: number };

  it("commits writes issued in one turn together, resolving each with its value", async () => {
    const values = await Promise.all([1, 2, 3].map((v) => writer.write(insert(v))));
    expect(values).toEqual([1, 2, 3]);
    expect(commits).toBe(1);
    expect(count().n).toBe(3);
  });

  it("splits a large burst into transactions of at most maxBatch writes", async () => {
    await Promise.all(Array.from({ length: 250 }, (_, i) => writer.write(insert(i))));
    expect(commits).toBe(3);
    expect(count().n).toBe(250);
  });

  it("fails only the failing write of a batch; the others commit", async () => {
    const results = await Promise.allSettled([
      writer.write(insert(1)),
      writer.write(insert(-1)),
      writer.write(insert(2)),
    ]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect(String((results[1] as PromiseRejectedResult).reason)).toMatch(/CHECK constraint failed/);
    expect(count().n).toBe(2);
  });

  it("flushNow commits pending writes at once", async () => {
    const pending = writer.write(insert(5));
    writer.flushNow();
    expect(count().n).toBe(1);
    expect(await pending).toBe(1);
  });
});
