import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { newId } from "@launch/protocol";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { EmbeddedTaskQueue } from "../queue/embedded/embedded-queue.js";
import { QueueSweeper, type SweeperLog } from "./sweeper.js";

describe("QueueSweeper", () => {
  let dir: string;
  let queue: EmbeddedTaskQueue;
  let sweeper: QueueSweeper | undefined;
  const errors: string[] = [];
  let onError: (() => void) | undefined;
  const log: SweeperLog = {
    debug: () => {},
    error: (fields, message) => {
      errors.push(`${message}: ${String((fields as { err?: Error }).err?.message)}`);
      onError?.();
    },
  };

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "launch-sweeper-"));
    queue = new EmbeddedTaskQueue({ file: join(dir, "queue.db"), resultRetentionMs: 60_000 });
    await queue.ready();
    errors.length = 0;
    onError = undefined;
  });

  afterEach(async () => {
    await sweeper?.stop();
    sweeper = undefined;
    await queue.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("puts a task whose lease expired back on the queue by itself", async () => {
    const id = newId("task");
    await queue.enqueue({
      id,
      queue: "end_a",
      owner: "t",
      createdBy: "u",
      payload: null,
      maxAttempts: 3,
      expiresAt: null,
    });
    await queue.lease({ queue: "end_a", workerId: "dead", max: 1, leaseMs: 1 });
    sweeper = new QueueSweeper({ queue, log, intervalMs: 5 });
    sweeper.start();
    // Wakes when a sweep requeues the task: no polling, no sleeping.
    expect(await queue.waitForWork("end_a", 20_000)).toBe(true);
    expect(await queue.get(id)).toMatchObject({ status: "PENDING", attempts: 1 });
  });

  it("records a failing sweep in the log and keeps sweeping; stop ends it", async () => {
    await queue.close();
    sweeper = new QueueSweeper({ queue, log, intervalMs: 5 });
    const twoErrors = new Promise<void>((resolve) => {
      onError = () => {
        if (errors.length >= 2) resolve();
      };
    });
    sweeper.start();
    await twoErrors;
    expect(errors[0]).toBe("queue sweep failed; retrying on the next interval: the task queue is closed");
    await sweeper.stop();
    const seen = errors.length;
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(errors.length).toBe(seen);
  });

  it("sweepNow runs one sweep at once", async () => {
    const id = newId("task");
    await queue.enqueue({
      id,
      queue: "end_a",
      owner: "t",
      createdBy: "u",
      payload: null,
      maxAttempts: 1,
      expiresAt: Date.now() - 1,
    });
    sweeper = new QueueSweeper({ queue, log });
    await sweeper.sweepNow();
    expect(await queue.get(id)).toMatchObject({ status: "UNDEFINED" });
    expect(await queue.counts("end_a")).toEqual({ queued: 0, inFlight: 0 });
  });
});
