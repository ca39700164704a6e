import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LaunchClient } from "@launch/client";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runCli } from "../run.js";
import { type MemoryIo, memoryIo } from "../test-io.js";

/** Waits until the serve command has printed its URL (the test timeout bounds the wait). */
async function listeningUrl(io: MemoryIo, exited: Promise<number>): Promise<string> {
  let done = false;
  void exited.then(() => {
    done = true;
  });
  for (;;) {
    const match = /listening on (http:\/\/[^\s]+)/.exec(io.stdoutText());
    if (match) return match[1]!;
    if (done) throw new Error(`serve exited early: ${io.stderrText()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("launch serve", () => {
  let dataDir: string;

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "launch-cli-serve-"));
  });
  afterEach(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it("starts with flags over the config, prints the admin key once, and stops when asked", async () => {
    const stop = new AbortController();
    const io = memoryIo({ LAUNCH_LOG_LEVEL: "warn", LAUNCH_PORT: "1" }, stop.signal);
    const exited = runCli(["serve", "--host", "127.0.0.1", "--port", "0", "--data-dir", dataDir], io);
    try {
      const url = await listeningUrl(io, exited);
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(url).not.toBe("http://127.0.0.1:1");
      const adminKey = /Admin API key[^:]*: (lk_[A-Za-z0-9_-]+)/.exec(io.stdoutText())?.[1];
      expect(adminKey).toBeDefined();
      const client = new LaunchClient({ apiKey: adminKey!, endpoint: url });
      expect(await client.listModelEndpoints()).toEqual([]);
    } finally {
      stop.abort();
    }
    expect(await exited).toBe(0);
    expect(io.stdoutText()).toContain("Stopped.");
    expect(io.stderrText()).toBe("");

    // A second start on the same data directory keeps the keys: no new admin key.
    const again = new AbortController();
    const io2 = memoryIo({ LAUNCH_LOG_LEVEL: "warn" }, again.signal);
    const exited2 = runCli(["serve", "--port", "0", "--data-dir", dataDir], io2);
    try {
      await listeningUrl(io2, exited2);
      expect(io2.stdoutText()).not.toContain("Admin API key");
    } finally {
      again.abort();
    }
    expect(await exited2).toBe(0);
  });

  it("--auth open accepts any key", async () => {
    const stop = new AbortController();
    const io = memoryIo({ LAUNCH_LOG_LEVEL: "silent" }, stop.signal);
    const exited = runCli(["serve", "--port", "0", "--data-dir", dataDir, "--auth", "open"], io);
    try {
      const url = await listeningUrl(io, exited);
      expect(io.stdoutText()).toContain("auth: open");
      const client = new LaunchClient({ apiKey: "fakeuser", endpoint: url });
      expect((await client.listModelBundlesV2()).model_bundles).toEqual([]);
    } finally {
      stop.abort();
    }
    expect(await exited).toBe(0);
  });

  it("bad flags are usage errors (exit 2) and start nothing", async () => {
    const port = memoryIo();
    expect(await runCli(["serve", "--port", "http", "--data-dir", dataDir], port)).toBe(2);
    expect(port.stderrText()).toContain("port");
    const auth = memoryIo();
    expect(await runCli(["serve", "--auth", "none", "--data-dir", dataDir], auth)).toBe(2);
    expect(auth.stderrText()).toContain("keys, open");
  });

  it("a bad setting in the environment fails with one error line naming it", async () => {
    const io = memoryIo({ LAUNCH_LOG_LEVEL: "loud" });
    expect(await runCli(["serve", "--port", "0", "--data-dir", dataDir], io)).toBe(1);
    expect(io.stderrText()).toMatch(/^error: .*LAUNCH_LOG_LEVEL.*\n$/);
  });
});
