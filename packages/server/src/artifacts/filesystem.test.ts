import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { text } from "node:stream/consumers";
import { isLaunchError } from "@launch/protocol";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FilesystemArtifactStore } from "./filesystem.js";

const bytes = (s: string) => new TextEncoder().encode(s);

/** Every file under `dir`, relative, sorted (temporary files included). */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

describe("FilesystemArtifactStore", () => {
  let dir: string;
  let store: FilesystemArtifactStore;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "launch-artifacts-"));
    store = new FilesystemArtifactStore(join(dir, "artifacts"));
    await store.ready();
  });

  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("round-trips bytes through put, get, open, stat and localPath", async () => {
    const info = await store.put("launch", "uploads/u1/model.pkl", bytes("pickled ✓"));
    expect(info).toEqual({
      bucket: "launch",
      key: "uploads/u1/model.pkl",
      size: bytes("pickled ✓").byteLength,
    });
    expect(new TextDecoder().decode(await store.get("launch", "uploads/u1/model.pkl"))).toBe("pickled ✓");
    const stream = await store.open("launch", "uploads/u1/model.pkl");
    expect(stream && (await text(stream))).toBe("pickled ✓");
    expect(await store.stat("launch", "uploads/u1/model.pkl")).toEqual(info);
    const path = store.localPath("launch", "uploads/u1/model.pkl");
    expect(path).toBe(join(dir, "artifacts", "launch", "uploads", "u1", "model.pkl"));
    expect(await readFile(path, "utf8")).toBe("pickled ✓");
  });

  it("accepts a stream of many chunks, strings included", async () => {
    const parts = ["a".repeat(70_000), "b".repeat(70_000), "tail"];
    const info = await store.put("launch", "big.bin", Readable.from(parts));
    expect(info.size).toBe(140_004);
    expect(await readFile(store.localPath("launch", "big.bin"), "utf8")).toBe(parts.join(""));
  });

  it("overwrites an artifact, leaving no temporary file", async () => {
    await store.put("launch", "k", bytes("first version"));
    await store.put("launch", "k", bytes("second"));
    expect(new TextDecoder().decode(await store.get("launch", "k"))).toBe("second");
    expect(await store.stat("launch", "k")).toEqual({ bucket: "launch", key: "k", size: 6 });
    expect(await filesUnder(join(dir, "artifacts"))).toEqual(["launch/k"]);
  });

  it("accepts exactly the limit and refuses one byte more, naming the limit and leaving nothing", async () => {
    expect((await store.put("launch", "fits", bytes("12345"), 5)).size).toBe(5);
    const error = await store
      .put("launch", "too-big", Readable.from([Buffer.from("123"), Buffer.from("456")]), 5)
      .catch((e: unknown) => e);
    expect(isLaunchError(error) && error.code).toBe("payload_too_large");
    expect((error as Error).message).toContain("5 bytes");
    expect(await store.stat("launch", "too-big")).toBeUndefined();
    expect(await filesUnder(join(dir, "artifacts"))).toEqual(["launch/fits"]);
  });

  it("keeps the previous bytes when an overwrite is refused for size", async () => {
    await store.put("launch", "k", bytes("old"));
    await expect(store.put("launch", "k", bytes("much too long"), 4)).rejects.toThrow(/4 bytes/);
    expect(new TextDecoder().decode(await store.get("launch", "k"))).toBe("old");
  });

  it("refuses buckets and keys that could leave the root", async () => {
    const attempts: [string, string][] = [
      ["..", "x"],
      [".", "x"],
      ["a/b", "x"],
      ["", "x"],
      ["launch", ""],
      ["launch", "../escape"],
      ["launch", "a/../../escape"],
      ["launch", "/etc/passwd"],
      ["launch", "a\\..\\b"],
      ["launch", "a\0b"],
      ["launch", "a//b"],
      ["launch", "a/"],
      ["launch", "./a"],
    ];
    for (const [bucket, key] of attempts) {
      for (const call of [
        () => store.put(bucket, key, bytes("x")),
        () => store.get(bucket, key),
        () => store.open(bucket, key),
        () => store.stat(bucket, key),
        () => store.delete(bucket, key),
        async () => store.localPath(bucket, key),
      ]) {
        const error = await call().catch((e: unknown) => e);
        expect(isLaunchError(error) && error.code, `${bucket} / ${key}`).toBe("bad_request");
        expect((error as Error).message).toMatch(/^Artifact (bucket|key) .* is not allowed: expected /);
      }
    }
    expect(existsSync(join(dir, "escape"))).toBe(false);
    expect(await filesUnder(dir)).toEqual([]);
  });

  it("answers undefined or false for a missing artifact", async () => {
    await store.put("launch", "dir/file", bytes("x"));
    for (const key of ["missing", "dir", "dir/file/below", "dir/other"]) {
      expect(await store.get("launch", key)).toBeUndefined();
      expect(await store.open("launch", key)).toBeUndefined();
      expect(await store.stat("launch", key)).toBeUndefined();
      expect(await store.delete("launch", key)).toBe(false);
    }
    expect(await store.get("other-bucket", "dir/file")).toBeUndefined();
  });

  it("deletes an artifact", async () => {
    await store.put("launch", "gone", bytes("x"));
    expect(await store.delete("launch", "gone")).toBe(true);
    expect(await store.get("launch", "gone")).toBeUndefined();
    expect(await store.delete("launch", "gone")).toBe(false);
  });
});
