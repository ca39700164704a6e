/**
 * A small, dependency-free zip writer and reader for bundles (`bundles.md` §1): the SDK packs a
 * directory with `zipFiles`, workers unpack it with `unzip`. Entries are deflated (or stored when that is
 * smaller); the reader accepts stored and deflated entries as written by Python's `zipfile`, the `zip`
 * command and this writer, including data descriptors and Zip64 records.
 *
 * Safety: every path is checked (`assertSafeZipPath`) on both sides, links and encrypted entries are
 * refused, and `unzip` stops before inflating more than `maxBytes` in total (zip bombs), checking each
 * entry's real size and CRC-32 against its header.
 */
import { crc32, deflateRawSync, inflateRawSync } from "node:zlib";
import { LaunchError } from "./errors.js";

/** One file of a zip archive: a relative path with `/` separators and its bytes. */
export interface ZipEntry {
  path: string;
  data: Uint8Array;
}

export interface ZipOptions {
  /** zlib compression level, 0 (none) to 9 (smallest). Default 6. */
  level?: number;
}

export interface UnzipOptions {
  /** The most bytes all entries may unpack to, together. Default `DEFAULT_UNZIP_MAX_BYTES` (1 GiB). */
  maxBytes?: number;
  /** The most entries (files and directories) the archive may hold. Default 100,000. */
  maxEntries?: number;
}

/** Default cap on the total unpacked size of an archive: 1 GiB. */
export const DEFAULT_UNZIP_MAX_BYTES = 1024 * 1024 * 1024;
const DEFAULT_UNZIP_MAX_ENTRIES = 100_000;

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const METHOD_STORED = 0;
const METHOD_DEFLATED = 8;
const FLAG_ENCRYPTED = 0x0001;
const FLAG_UTF8 = 0x0800;
const MAX_U16 = 0xffff;
const MAX_U32 = 0xffffffff;
/** 1980-01-01 00:00, the earliest DOS date: archives made from the same files are byte-identical. */
const DOS_DATE = (0 << 9) | (1 << 5) | 1;
const DOS_TIME = 0;
const UNIX_FILE_MODE = 0o100644;
const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;

const PATH_RULE = 'paths must be relative, use "/" separators, and contain no "..", "." or empty segments';

function invalid(message: string): LaunchError {
  return new LaunchError("bad_request", message);
}

/**
 * Throws a `bad_request` LaunchError unless `path` is a safe relative archive path: not absolute (no
 * leading `/`, no drive letter), no backslash, no NUL, and no `..`, `.` or empty segment. A trailing `/`
 * (a directory entry) is allowed.
 *
 * @example assertSafeZipPath("model/model.mjs") // ok
 * @example assertSafeZipPath("../etc/passwd") // throws
 */
export function assertSafeZipPath(path: string): void {
  const shown = JSON.stringify(path);
  if (path.length === 0) throw invalid(`Unsafe path in zip: empty path (${PATH_RULE}).`);
  if (path.includes("\0")) throw invalid(`Unsafe path in zip: ${shown} contains a NUL character.`);
  if (path.includes("\\")) throw invalid(`Unsafe path in zip: ${shown} contains a backslash (${PATH_RULE}).`);
  if (path.startsWith("/") || /^[A-Za-z]:/.test(path)) {
    throw invalid(`Unsafe path in zip: ${shown} is absolute (${PATH_RULE}).`);
  }
  const segments = (path.endsWith("/") ? path.slice(0, -1) : path).split("/");
  for (const segment of segments) {
    if (segment === ".." || segment === "." || segment === "") {
      throw invalid(`Unsafe path in zip: ${shown} (${PATH_RULE}).`);
    }
  }
}

/**
 * Packs files into a zip archive (deflated, or stored when deflating does not help). Paths are checked
 * with `assertSafeZipPath` and must be unique; timestamps are fixed so the same files give the same bytes.
 *
 * @example const zip = zipFiles([{ path: "model.mjs", data: new TextEncoder().encode("export …") }]);
 */
