/**
 * Callback signing, as in Standard Webhooks (https://www.standardwebhooks.com): the server signs every
 * callback and receivers verify it with the same functions (the SDK re-exports them).
 *
 * - `webhook-id`: the delivery id, stable across retries (use it to drop duplicates).
 * - `webhook-timestamp`: Unix seconds when the attempt was made.
 * - `webhook-signature`: `v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`, keyed by the bytes of
 *   the base64 part of the endpoint's `whsec_...` secret; during a secret rotation, one space-separated
 *   signature per secret.
 */
import { createHmac, createSecretKey, type KeyObject, randomBytes, timingSafeEqual } from "node:crypto";

/** The prefix of a signing secret. */
export const WEBHOOK_SECRET_PREFIX = "whsec_";

/** The three headers every callback carries, lower-case. */
export const WEBHOOK_HEADERS = {
  id: "webhook-id",
  timestamp: "webhook-timestamp",
  signature: "webhook-signature",
} as const;

/** How far a `webhook-timestamp` may be from the receiver's clock by default (5 minutes). */
export const DEFAULT_WEBHOOK_TOLERANCE_SECONDS = 300;

/**
 * A new signing secret: `whsec_` and the base64 of 32 random bytes.
 *
 * @example generateWebhookSecret() // "whsec_0B4J2k...="
 */
export function generateWebhookSecret(): string {
  return `${WEBHOOK_SECRET_PREFIX}${randomBytes(32).toString("base64")}`;
}

/** What {@link signWebhook} signs. */
export interface SignWebhookInput {
  /** One secret, or several during a rotation (each gives one signature). */
  secret: string | readonly string[];
  /** The `webhook-id` (the delivery id). */
  id: string;
  /** The `webhook-timestamp`, Unix seconds. */
  timestamp: number;
  /** The exact body bytes sent. */
  body: string | Uint8Array;
}

/**
 * The `webhook-signature` header value: `v1,<base64 HMAC-SHA256>` per secret, space-separated.
 *
 * @example signWebhook({ secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", id: "dlv_1", timestamp: 1700000000, body: "{}" })
 * // "v1,..."
 */
export function signWebhook(input: SignWebhookInput): string {
  const secrets = typeof input.secret === "string" ? [input.secret] : input.secret;
  if (secrets.length === 0) throw new TypeError("signWebhook needs at least one secret");
  if (!Number.isInteger(input.timestamp) || input.timestamp < 0) {
    throw new TypeError(`webhook timestamp must be whole Unix seconds (got ${input.timestamp})`);
  }
  return secrets
    .map(
      (secret) => `v1,${hmac(secretKey(secret), input.id, input.timestamp, input.body).toString("base64")}`,
    )
    .join(" ");
}

/** Why a callback failed verification. */
export type WebhookVerificationReason =
  | "missing_headers"
  | "bad_timestamp"
  | "timestamp_too_old"
  | "timestamp_too_new"
  | "bad_signature";

/** Thrown by {@link verifyWebhook}; `reason` says which check failed. Recognise it by `name`. */
export class WebhookVerificationError extends Error {
  override readonly name = "WebhookVerificationError";
  readonly reason: WebhookVerificationReason;

  constructor(reason: WebhookVerificationReason, message: string) {
    super(message);
    this.reason = reason;
  }
}

/** Request headers as Node's `IncomingMessage.headers`, a plain object, or a fetch `Headers`. */
export type WebhookHeaders =
  | { get(name: string): string | null }
  | Record<string, string | readonly string[] | undefined>;

/** What {@link verifyWebhook} checks. */
export interface VerifyWebhookInput {
  headers: WebhookHeaders;
  /** The raw body exactly as received (not re-serialized JSON). */
  body: string | Uint8Array;
  /** The endpoint's signing secret; several are accepted (any one matching is enough). */
  secret: string | readonly string[];
  /** Largest accepted distance between `webhook-timestamp` and now. Default 300 s. */
  toleranceSeconds?: number;
  /** The receiver's clock, epoch milliseconds. Default `Date.now()`. */
  now?: number;
}

/** What a verified callback carries. */
export interface VerifiedWebhook {
  id: string;
  /** Unix seconds. */
  timestamp: number;
}

/**
 * Verifies a received callback. Throws a {@link WebhookVerificationError} when a header is missing, the
 * timestamp is not within `toleranceSeconds` of now (too old: a replay; too new: a skewed clock), or no
 * signature matches any secret; returns the id and timestamp otherwise. It throws rather than returning
 * a flag so that a forgotten check cannot let a forged callback through. Signatures are compared in
 * constant time. A secret that is not `whsec_<base64>` is a programming error (a `TypeError`).
 *
 * @example
 * const { id } = verifyWebhook({ headers: req.headers, body: rawBody, secret: process.env.LAUNCH_WHSEC! });
 */
