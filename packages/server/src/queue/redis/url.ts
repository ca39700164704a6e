/**
 * The Redis URL as configured (`LAUNCH_REDIS_URL`): checked, and shown to operators without its password.
 * No driver is loaded here, so `queue/open.ts` can check the setting before choosing the adapter.
 */
import { LaunchError } from "@launch/protocol";

/** An example for messages. */
export const REDIS_URL_EXAMPLE = "redis://:password@host:6379/0";

/**
 * `url` as it may be shown to an operator: the user's password replaced by `***`. A value that is not a
 * URL is not shown at all.
 *
 * @example redactRedisUrl("redis://:hunter2@cache:6379/0") // "redis://:***@cache:6379/0"
 */
export function redactRedisUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "(a Redis URL that is not a valid URL; not shown, it may hold a password)";
  }
  if (parsed.password !== "") parsed.password = "***";
  for (const key of [...parsed.searchParams.keys()].filter((k) => /pass|secret/i.test(k))) {
    parsed.searchParams.set(key, "***");
  }
  return parsed.href;
}

/**
 * Checks `LAUNCH_REDIS_URL` for `LAUNCH_QUEUE=redis`: set, and a `redis://` or `rediss://` URL. Throws a
 * `validation_failed` LaunchError naming the setting; never echoes the value (it may hold a password).
 *
 * @example checkRedisUrl("redis://127.0.0.1:6379") // "redis://127.0.0.1:6379"
 */
export function checkRedisUrl(url: string): string {
  const trimmed = url.trim();
  if (trimmed === "") {
    throw new LaunchError(
      "validation_failed",
      `LAUNCH_REDIS_URL is empty but LAUNCH_QUEUE is redis; set it to the Redis server, e.g. ${REDIS_URL_EXAMPLE}`,
    );
  }
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(trimmed)?.[1]?.toLowerCase();
  if (scheme !== "redis" && scheme !== "rediss") {
    const got = scheme ? `a "${scheme}:" URL` : "a value without a scheme";
    throw new LaunchError(
      "validation_failed",
      `LAUNCH_REDIS_URL: got ${got}; LAUNCH_QUEUE=redis expects redis:// or rediss:// (TLS), e.g. ${REDIS_URL_EXAMPLE}`,
    );
  }
  try {
    new URL(trimmed);
  } catch {
    throw new LaunchError(
      "validation_failed",
      `LAUNCH_REDIS_URL is not a valid URL (not shown, it may hold a password); expected e.g. ${REDIS_URL_EXAMPLE}`,
    );
  }
  return trimmed;
}

/**
 * Checks `LAUNCH_REDIS_PREFIX` (undefined: the default): non-empty, without spaces or the glob characters
 * `* ? [ ]` (so the keys of one prefix can be listed and deleted by pattern). Throws `validation_failed`.
 *
 * @example checkRedisPrefix("launch-staging") // passes
 */
export function checkRedisPrefix(prefix: string | undefined): void {
  if (prefix === undefined || isRedisPrefix(prefix)) return;
  throw new LaunchError(
    "validation_failed",
    `LAUNCH_REDIS_PREFIX must be non-empty, without spaces or * ? [ ], got ${JSON.stringify(prefix)}`,
  );
}

/** Whether `prefix` can prefix the Redis keys (see {@link checkRedisPrefix}). */
export function isRedisPrefix(prefix: string): boolean {
  return prefix !== "" && !/[\s*?[\]]/.test(prefix);
}