export function zipFiles(entries: readonly ZipEntry[], options: ZipOptions = {}): Uint8Array {
  if (entries.length >= MAX_U16) {
    throw invalid(`Cannot zip ${entries.length} files: at most ${MAX_U16 - 1} are supported.`);
  }
  const level = options.level ?? 6;
  const seen = new Set<string>();
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    assertSafeZipPath(entry.path);
    if (entry.path.endsWith("/"))
      throw invalid(`Cannot zip ${JSON.stringify(entry.path)}: it names a directory.`);
    if (seen.has(entry.path))
      throw invalid(`Cannot zip: the path ${JSON.stringify(entry.path)} appears twice.`);
    seen.add(entry.path);
    if (entry.data.length >= MAX_U32) {
      throw invalid(`Cannot zip ${JSON.stringify(entry.path)}: files of 4 GiB or more are not supported.`);
    }
    const name = Buffer.from(entry.path, "utf8");
    const crc = crc32(entry.data);
    const deflated = level === 0 ? undefined : deflateRawSync(entry.data, { level });
    const useDeflate = deflated !== undefined && deflated.length < entry.data.length;
    const body = useDeflate ? deflated : entry.data;
    const method = useDeflate ? METHOD_DEFLATED : METHOD_STORED;

    const local = Buffer.alloc(30);
    local.writeUInt32LE(SIG_LOCAL, 0);
    local.writeUInt16LE(20, 4); // version needed: 2.0 (deflate)
    local.writeUInt16LE(FLAG_UTF8, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt16LE(DOS_TIME, 10);
    local.writeUInt16LE(DOS_DATE, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(entry.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);

    const central = Buffer.alloc(46);
    central.writeUInt32LE(SIG_CENTRAL, 0);
    central.writeUInt16LE((3 << 8) | 20, 4); // made by: Unix, 2.0
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(FLAG_UTF8, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt16LE(DOS_TIME, 12);
    central.writeUInt16LE(DOS_DATE, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(entry.data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE((UNIX_FILE_MODE << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);

    locals.push(local, name, Buffer.from(body.buffer, body.byteOffset, body.length));
    centrals.push(central, name);
    offset += local.length + name.length + body.length;
    if (offset >= MAX_U32) throw invalid("Cannot zip: archives of 4 GiB or more are not supported.");
  }
  const centralSize = centrals.reduce((sum, part) => sum + part.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(SIG_EOCD, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(centralSize, 12);
  end.writeUInt32LE(offset, 16);
  const out = Buffer.concat([...locals, ...centrals, end]);
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

interface CentralRecord {
  path: string;
  method: number;
  flags: number;
  crc: number;
  compressedSize: number;
  size: number;
  localOffset: number;
  isLink: boolean;
}

/**
 * Unpacks a zip archive into its files (directory entries are checked, then left out: directories are
 * implied by file paths). Throws a `bad_request` LaunchError for a malformed archive, an unsafe or
 * duplicate path, a link, an encrypted entry or an unsupported compression method, and a
 * `payload_too_large` LaunchError when the files would unpack to more than `maxBytes`.
 *
 * @example for (const { path, data } of unzip(bytes)) await writeFile(join(dir, path), data);
 */
export function unzip(bytes: Uint8Array, options: UnzipOptions = {}): ZipEntry[] {
  const maxBytes = options.maxBytes ?? DEFAULT_UNZIP_MAX_BYTES;
  const maxEntries = options.maxEntries ?? DEFAULT_UNZIP_MAX_ENTRIES;
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const records = readCentralDirectory(buf, maxEntries);

  let total = 0;
  for (const record of records) {
    total += record.size;
    if (total > maxBytes) {
      throw new LaunchError(
        "payload_too_large",
        `The zip unpacks to more than ${maxBytes} bytes (the unpack limit); make the bundle smaller or raise the limit.`,
      );
    }
  }

  const seen = new Set<string>();
  const files: ZipEntry[] = [];
  for (const record of records) {
    assertSafeZipPath(record.path);
    const shown = JSON.stringify(record.path);
    if (seen.has(record.path)) throw invalid(`Invalid zip: the path ${shown} appears twice.`);
    seen.add(record.path);
    if (record.isLink)
      throw invalid(`Unsupported zip entry ${shown}: symbolic links are not allowed in bundles.`);
    if (record.path.endsWith("/")) continue;
    if (record.flags & FLAG_ENCRYPTED) throw invalid(`Unsupported zip entry ${shown}: it is encrypted.`);
    files.push({ path: record.path, data: readEntryData(buf, record) });
  }
  return files;
}

function readCentralDirectory(buf: Buffer, maxEntries: number): CentralRecord[] {
  const eocd = findEndOfCentralDirectory(buf);
  if (buf.readUInt16LE(eocd + 4) !== 0 || buf.readUInt16LE(eocd + 6) !== 0) {
    throw invalid("Unsupported zip: multi-part (spanned) archives are not supported.");
  }
  let count = buf.readUInt16LE(eocd + 10);
  let centralSize = buf.readUInt32LE(eocd + 12);
  let centralOffset = buf.readUInt32LE(eocd + 16);
  if (count === MAX_U16 || centralSize === MAX_U32 || centralOffset === MAX_U32) {
    const zip64 = readZip64End(buf, eocd);
    count = zip64.count;
    centralSize = zip64.centralSize;
    centralOffset = zip64.centralOffset;
  }
  if (count > maxEntries) {
    throw new LaunchError(
      "payload_too_large",
      `The zip holds ${count} entries; at most ${maxEntries} are allowed.`,
    );
  }
  if (centralOffset + centralSize > buf.length)
    throw invalid("Invalid zip: the central directory is truncated.");

  const records: CentralRecord[] = [];
  let at = centralOffset;
  for (let i = 0; i < count; i++) {
    if (at + 46 > buf.length || buf.readUInt32LE(at) !== SIG_CENTRAL) {
      throw invalid(`Invalid zip: central directory entry ${i + 1} of ${count} is malformed.`);
    }
    const madeBy = buf.readUInt16LE(at + 4);
    const flags = buf.readUInt16LE(at + 8);
    const method = buf.readUInt16LE(at + 10);
    const crc = buf.readUInt32LE(at + 16);
    let compressedSize = buf.readUInt32LE(at + 20);
    let size = buf.readUInt32LE(at + 24);
    const nameLength = buf.readUInt16LE(at + 28);
    const extraLength = buf.readUInt16LE(at + 30);
    const commentLength = buf.readUInt16LE(at + 32);
    const externalAttributes = buf.readUInt32LE(at + 38);
    let localOffset = buf.readUInt32LE(at + 42);
    const nameStart = at + 46;
    const extraStart = nameStart + nameLength;
    const next = extraStart + extraLength + commentLength;
    if (next > buf.length) throw invalid(`Invalid zip: central directory entry ${i + 1} is truncated.`);
    const path = buf.toString("utf8", nameStart, extraStart);

    if (size === MAX_U32 || compressedSize === MAX_U32 || localOffset === MAX_U32) {
      const z = readZip64Extra(buf.subarray(extraStart, extraStart + extraLength), path);
      if (size === MAX_U32) size = z.next();
      if (compressedSize === MAX_U32) compressedSize = z.next();
      if (localOffset === MAX_U32) localOffset = z.next();
    }
    const isUnix = madeBy >> 8 === 3;
    const isLink = isUnix && ((externalAttributes >>> 16) & S_IFMT) === S_IFLNK;
    records.push({ path, method, flags, crc, compressedSize, size, localOffset, isLink });
    at = next;
  }
  return records;
}

function findEndOfCentralDirectory(buf: Buffer): number {
  const last = buf.length - 22;
  const first = Math.max(0, last - MAX_U16);
  for (let i = last; i >= first; i--) {
    if (buf.readUInt32LE(i) === SIG_EOCD && i + 22 + buf.readUInt16LE(i + 20) <= buf.length) return i;
  }
  throw invalid("Invalid zip: no end-of-central-directory record (is this a zip file?).");
}

function readZip64End(
  buf: Buffer,
  eocd: number,
): { count: number; centralSize: number; centralOffset: number } {
  const locator = eocd - 20;
  if (locator < 0 || buf.readUInt32LE(locator) !== SIG_ZIP64_LOCATOR) {
    throw invalid("Invalid zip: the Zip64 end-of-central-directory locator is missing.");
  }
  const end = safeNumber(buf.readBigUInt64LE(locator + 8), "Zip64 record offset");
  if (end + 56 > buf.length || buf.readUInt32LE(end) !== SIG_ZIP64_EOCD) {
    throw invalid("Invalid zip: the Zip64 end-of-central-directory record is malformed.");
  }
  return {
    count: safeNumber(buf.readBigUInt64LE(end + 32), "entry count"),
    centralSize: safeNumber(buf.readBigUInt64LE(end + 40), "central directory size"),
    centralOffset: safeNumber(buf.readBigUInt64LE(end + 48), "central directory offset"),
  };
}

function readZip64Extra(extra: Buffer, path: string): { next(): number } {
  let at = 0;
  while (at + 4 <= extra.length) {
    const id = extra.readUInt16LE(at);
    const length = extra.readUInt16LE(at + 2);
    if (id === 0x0001) {
      let cursor = at + 4;
      const stop = cursor + length;
      return {
        next() {
          if (cursor + 8 > stop || cursor + 8 > extra.length) {
            throw invalid(`Invalid zip: the Zip64 field of ${JSON.stringify(path)} is truncated.`);
          }
          const value = safeNumber(extra.readBigUInt64LE(cursor), `size of ${JSON.stringify(path)}`);
          cursor += 8;
          return value;
        },
      };
    }
    at += 4 + length;
  }
  throw invalid(`Invalid zip: ${JSON.stringify(path)} needs a Zip64 field but has none.`);
}

function safeNumber(value: bigint, what: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw invalid(`Invalid zip: the ${what} is too large.`);
  return Number(value);
}

function readEntryData(buf: Buffer, record: CentralRecord): Uint8Array {
  const shown = JSON.stringify(record.path);
  const at = record.localOffset;
  if (at + 30 > buf.length || buf.readUInt32LE(at) !== SIG_LOCAL) {
    throw invalid(`Invalid zip: the local header of ${shown} is missing.`);
  }
  const start = at + 30 + buf.readUInt16LE(at + 26) + buf.readUInt16LE(at + 28);
  const end = start + record.compressedSize;
  if (end > buf.length) throw invalid(`Invalid zip: the data of ${shown} is truncated.`);
  const raw = buf.subarray(start, end);

  let data: Uint8Array;
  if (record.method === METHOD_STORED) {
    if (record.compressedSize !== record.size) {
      throw invalid(`Invalid zip: stored entry ${shown} has different compressed and real sizes.`);
    }
    data = new Uint8Array(raw);
  } else if (record.method === METHOD_DEFLATED) {
    try {
      // The cap stops an entry whose header understates its size from inflating without bound.
      const out = inflateRawSync(raw, { maxOutputLength: Math.max(1, record.size) });
      data = new Uint8Array(out.buffer, out.byteOffset, out.length);
    } catch (error) {
      const reason =
        (error as { code?: string }).code === "ERR_BUFFER_TOO_LARGE"
          ? "inflates beyond its declared size"
          : "could not be inflated";
      throw new LaunchError("bad_request", `Invalid zip: entry ${shown} ${reason}.`, { cause: error });
    }
  } else {
    throw invalid(
      `Unsupported zip entry ${shown}: compression method ${record.method} (only stored (0) and deflate (8) are supported).`,
    );
  }
  if (data.length !== record.size) {
    throw invalid(
      `Invalid zip: entry ${shown} unpacks to ${data.length} bytes, not the declared ${record.size}.`,
    );
  }
  if (crc32(data) !== record.crc) throw invalid(`Invalid zip: entry ${shown} fails its CRC-32 check.`);
  return data;
}