export function verifyWebhook(input: VerifyWebhookInput): VerifiedWebhook {
  const id = header(input.headers, WEBHOOK_HEADERS.id);
  const stamp = header(input.headers, WEBHOOK_HEADERS.timestamp);
  const signatures = header(input.headers, WEBHOOK_HEADERS.signature);
  const missing = [
    id ? undefined : WEBHOOK_HEADERS.id,
    stamp ? undefined : WEBHOOK_HEADERS.timestamp,
    signatures ? undefined : WEBHOOK_HEADERS.signature,
  ].filter((name) => name !== undefined);
  if (!id || !stamp || !signatures) {
    throw new WebhookVerificationError(
      "missing_headers",
      `missing callback header(s): ${missing.join(", ")}`,
    );
  }
  if (!/^\d{1,15}$/.test(stamp)) {
    throw new WebhookVerificationError(
      "bad_timestamp",
      `webhook-timestamp is ${JSON.stringify(stamp)}; expected Unix seconds`,
    );
  }
  const timestamp = Number(stamp);
  const tolerance = input.toleranceSeconds ?? DEFAULT_WEBHOOK_TOLERANCE_SECONDS;
  const nowSeconds = Math.floor((input.now ?? Date.now()) / 1000);
  if (timestamp < nowSeconds - tolerance) {
    throw new WebhookVerificationError(
      "timestamp_too_old",
      `webhook-timestamp ${timestamp} is ${nowSeconds - timestamp} s old; at most ${tolerance} s is accepted`,
    );
  }
  if (timestamp > nowSeconds + tolerance) {
    throw new WebhookVerificationError(
      "timestamp_too_new",
      `webhook-timestamp ${timestamp} is ${timestamp - nowSeconds} s in the future; at most ${tolerance} s is accepted`,
    );
  }
  const secrets = typeof input.secret === "string" ? [input.secret] : input.secret;
  const expected = secrets.map((secret) => hmac(secretKey(secret), id, timestamp, input.body));
  for (const part of signatures.split(" ")) {
    const comma = part.indexOf(",");
    if (comma < 0 || part.slice(0, comma) !== "v1") continue;
    const given = Buffer.from(part.slice(comma + 1), "base64");
    for (const want of expected) {
      if (given.length === want.length && timingSafeEqual(given, want)) return { id, timestamp };
    }
  }
  throw new WebhookVerificationError("bad_signature", "no webhook-signature matches the signing secret");
}

function hmac(key: KeyObject, id: string, timestamp: number, body: string | Uint8Array): Buffer {
  return createHmac("sha256", key).update(`${id}.${timestamp}.`).update(body).digest();
}

/** Decoded keys of recently used secrets, so signing every attempt does not base64-decode (and check) again. */
const keyCache = new Map<string, KeyObject>();
const KEY_CACHE_SIZE = 256;

/** The key bytes of a `whsec_` secret (the prefix is optional, as in other Standard Webhooks libraries). */
function secretKey(secret: string): KeyObject {
  const cached = keyCache.get(secret);
  if (cached !== undefined) return cached;
  const bytes = createSecretKey(decodeSecret(secret));
  if (keyCache.size >= KEY_CACHE_SIZE) keyCache.delete(keyCache.keys().next().value as string);
  keyCache.set(secret, bytes);
  return bytes;
}

function decodeSecret(secret: string): Buffer {
  const encoded = secret.startsWith(WEBHOOK_SECRET_PREFIX)
    ? secret.slice(WEBHOOK_SECRET_PREFIX.length)
    : secret;
  const bytes = Buffer.from(encoded, "base64");
  if (encoded === "" || !/^[A-Za-z0-9+/]+={0,2}$/.test(encoded) || bytes.length === 0) {
    throw new TypeError("a webhook signing secret must be 'whsec_' followed by base64 bytes");
  }
  return bytes;
}

function header(headers: WebhookHeaders, name: string): string | undefined {
  if (typeof (headers as { get?: unknown }).get === "function") {
    return (headers as { get(name: string): string | null }).get(name) ?? undefined;
  }
  const record = headers as Record<string, string | readonly string[] | undefined>;
  let value = record[name];
  if (value === undefined) {
    const key = Object.keys(record).find((k) => k.toLowerCase() === name);
    value = key === undefined ? undefined : record[key];
  }
  if (value === undefined) return undefined;
  return typeof value === "string" ? value : value.join(" ");
}
