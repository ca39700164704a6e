/**
 * Test helpers for the embedded adapter: a queue opened on a fresh temporary file, reopened on the same
 * file (a restart) and removed afterwards, as the queue and outbox behaviour suites expect.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EmbeddedTaskQueue, type EmbeddedTaskQueueOptions } from "./embedded-queue.js";

export interface EmbeddedHarness {
  queue: EmbeddedTaskQueue;
  /** Closes the current queue and opens a new one on the same file. */
  reopen(): Promise<EmbeddedTaskQueue>;
  /** Closes the current queue and removes its directory. */
  cleanup(): Promise<void>;
}

/**
 * Opens (and readies) an embedded queue at `<temp dir>/<path>`.
 *
 * @example const { queue, reopen, cleanup } = await openEmbeddedHarness("launch-queue-", "queue.db", { clock, resultRetentionMs });
 */
export async function openEmbeddedHarness(
  prefix: string,
  path: string,
  options: Omit<EmbeddedTaskQueueOptions, "file">,
): Promise<EmbeddedHarness> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const full: EmbeddedTaskQueueOptions = { ...options, file: join(dir, path) };
  let queue = new EmbeddedTaskQueue(full);
  await queue.ready();
  const harness: EmbeddedHarness = {
    queue,
    async reopen() {
      await queue.close();
      queue = new EmbeddedTaskQueue(full);
      await queue.ready();
      harness.queue = queue;
      return queue;
    },
    async cleanup() {
      await queue.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return harness;
}
