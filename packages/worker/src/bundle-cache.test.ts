import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { zipFiles } from "@launch/protocol";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BundleCache } from "./bundle-cache.js";

const text = (s: string) => new TextEncoder().encode(s);
const bundleZip = zipFiles([
  { path: "model.mjs", data: text("export const loadModel = () => 1;") },
  { path: "lib/util.mjs", data: text("export default 2;") },
]);

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "launch-bundle-cache-"));
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

const cacheDir = () => join(root, "cache");
const leftovers = () => readdirSync(cacheDir()).filter((name) => name.startsWith(".tmp-"));

describe("BundleCache", () => {
  it("unpacks zip bytes into <root>/<bundle id> once", async () => {
    const cache = new BundleCache({ root: cacheDir() });
    let loads = 0;
    const source = async () => {
      loads += 1;
      return bundleZip;
    };
    const dir = await cache.unpack("bun_a", source);
    expect(dir).toBe(join(cacheDir(), "bun_a"));
    expect(readFileSync(join(dir, "model.mjs"), "utf8")).toBe("export const loadModel = () => 1;");
    expect(readFileSync(join(dir, "lib/util.mjs"), "utf8")).toBe("export default 2;");
    expect(await cache.unpack("bun_a", source)).toBe(dir);
    expect(loads).toBe(1);
  });

  it("shares one unpack between concurrent callers", async () => {
    const cache = new BundleCache({ root: cacheDir() });
    let loads = 0;
    const source = async () => {
      loads += 1;
      await new Promise((resolve) => setTimeout(resolve, 20));
      return bundleZip;
    };
    const dirs = await Promise.all(Array.from({ length: 5 }, () => cache.unpack("bun_b", source)));
    expect(new Set(dirs).size).toBe(1);
    expect(loads).toBe(1);
    expect(leftovers()).toEqual([]);
  });

  it("lets separate caches on one root (separate workers) race safely", async () => {
    const caches = Array.from({ length: 4 }, () => new BundleCache({ root: cacheDir() }));
    const dirs = await Promise.all(caches.map((cache) => cache.unpack("bun_c", bundleZip)));
    expect(new Set(dirs).size).toBe(1);
    expect(readFileSync(join(dirs[0]!, "lib/util.mjs"), "utf8")).toBe("export default 2;");
    expect(leftovers()).toEqual([]);
  });

  it("unpacks a zip file or copies a directory given by path", async () => {
    const cache = new BundleCache({ root: cacheDir() });
    const file = join(root, "bundle.zip");
    writeFileSync(file, bundleZip);
    expect(readdirSync(await cache.unpack("bun_file", file)).sort()).toEqual(["lib", "model.mjs"]);

    const source = join(root, "src");
    mkdirSync(join(source, "sub"), { recursive: true });
    writeFileSync(join(source, "sub/a.mjs"), "export {};");
    expect(readFileSync(join(await cache.unpack("bun_dir", source), "sub/a.mjs"), "utf8")).toBe("export {};");

    await expect(cache.unpack("bun_missing", join(root, "nope.zip"))).rejects.toThrow(
      /Bundle bun_missing: the artifact file .*nope\.zip does not exist/,
    );
  });

  it("leaves nothing behind for a bad zip or one over the size limit", async () => {
    const cache = new BundleCache({ root: cacheDir(), maxBytes: 10 });
    await expect(cache.unpack("bun_bad", text("not a zip"))).rejects.toMatchObject({
      name: "LaunchError",
      code: "bad_request",
      message: expect.stringMatching(/^Bundle bun_bad: Invalid zip/),
    });
    await expect(cache.unpack("bun_big", bundleZip)).rejects.toMatchObject({ code: "payload_too_large" });
    expect(readdirSync(cacheDir())).toEqual([]);
  });

  it("refuses bundle ids that are not plain names, and evicts", async () => {
    const cache = new BundleCache({ root: cacheDir() });
    await expect(cache.unpack("../escape", bundleZip)).rejects.toThrow(/Invalid bundle id "..\/escape"/);
    await cache.unpack("bun_e", bundleZip);
    await cache.evict("bun_e");
    expect(readdirSync(cacheDir())).toEqual([]);
  });
});
