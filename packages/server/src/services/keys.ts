import { createHash, randomBytes } from "node:crypto";
import { LaunchError, newId, REFERENCE_MESSAGES } from "@launch/protocol";
import type { LaunchConfig } from "../config/schema.js";
import type { Principal } from "../gateway/principal.js";
import type { KeyRecord, KeyRole, Store } from "../store/port.js";

/** Keys are 192 random bits; a fast hash is enough for them (there is nothing to brute-force). */
export function hashKey(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex");
}

export interface CreatedKey {
  /** The key itself: shown once, never stored. */
  key: string;
  record: KeyRecord;
}

/**
 * Creates and stores a new API key for `userId` in `teamId`.
 *
 * @example const { key } = await createKey(store, { userId: "alice", teamId: "ml" });
 */
export async function createKey(
  store: Store,
  input: { userId: string; teamId: string; role?: KeyRole },
  now = new Date(),
): Promise<CreatedKey> {
  for (const [field, value] of [
    ["user", input.userId],
    ["team", input.teamId],
  ] as const) {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$/.test(value)) {
      throw LaunchError.validation([
        {
          loc: ["body", `${field}_id`],
          msg: `${field} must be 1-128 characters of letters, digits, _ . @ - (got ${JSON.stringify(value)})`,
          type: "value_error",
        },
      ]);
    }
  }
  const key = `lk_${randomBytes(24).toString("base64url")}`;
  const record: KeyRecord = {
    id: newId("key"),
    hash: hashKey(key),
    prefix: key.slice(0, 10),
    userId: input.userId,
    teamId: input.teamId,
    role: input.role ?? "user",
    createdAt: now.toISOString(),
    revokedAt: null,
    lastUsedAt: null,
  };
  await store.insertKey(record);
  return { key, record };
}

/** The key carried by an Authorization header: Basic (key as username, empty password) or Bearer. */
export function keyFromAuthorization(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const space = header.indexOf(" ");
  if (space < 0) return undefined;
  const scheme = header.slice(0, space).toLowerCase();
  const value = header.slice(space + 1).trim();
  if (scheme === "bearer") return value || undefined;
  if (scheme === "basic") {
    const decoded = Buffer.from(value, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    const username = colon < 0 ? decoded : decoded.slice(0, colon);
    return username || undefined;
  }
  return undefined;
}

/**
 * Resolves an Authorization header to the calling principal, or throws the reference's 401s.
 */
export async function authenticate(
  store: Store,
  config: Pick<LaunchConfig, "auth">,
  header: string | undefined,
  now = new Date(),
  log?: { warn(details: object, message: string): void },
): Promise<Principal> {
  const key = keyFromAuthorization(header);
  if (key === undefined) {
    throw new LaunchError("unauthenticated", REFERENCE_MESSAGES.noAuth, {
      headers: { "www-authenticate": "Basic" },
    });
  }
  if (config.auth === "open") {
    return { userId: key, teamId: key, role: "user", keyId: undefined };
  }
  const record = await store.findKeyByHash(hashKey(key));
  if (!record || record.revokedAt !== null) {
    throw new LaunchError("invalid_credentials", REFERENCE_MESSAGES.badAuth, {
      headers: { "www-authenticate": "Basic" },
    });
  }
  // Recording last use is best effort and must not slow or fail the request; failures are logged.
  void store.touchKey(record.id, now.toISOString()).catch((error: unknown) => {
    log?.warn({ err: error, keyId: record.id }, "could not record the API key's last use");
  });
  return { userId: record.userId, teamId: record.teamId, role: record.role, keyId: record.id };
}

/** A key as `launch keys list` shows it: everything but the hash. */
export type KeySummary = Omit<KeyRecord, "hash">;

/**
 * Every key in the store, oldest first, without hashes. Works on a store directly (no server needed).
 *
 * @example for (const key of await listKeys(store)) console.log(key.prefix, key.userId, key.teamId);
 */
export async function listKeys(store: Store): Promise<KeySummary[]> {
  const records = await store.listKeys();
  return records
    .map(({ hash: _hash, ...summary }) => summary)
    .sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id < b.id ? -1 : 1));
}

/**
 * Revokes a key by its id (`key_...`) or its prefix (the first characters `launch keys list` shows).
 * Requests with it answer 401 from then on. Throws `not_found` when no key matches.
 *
 * @example await revokeKey(store, "key_01jdq9z6v4k3m8n2p5r7s9t1vw");
 */
export async function revokeKey(store: Store, idOrPrefix: string, now = new Date()): Promise<void> {
  const target = idOrPrefix.trim();
  if (target === "" || !(await store.revokeKey(target, now.toISOString()))) {
    throw new LaunchError(
      "not_found",
      `No API key has the id or prefix ${JSON.stringify(target)}; see \`launch keys list\`.`,
    );
  }
}
