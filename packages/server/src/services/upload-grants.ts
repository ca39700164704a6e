/**
 * Upload grants: the token in an upload URL. A grant lets whoever holds it write one artifact
 * (`bucket`/`key`) until it expires, without an API key, as an S3 presigned URL does. It is
 * `v1.<payload>.<signature>`: base64url JSON `{b, k, e}` (bucket, key, expiry in Unix seconds) and an
 * HMAC-SHA256 over `v1.<payload>` with a key derived from the server's secrets key.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { LaunchError } from "@launch/protocol";

const VERSION = "v1";
const REQUEST_NEW = "request a new upload URL with POST /v1/hosted_inference/model_bundle_upload";

export interface UploadGrant {
  bucket: string;
  key: string;
  expiresAt: Date;
}

/**
 * Signs a grant into a URL-safe token.
 *
 * @example const token = signUploadGrant(signingKey, { bucket, key, expiresAt });
 */
export function signUploadGrant(signingKey: Buffer, grant: UploadGrant): string {
  const payload = Buffer.from(
    JSON.stringify({ b: grant.bucket, k: grant.key, e: Math.floor(grant.expiresAt.getTime() / 1000) }),
  ).toString("base64url");
  return `${VERSION}.${payload}.${sign(signingKey, payload)}`;
}

/**
 * The grant a token carries, or a 403 LaunchError saying why it cannot be used: not a token, a
 * signature that does not match (tampered, or signed by another secrets key), or expired.
 */
export function verifyUploadGrant(signingKey: Buffer, token: string, now: Date): UploadGrant {
  const [version, payload, signature, ...rest] = token.split(".");
  if (version !== VERSION || !payload || !signature || rest.length > 0) {
    throw new LaunchError("forbidden", `This upload URL is not valid; ${REQUEST_NEW}.`);
  }
  const expected = Buffer.from(sign(signingKey, payload));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
    throw new LaunchError(
      "forbidden",
      `This upload URL's signature does not match (it was changed, or signed by another server); ${REQUEST_NEW}.`,
    );
  }
  let claims: { b?: unknown; k?: unknown; e?: unknown };
  try {
    claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
  } catch (error) {
    throw new LaunchError("forbidden", `This upload URL is not valid; ${REQUEST_NEW}.`, { cause: error });
  }
  if (typeof claims.b !== "string" || typeof claims.k !== "string" || typeof claims.e !== "number") {
    throw new LaunchError("forbidden", `This upload URL is not valid; ${REQUEST_NEW}.`);
  }
  const expiresAt = new Date(claims.e * 1000);
  if (now.getTime() >= expiresAt.getTime()) {
    throw new LaunchError(
      "forbidden",
      `This upload URL expired at ${expiresAt.toISOString()}; ${REQUEST_NEW}.`,
    );
  }
  return { bucket: claims.b, key: claims.k, expiresAt };
}

function sign(signingKey: Buffer, payload: string): string {
  return createHmac("sha256", signingKey).update(`${VERSION}.${payload}`).digest("base64url");
}
