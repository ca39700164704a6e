/**
 * Unpacks bundle artifacts (zip bytes, a zip file or a directory) into `<root>/<bundle id>/`, once per
 * bundle: bundles are immutable, so a directory that exists is complete. Each unpack goes into a temp
 * directory renamed into place atomically, so concurrent callers (in this process, which share one
 * unpack, or in other workers on the host) never see a partial directory.
 */
import { randomBytes } from "node:crypto";
import { cp, mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { isLaunchError, LaunchError, unzip } from "@launch/protocol";

/** Zip bytes, a path to a zip file or to a directory, or a function giving either (called only on a miss). */
export type BundleSource = Uint8Array | string | (() => Promise<Uint8Array | string>);

export interface BundleCacheOptions {
  /** The directory that holds one subdirectory per bundle. */
  root: string;
  /** The most bytes one bundle may unpack to. Default: `unzip`'s default (1 GiB). */
  maxBytes?: number;
}

const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** A per-host cache of unpacked bundles. */
export class BundleCache {
  private readonly root: string;
  private readonly inflight = new Map<string, Promise<string>>();

  constructor(private readonly options: BundleCacheOptions) {
    this.root = resolve(options.root);
  }

  /** Where a bundle is (or will be) unpacked. */
  pathOf(bundleId: string): string {
    if (!SAFE_ID.test(bundleId)) {
      throw new LaunchError(
        "bad_request",
        `Invalid bundle id ${JSON.stringify(bundleId)} for the bundle cache.`,
      );
    }
    return join(this.root, bundleId);
  }

  /**
   * The unpacked directory of `bundleId`, unpacking `source` first when it is not cached yet. Concurrent
   * calls for one bundle share one unpack. Throws a LaunchError for an invalid or oversized zip.
   *
   * @example const dir = await cache.unpack(bundle.id, () => artifacts.get(bucket, key).then((b) => b!));
   */
  unpack(bundleId: string, source: BundleSource): Promise<string> {
    let target: string;
    try {
      target = this.pathOf(bundleId);
    } catch (error) {
      return Promise.reject(error);
    }
    const running = this.inflight.get(bundleId);
    if (running) return running;
    const work = this.unpackOnce(bundleId, target, source).finally(() => this.inflight.delete(bundleId));
    this.inflight.set(bundleId, work);
    return work;
  }

  /** Removes a bundle's directory (for example when the bundle is deleted). */
  async evict(bundleId: string): Promise<void> {
    await rm(this.pathOf(bundleId), { recursive: true, force: true });
  }

  private async unpackOnce(bundleId: string, target: string, source: BundleSource): Promise<string> {
    if (await isDirectory(target)) return target;
    await mkdir(this.root, { recursive: true });
    const temp = join(this.root, `.tmp-${bundleId}-${randomBytes(6).toString("hex")}`);
    try {
      await mkdir(temp);
      const resolved = typeof source === "function" ? await source() : source;
      if (typeof resolved === "string") {
        const info = await stat(resolved).catch(() => undefined);
        if (!info)
          throw new LaunchError(
            "not_found",
            `Bundle ${bundleId}: the artifact file ${resolved} does not exist.`,
          );
        if (info.isDirectory()) await cp(resolved, temp, { recursive: true });
        else await this.writeZip(bundleId, await readFile(resolved), temp);
      } else {
        await this.writeZip(bundleId, resolved, temp);
      }
      try {
        await rename(temp, target);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        // Another process renamed its copy first: use theirs.
        if ((code === "ENOTEMPTY" || code === "EEXIST") && (await isDirectory(target))) {
          await rm(temp, { recursive: true, force: true });
          return target;
        }
        throw error;
      }
      return target;
    } catch (error) {
      await rm(temp, { recursive: true, force: true });
      throw error;
    }
  }

  private async writeZip(bundleId: string, bytes: Uint8Array, dir: string): Promise<void> {
    let files: { path: string; data: Uint8Array }[];
    try {
      files = unzip(bytes, this.options.maxBytes === undefined ? {} : { maxBytes: this.options.maxBytes });
    } catch (error) {
      if (isLaunchError(error)) {
        throw new LaunchError(error.code, `Bundle ${bundleId}: ${error.message}`, { cause: error });
      }
      throw error;
    }
    for (const file of files) {
      const destination = resolve(dir, file.path);
      // unzip already refuses unsafe paths; this guards the write itself.
      if (relative(dir, destination).startsWith("..")) {
        throw new LaunchError("bad_request", `Bundle ${bundleId}: unsafe path ${JSON.stringify(file.path)}.`);
      }
      await mkdir(dirname(destination), { recursive: true });
      await writeFile(destination, file.data);
    }
  }
}

async function isDirectory(path: string): Promise<boolean> {
  const info = await stat(path).catch(() => undefined);
  return info?.isDirectory() ?? false;
}
