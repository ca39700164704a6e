import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { FilesystemArtifactStore } from "../artifacts/filesystem.js";
import { parseLocation } from "../artifacts/port.js";
import { openEmbeddedHarness } from "../queue/embedded/testing.js";
import { recordOutcome } from "./worker-tasks.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function setup() {
  let now = 1_000_000;
  const harness = await openEmbeddedHarness("launch-worker-tasks-", "queue.db", {
    clock: () => now,
    resultRetentionMs: 86_400_000,
  });
  const dir = mkdtempSync(join(tmpdir(), "launch-artifacts-"));
  const artifacts = new FilesystemArtifactStore(dir);
  await artifacts.ready();
  cleanups.push(async () => {
    await harness.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });
  return { queue: harness.queue, artifacts, advance: (ms: number) => (now += ms), now: () => now };
}

const pickle = (text: string) => Buffer.from(text).toString("base64");

describe("recordOutcome with pickled outputs", () => {
  it("stores the result under the task's own team, and a late losing attempt never replaces it", async () => {
    const { queue, artifacts, advance, now } = await setup();
    await queue.enqueue({
      id: "tsk_1",
      queue: "end_public",
      owner: "caller-team",
      createdBy: "bob",
      payload: {},
      maxAttempts: 3,
      expiresAt: null,
    });
    const [first] = await queue.lease({ queue: "end_public", workerId: "w1", max: 1, leaseMs: 1_000 });
    advance(2_000);
    await queue.sweep(now());
    const [second] = await queue.lease({ queue: "end_public", workerId: "w2", max: 1, leaseMs: 1_000 });
    const deps = { queue, artifacts };

    expect(
      await recordOutcome(deps, "tsk_1", second!.leaseToken, {
        ok: true,
        output: null,
        statusCode: 200,
        pickled: pickle("winner"),
      }),
    ).toBe(true);
    expect(
      await recordOutcome(deps, "tsk_1", first!.leaseToken, {
        ok: true,
        output: null,
        statusCode: 200,
        pickled: pickle("loser"),
      }),
    ).toBe(false);

    const url = (await queue.get("tsk_1"))?.result?.resultUrl;
    const location = parseLocation(url ?? "");
    expect(location?.key).toMatch(/^results\/caller-team\/tsk_1-upl_[0-9a-z]+\.pkl$/);
    expect(Buffer.from((await artifacts.get(location!.bucket, location!.key))!).toString()).toBe("winner");
    expect(
      await recordOutcome(deps, "tsk_1", second!.leaseToken, {
        ok: true,
        output: null,
        statusCode: 200,
        pickled: pickle("again"),
      }),
    ).toBe(false);
    expect(Buffer.from((await artifacts.get(location!.bucket, location!.key))!).toString()).toBe("winner");
  });
});
