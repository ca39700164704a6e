import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { newId } from "@launch/protocol";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import type { LeasedTask } from "../port.js";
import { describeTaskQueue } from "../queue.suite.js";
import { EmbeddedTaskQueue } from "./embedded-queue.js";
import { MIGRATIONS } from "./migrations.js";
import { openEmbeddedHarness } from "./testing.js";

describeTaskQueue("embedded (SQLite)", (options) =>
  openEmbeddedHarness("launch-queue-", "data/queue.db", options),
);

describe("EmbeddedTaskQueue", () => {
  const dirs: string[] = [];
  const tempFile = (): string => {
    const dir = mkdtempSync(join(tmpdir(), "launch-queue-"));
    dirs.push(dir);
    return join(dir, "queue.db");
  };
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it("declares its capabilities: one process, in-process wake-ups", () => {
    const queue = new EmbeddedTaskQueue({ file: tempFile(), resultRetentionMs: 1 });
    expect(queue.capabilities).toEqual({ multiProcess: false, notifiesWaiters: true });
  });

  it("uses WAL with synchronous=NORMAL and records its schema version", async () => {
    const file = tempFile();
    const queue = new EmbeddedTaskQueue({ file, resultRetentionMs: 1 });
    await queue.ready();
    await queue.close();
    const db = new Database(file, { readonly: true });
    try {
      expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
      expect(db.pragma("user_version", { simple: true })).toBe(MIGRATIONS.at(-1)!.version);
    } finally {
      db.close();
    }
  });

  it("refuses a database written by a newer Launch, telling the operator what to do", async () => {
    const file = tempFile();
    const db = new Database(file);
    db.pragma("user_version = 999");
    db.close();
    const queue = new EmbeddedTaskQueue({ file, resultRetentionMs: 1 });
    await expect(queue.ready()).rejects.toThrow(
      new RegExp(`schema version 999.*knows versions up to ${MIGRATIONS.at(-1)!.version}.*LAUNCH_DATA_DIR`),
    );
    await queue.close();
  });

  it("fails clearly on a file that is not a SQLite database", async () => {
    const file = tempFile();
    writeFileSync(file, "this is not a database, just some text that is long enough to have a header");
    const queue = new EmbeddedTaskQueue({ file, resultRetentionMs: 1 });
    await expect(queue.ready()).rejects.toThrow(/not a database/);
    await queue.close();
  });

  it("refuses work once closed and before ready", async () => {
    const queue = new EmbeddedTaskQueue({ file: tempFile(), resultRetentionMs: 1 });
    await expect(queue.get("tsk_x")).rejects.toThrow(/not ready/);
    await queue.ready();
    await queue.close();
    const task = {
      id: newId("task"),
      queue: "q",
      owner: "o",
      createdBy: "u",
      payload: 1,
      maxAttempts: 1,
      expiresAt: null,
    };
    await expect(queue.enqueue(task)).rejects.toThrow(/closed/);
    expect(await queue.waitForWork("q", 10_000)).toBe(false);
  });

  it("commits writes issued before close", async () => {
    const file = tempFile();
    const queue = new EmbeddedTaskQueue({ file, resultRetentionMs: 1 });
    await queue.ready();
    const ids = Array.from({ length: 50 }, () => newId("task"));
    const pending = ids.map((id) =>
      queue.enqueue({
        id,
        queue: "q",
        owner: "o",
        createdBy: "u",
        payload: null,
        maxAttempts: 1,
        expiresAt: null,
      }),
    );
    await queue.close();
    await Promise.all(pending);
    const reopened = new EmbeddedTaskQueue({ file, resultRetentionMs: 1 });
    await reopened.ready();
    expect(await reopened.counts("q")).toEqual({ queued: 50, inFlight: 0 });
    await reopened.close();
  });

  it("purges in chunks, at most purgeLimit per sweep, the rest on the next", async () => {
    let time = Date.UTC(2031, 0, 1);
    const queue = new EmbeddedTaskQueue({
      file: tempFile(),
      resultRetentionMs: 1_000,
      clock: () => time,
      purgeLimit: 4_500,
    });
    await queue.ready();
    const ids = Array.from({ length: 5_000 }, () => newId("task"));
    await Promise.all(
      ids.map((id) =>
        queue.enqueue({
          id,
          queue: "q",
          owner: "o",
          createdBy: "u",
          payload: 1,
          maxAttempts: 1,
          expiresAt: null,
        }),
      ),
    );
    const leased = await queue.lease({ queue: "q", workerId: "w", max: 5_000, leaseMs: 60_000 });
    await Promise.all(leased.map((t) => queue.complete(t.id, t.leaseToken, { output: 1, statusCode: 200 })));
    time += 1_000;
    expect(await queue.sweep()).toMatchObject({ purged: 4_500 });
    expect(await queue.sweep()).toMatchObject({ purged: 500 });
    expect(await queue.get(ids[4_999]!)).toBeUndefined();
    await queue.close();
  });

  it("opens once when ready is called twice at the same time", async () => {
    const queue = new EmbeddedTaskQueue({ file: tempFile(), resultRetentionMs: 1 });
    await Promise.all([queue.ready(), queue.ready()]);
    await queue.enqueue({
      id: newId("task"),
      queue: "q",
      owner: "o",
      createdBy: "u",
      payload: 1,
      maxAttempts: 1,
      expiresAt: null,
    });
    expect(await queue.counts("q")).toEqual({ queued: 1, inFlight: 0 });
    await queue.close();
  });

  it("keeps lease, counts and sweep on their indexes", async () => {
    const file = tempFile();
    const queue = new EmbeddedTaskQueue({ file, resultRetentionMs: 1 });
    await queue.ready();
    await queue.close();
    const db = new Database(file, { readonly: true });
    try {
      const plan = (sql: string): string =>
        (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as { detail: string }[])
          .map((r) => r.detail)
          .join("; ");
      const lease = plan(
        "SELECT seq FROM tasks INDEXED BY tasks_pending WHERE queue = 'q' AND status = 'PENDING' ORDER BY seq LIMIT 5",
      );
      expect(lease).toContain("tasks_pending");
      expect(lease).not.toContain("TEMP B-TREE");
      expect(plan("SELECT seq FROM tasks WHERE status = 'STARTED' AND lease_expires_at <= 5")).toContain(
        "tasks_leased",
      );
      expect(plan("SELECT seq FROM tasks WHERE status = 'PENDING' AND expires_at <= 5")).toContain(
        "tasks_pending_expiry",
      );
      expect(plan("SELECT seq FROM tasks WHERE finished_at <= 5 LIMIT 10")).toContain("tasks_finished");
    } finally {
      db.close();
    }
  });

  it("keeps its in-memory counts equal to the table through a random workload and a restart", async () => {
    const file = tempFile();
    let time = Date.UTC(2031, 0, 1);
    const options = { file, resultRetentionMs: 5_000, clock: () => time };
    let queue = new EmbeddedTaskQueue(options);
    await queue.ready();
    let seed = 42;
    /** mulberry32: a small seeded generator, so a failure replays the same workload. */
    const random = (n: number): number => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4_294_967_296) * n);
    };
    const queues = ["end_a", "end_b", "end_c"];
    let leased: LeasedTask[] = [];
    const error = { message: "boom", traceback: null, statusCode: 500 };
    const tableDepths = (): Map<string, { queued: number; inFlight: number }> => {
      const db = new Database(file, { readonly: true });
      try {
        const rows = db
          .prepare(
            `SELECT queue, sum(status = 'PENDING') AS queued, sum(status = 'STARTED') AS inFlight FROM tasks
             GROUP BY queue HAVING queued + inFlight > 0`,
          )
          .all() as { queue: string; queued: number; inFlight: number }[];
        return new Map(rows.map((r) => [r.queue, { queued: r.queued, inFlight: r.inFlight }]));
      } finally {
        db.close();
      }
    };
    for (let step = 0; step < 400; step++) {
      const q = queues[random(3)]!;
      const pick = (): LeasedTask | undefined => leased.splice(random(Math.max(1, leased.length)), 1)[0];
      const ops: Promise<unknown>[] = [];
      for (let burst = random(4) + 1; burst > 0; burst--) {
        const kind = random(10);
        if (kind < 4) {
          const expiresAt = random(3) === 0 ? time + random(3_000) : null;
          ops.push(
            queue.enqueue({
              id: newId("task"),
              queue: q,
              owner: "o",
              createdBy: "u",
              payload: step,
              maxAttempts: 2,
              expiresAt,
            }),
          );
        } else if (kind < 6) {
          ops.push(
            queue
              .lease({ queue: q, workerId: `w${random(3)}`, max: random(4) + 1, leaseMs: 2_000 })
              .then((l) => {
                leased.push(...l);
              }),
          );
        } else if (kind === 6) {
          const t = pick();
          if (t) ops.push(queue.complete(t.id, t.leaseToken, { output: step, statusCode: 200 }));
        } else if (kind === 7) {
          const t = pick();
          if (t) ops.push(queue.fail(t.id, t.leaseToken, error, { retry: random(2) === 0 }));
        } else if (kind === 8) {
          const t = pick();
          if (t) ops.push(queue.release(t.id, t.leaseToken));
        } else {
          time += random(1_500);
          ops.push(random(5) === 0 ? queue.revokeLeases(`w${random(3)}`) : queue.sweep(time));
        }
      }
      await Promise.all(ops);
      if (step % 50 === 49) {
        expect(await queue.depths()).toEqual(tableDepths());
        await queue.close();
        queue = new EmbeddedTaskQueue(options);
        await queue.ready();
        leased = leased.filter(() => random(2) === 0);
      }
    }
    expect(await queue.depths()).toEqual(tableDepths());
    for (const q of queues)
      expect(await queue.counts(q)).toEqual(tableDepths().get(q) ?? { queued: 0, inFlight: 0 });
    await queue.close();
  });
});
