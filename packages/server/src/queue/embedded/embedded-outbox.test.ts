import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { newId } from "@launch/protocol";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { describeCallbackOutbox } from "../../callbacks/outbox.suite.js";
import type { CallbackSpec } from "../../callbacks/port.js";
import type { NewTask } from "../port.js";
import { prepareDeliveryStatements } from "./delivery-statements.js";
import { EmbeddedTaskQueue } from "./embedded-queue.js";
import { MIGRATIONS, migrate } from "./migrations.js";
import { openEmbeddedHarness } from "./testing.js";

describeCallbackOutbox("embedded (SQLite)", async (options) => {
  const { queue, reopen, cleanup } = await openEmbeddedHarness("launch-outbox-", "queue.db", options);
  return { subject: queue, reopen, cleanup };
});

describe("EmbeddedTaskQueue as a callback outbox", () => {
  const dirs: string[] = [];
  const tempFile = (): string => {
    const dir = mkdtempSync(join(tmpdir(), "launch-outbox-"));
    dirs.push(dir);
    return join(dir, "queue.db");
  };
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  const spec: CallbackSpec = { url: "https://receiver.test/hook", auth: null, events: ["succeeded"] };
  const task = (overrides: Partial<NewTask> = {}): NewTask => ({
    id: newId("task"),
    queue: "end_a",
    owner: "team_1",
    createdBy: "user_1",
    payload: { x: 1 },
    maxAttempts: 1,
    expiresAt: null,
    ...overrides,
  });

  it("upgrades a version 1 queue file: its tasks stay, and finish without a delivery", async () => {
    const file = tempFile();
    const v1 = new Database(file);
    migrate(v1, file, MIGRATIONS.slice(0, 1));
    v1.prepare(
      `INSERT INTO tasks (id, queue, owner, created_by, status, payload, max_attempts, created_at)
       VALUES ('tsk_old', 'end_a', 'team_1', 'user_1', 'PENDING', '{}', 1, 1)`,
    ).run();
    v1.close();
    const queue = new EmbeddedTaskQueue({ file, resultRetentionMs: 60_000 });
    await queue.ready();
    try {
      const [leased] = await queue.lease({ queue: "end_a", workerId: "w", max: 1, leaseMs: 10_000 });
      expect(leased?.id).toBe("tsk_old");
      expect(await queue.complete("tsk_old", leased!.leaseToken, { output: 1, statusCode: 200 })).toBe(true);
      expect(await queue.listDeliveriesOfTask("tsk_old")).toEqual([]);
      const fresh = await queue.enqueue(task({ callback: spec }));
      const [next] = await queue.lease({ queue: "end_a", workerId: "w", max: 1, leaseMs: 10_000 });
      await queue.complete(fresh.id, next!.leaseToken, { output: 2, statusCode: 200 });
      expect(await queue.listDeliveriesOfTask(fresh.id)).toHaveLength(1);
    } finally {
      await queue.close();
    }
  });

  it("stores no callback for a task without a spec, and the spec as JSON for one with it", async () => {
    const file = tempFile();
    const queue = new EmbeddedTaskQueue({ file, resultRetentionMs: 60_000 });
    await queue.ready();
    const plain = await queue.enqueue(task());
    const hooked = await queue.enqueue(task({ callback: spec }));
    await queue.close();
    const db = new Database(file, { readonly: true });
    try {
      const callbackOf = (id: string): unknown =>
        (db.prepare("SELECT callback FROM tasks WHERE id = ?").get(id) as { callback: string | null })
          .callback;
      expect(callbackOf(plain.id)).toBeNull();
      expect(JSON.parse(callbackOf(hooked.id) as string)).toEqual(spec);
    } finally {
      db.close();
    }
  });

  it("writes each delivery once when its completion shares a rolled-back batch with a failing write", async () => {
    const queue = new EmbeddedTaskQueue({ file: tempFile(), resultRetentionMs: 60_000 });
    await queue.ready();
    try {
      const tasks = await Promise.all([1, 2, 3].map(() => queue.enqueue(task({ callback: spec }))));
      const leased = await queue.lease({ queue: "end_a", workerId: "w", max: 3, leaseMs: 10_000 });
      const waiting = queue.waitForDue(3_600_000);
      // Issued in one turn: one transaction, which the duplicate enqueue rolls back; each write then
      // runs alone, so the completions (and their deliveries) still commit, exactly once each.
      const results = await Promise.allSettled([
        ...leased.map((t) => queue.complete(t.id, t.leaseToken, { output: 7, statusCode: 200 })),
        queue.enqueue(task({ id: tasks[0]!.id })),
      ]);
      expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "fulfilled", "rejected"]);
      expect(await waiting).toBe(true);
      for (const t of tasks) expect(await queue.listDeliveriesOfTask(t.id)).toHaveLength(1);
      expect(await queue.listDeliveries({ endpointId: "end_a" })).toHaveLength(3);
    } finally {
      await queue.close();
    }
  });

  it("keeps claims, listings and the retention purge on their indexes", async () => {
    const file = tempFile();
    const queue = new EmbeddedTaskQueue({ file, resultRetentionMs: 1 });
    await queue.ready();
    await queue.close();
    const db = new Database(file, { readonly: true });
    try {
      const sql = prepareDeliveryStatements(db);
      const plan = (name: keyof typeof sql, params: unknown[]): string =>
        (db.prepare(`EXPLAIN QUERY PLAN ${sql[name].source}`).all(...params) as { detail: string }[])
          .map((r) => r.detail)
          .join("; ");
      const list = { endpointId: "end_a", before: "\uffff", limit: 10 };
      const claim = { now: 1, max: 10, token: "t.", until: 2 };
      const expectations: [keyof typeof sql, unknown[], string][] = [
        ["claim", [claim], "deliveries_due_unclaimed"],
        ["anyLapsed", [{ now: 1 }], "deliveries_claimed"],
        ["nextDue", [], "deliveries_due_unclaimed"],
        ["nextClaimExpiry", [], "deliveries_claimed"],
        ["ofTask", ["tsk_x"], "deliveries_task"],
        ["ofEndpointStatus", [{ ...list, status: "failed" }], "deliveries_endpoint_status"],
        ["replayFailed", [1, "end_a"], "deliveries_endpoint_status"],
        ["purge", [1, 10], "deliveries_done"],
        ["oldestDone", [], "deliveries_done"],
        ["purgeAttempts", [1, 10], "deliveries_done"],
        ["attemptsOf", ["dlv_x"], "PRIMARY KEY"],
      ];
      for (const [name, params, index] of expectations) {
        const detail = plan(name, params);
        expect(detail, name).toContain(index);
        expect(detail, name).not.toContain("TEMP B-TREE");
      }
      // Only when a claim ran out (rare): both indexes, the few lapsed claims sorted into due order.
      const lapsed = plan("claimWithLapsed", [claim]);
      expect(lapsed).toContain("deliveries_due_unclaimed");
      expect(lapsed).toContain("deliveries_claimed");
    } finally {
      db.close();
    }
  });
});
