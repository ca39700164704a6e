/**
 * The artifact store on the local filesystem: `bucket/key` is the file `<root>/<bucket>/<key>`. Writes go
 * to a temporary file in the target's directory, are flushed, then renamed over the target, so readers
 * see the old bytes or the new ones, never a part.
 */
import { randomBytes } from "node:crypto";
import { mkdir, open, readFile, rename, stat, unlink } from "node:fs/promises";
import { basename, dirname, join, resolve, sep } from "node:path";
import type { Readable } from "node:stream";
import { LaunchError } from "@launch/protocol";
import type { ArtifactInfo, ArtifactStore } from "./port.js";

/**
 * `ArtifactStore` under one directory (the composition root passes `<dataDir>/artifacts`).
 *
 * @example const artifacts = new FilesystemArtifactStore("./.launch/artifacts"); await artifacts.ready();
 */
export class FilesystemArtifactStore implements ArtifactStore {
  /** The absolute root directory. */
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  async ready(): Promise<void> {
    await mkdir(this.root, { recursive: true });
  }

  async close(): Promise<void> {}

  async put(
    bucket: string,
    key: string,
    body: Readable | Uint8Array,
    limitBytes?: number,
  ): Promise<ArtifactInfo> {
    const target = this.#pathOf(bucket, key);
    await mkdir(dirname(target), { recursive: true });
    const temp = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString("hex")}.partial`);
    let size = 0;
    try {
      const file = await open(temp, "wx");
      try {
        for await (const chunk of chunksOf(body)) {
          size += chunk.byteLength;
          if (limitBytes !== undefined && size > limitBytes) {
            throw new LaunchError(
              "payload_too_large",
              `The artifact is larger than the limit of ${limitBytes} bytes.`,
            );
          }
          await writeAll(file, chunk);
        }
        await file.sync();
      } finally {
        await file.close();
      }
      await rename(temp, target);
    } catch (error) {
      await unlink(temp).catch(() => {});
      throw error;
    }
    return { bucket, key, size };
  }

  async get(bucket: string, key: string): Promise<Uint8Array | undefined> {
    const path = this.#pathOf(bucket, key);
    try {
      return new Uint8Array(await readFile(path));
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  async open(bucket: string, key: string): Promise<Readable | undefined> {
    const path = this.#pathOf(bucket, key);
    let file: Awaited<ReturnType<typeof open>>;
    try {
      file = await open(path, "r");
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
    if (!(await file.stat()).isFile()) {
      await file.close();
      return undefined;
    }
    // The stream owns the handle from here and closes it when it ends or is destroyed.
    return file.createReadStream();
  }

  async stat(bucket: string, key: string): Promise<ArtifactInfo | undefined> {
    const path = this.#pathOf(bucket, key);
    try {
      const info = await stat(path);
      return info.isFile() ? { bucket, key, size: info.size } : undefined;
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  async delete(bucket: string, key: string): Promise<boolean> {
    const path = this.#pathOf(bucket, key);
    try {
      await unlink(path);
      return true;
    } catch (error) {
      if (isMissing(error)) return false;
      throw error;
    }
  }

  /** The file that holds `bucket/key` (whether or not it exists yet). */
  localPath(bucket: string, key: string): string {
    return this.#pathOf(bucket, key);
  }

  /** The file path of `bucket/key`; throws `bad_request` for any value that could leave the root. */
  #pathOf(bucket: string, key: string): string {
    checkPart("bucket", bucket, false);
    checkPart("key", key, true);
    const path = join(this.root, bucket, ...key.split("/"));
    if (!path.startsWith(this.root + sep)) throw badName("key", key, "a path inside the artifact store");
    return path;
  }
}

/**
 * Checks a bucket (one segment) or a key (segments separated by `/`): no empty, `.` or `..` segment, no
 * leading `/`, no backslash, no NUL.
 */
function checkPart(field: "bucket" | "key", value: string, slashes: boolean): void {
  if (typeof value !== "string" || value === "") throw badName(field, value, "a non-empty string");
  if (value.includes("\0")) throw badName(field, value, "no NUL characters");
  if (value.includes("\\")) throw badName(field, value, "no backslashes");
  if (!slashes && value.includes("/")) throw badName(field, value, "no '/'");
  if (value.startsWith("/")) throw badName(field, value, "a relative path (no leading '/')");
  for (const segment of value.split("/")) {
    if (segment === "") throw badName(field, value, "no empty segments ('//' or a trailing '/')");
    if (segment === "." || segment === "..") throw badName(field, value, "no '.' or '..' segments");
  }
}

function badName(field: "bucket" | "key", value: string, expected: string): LaunchError {
  return new LaunchError(
    "bad_request",
    `Artifact ${field} ${JSON.stringify(value)} is not allowed: expected ${expected}.`,
  );
}

async function* chunksOf(body: Readable | Uint8Array): AsyncIterable<Uint8Array> {
  if (body instanceof Uint8Array) {
    yield body;
    return;
  }
  for await (const chunk of body) {
    yield typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Uint8Array);
  }
}

async function writeAll(file: Awaited<ReturnType<typeof open>>, chunk: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < chunk.byteLength) {
    const { bytesWritten } = await file.write(chunk, offset, chunk.byteLength - offset);
    offset += bytesWritten;
  }
}

function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === "ENOENT" || code === "ENOTDIR" || code === "EISDIR";
}
