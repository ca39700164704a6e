/**
 * Artifacts that clients upload (bundle pickles, zips, schema JSON) and that the server writes for them
 * (pickled results): where they live, who owns them, and how an `s3://bucket/key` location resolves.
 *
 * Keys are `<kind>/<owner>/<name>`, so the owning team can be read from the key itself: `owner` is the
 * team id with `%`-escapes for anything outside `[A-Za-z0-9_@-]` (so `.` and `/` never appear, and no
 * key can climb out of its team's folder).
 */
import { LaunchError, newId } from "@launch/protocol";
import { type ArtifactStore, formatLocation, parseLocation } from "../artifacts/port.js";
import type { LaunchConfig } from "../config/schema.js";
import type { SecretsBox } from "../domain/secrets-box.js";
import { signUploadGrant } from "./upload-grants.js";

/** The bucket this server hands out in upload URLs and result locations. */
export const ARTIFACT_BUCKET = "launch";

/** What a key holds, its first segment. */
export type ArtifactKind = "uploads" | "results";

/** The owner segment of a key for a team id (reversible, path-safe). */
export function ownerSegment(teamId: string): string {
  return teamId.replace(/[^A-Za-z0-9_@-]/gu, (c) =>
    [...Buffer.from(c, "utf8")].map((b) => `%${b.toString(16).toUpperCase().padStart(2, "0")}`).join(""),
  );
}

/**
 * A new artifact key owned by `teamId`.
 *
 * @example artifactKey("uploads", "ml-team") // "uploads/ml-team/upl_01jdq9z6v4k3m8n2p5r7s9t1vw"
 */
export function artifactKey(kind: ArtifactKind, teamId: string, name = newId("upload")): string {
  return `${kind}/${ownerSegment(teamId)}/${name}`;
}

/** Whether a key is well formed: non-empty segments, none of them `.` or `..`, no backslash or NUL. */
export function isSafeKey(key: string): boolean {
  if (key.length === 0 || key.length > 1024 || /[\\\0]/.test(key)) return false;
  return key.split("/").every((part) => part !== "" && part !== "." && part !== "..");
}

/** The team that owns a key made by {@link artifactKey}, or undefined for any other key. */
export function ownerOfKey(key: string): string | undefined {
  if (!isSafeKey(key)) return undefined;
  const parts = key.split("/");
  if (parts.length < 3) return undefined;
  try {
    return decodeURIComponent(parts[1]!);
  } catch {
    return undefined;
  }
}

/** Whether `teamId` may read `bucket`/`key`. */
export function canRead(teamId: string, bucket: string, key: string): boolean {
  return bucket === ARTIFACT_BUCKET && ownerOfKey(key) === teamId;
}

export interface ResolvedArtifact {
  bucket: string;
  key: string;
  size: number;
  /** A local file to read it from, when the artifact store keeps files on this host. */
  localPath: string | undefined;
}

/**
 * Resolves an `s3://bucket/key` location this server handed out. With `teamId`, only that team's
 * artifacts resolve (another team's answers undefined, exactly like a missing one).
 *
 * @example const artifact = await resolveLocation(artifacts, bundle.flavor.location, bundle.owner);
 */
export async function resolveLocation(
  artifacts: ArtifactStore,
  location: string,
  teamId?: string,
): Promise<ResolvedArtifact | undefined> {
  const parsed = parseLocation(location);
  if (!parsed || !isSafeKey(parsed.key)) return undefined;
  if (teamId !== undefined && !canRead(teamId, parsed.bucket, parsed.key)) return undefined;
  const info = await artifacts.stat(parsed.bucket, parsed.key);
  if (!info) return undefined;
  return { ...info, localPath: artifacts.localPath?.(parsed.bucket, parsed.key) };
}

/** The bytes at a location (see {@link resolveLocation}), or undefined. */
export async function readLocation(
  artifacts: ArtifactStore,
  location: string,
  teamId?: string,
): Promise<Uint8Array | undefined> {
  const resolved = await resolveLocation(artifacts, location, teamId);
  return resolved && artifacts.get(resolved.bucket, resolved.key);
}

/** `POST /v1/hosted_inference/model_bundle_upload` answer. */
export interface UploadUrl {
  signedUrl: string;
  bucket: string;
  key: string;
}

/**
 * Hands out an upload URL for a new key owned by `teamId`: `<baseUrl>/v1/uploads/<grant>`, valid for
 * `uploadUrlTtlSeconds`. The client PUTs the bytes there without an API key and then uses
 * `s3://{bucket}/{key}` as the location.
 */
export function createUploadUrl(
  deps: { config: Pick<LaunchConfig, "uploadUrlTtlSeconds">; secrets: SecretsBox },
  teamId: string,
  baseUrl: string,
  now: Date,
): UploadUrl {
  const bucket = ARTIFACT_BUCKET;
  const key = artifactKey("uploads", teamId);
  const expiresAt = new Date(now.getTime() + deps.config.uploadUrlTtlSeconds * 1000);
  const token = signUploadGrant(uploadSigningKey(deps.secrets), { bucket, key, expiresAt });
  return { signedUrl: `${baseUrl.replace(/\/+$/, "")}/v1/uploads/${token}`, bucket, key };
}

/** The key upload grants are signed with, derived from the secrets key. */
export function uploadSigningKey(secrets: SecretsBox): Buffer {
  return secrets.deriveKey("upload-url");
}

/** The location clients use for an uploaded artifact. */
export function locationOf(upload: Pick<UploadUrl, "bucket" | "key">): string {
  return formatLocation(upload.bucket, upload.key);
}

/** The 404 for an artifact that is missing or not the caller's. */
export function artifactNotFound(): LaunchError {
  return new LaunchError("not_found", "The specified artifact could not be found.");
}
