/**
 * The artifact store port: bytes addressed by `bucket` and `key`, such as uploaded bundle pickles and
 * zips, schema JSON, and pickled results. Locations are handed to clients as `s3://{bucket}/{key}` (the
 * Python client's form); `parseLocation` turns them back.
 *
 * Adapters: `artifacts/filesystem.ts` (under the data directory). Object stores come later.
 */
import type { Readable } from "node:stream";

export interface ArtifactInfo {
  bucket: string;
  key: string;
  size: number;
}

export interface ArtifactStore {
  ready(): Promise<void>;
  close(): Promise<void>;
  /**
   * Writes the stream to `bucket/key`, atomically (readers never see a partial file), and stops with a
   * `payload_too_large` LaunchError once `limitBytes` is passed, leaving nothing behind.
   */
  put(bucket: string, key: string, body: Readable | Uint8Array, limitBytes?: number): Promise<ArtifactInfo>;
  /** The bytes, or undefined when there is no such artifact. */
  get(bucket: string, key: string): Promise<Uint8Array | undefined>;
  /** A stream of the bytes, or undefined. */
  open(bucket: string, key: string): Promise<Readable | undefined>;
  stat(bucket: string, key: string): Promise<ArtifactInfo | undefined>;
  delete(bucket: string, key: string): Promise<boolean>;
  /** A local file path to read the artifact from, where the adapter keeps files (workers on this host). */
  localPath?(bucket: string, key: string): string | undefined;
}

/** `s3://bucket/some/key` → `{ bucket, key }`, or undefined for any other form. */
export function parseLocation(location: string): { bucket: string; key: string } | undefined {
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(location);
  if (!match) return undefined;
  return { bucket: match[1]!, key: match[2]! };
}

export function formatLocation(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`;
}
