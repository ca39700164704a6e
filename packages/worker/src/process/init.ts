/** Checks the controller's `init` message before the worker acts on it. */
import { isIP } from "node:net";
import type { WorkerInit } from "@launch/protocol";

/** A host name (letters, digits, dots, dashes) or an IPv4/IPv6 address, as `listen()` takes it. */
const HOST_NAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$/;

/** Whether `host` is something the sync server can listen on: an IP address or a host name. */
export function isListenHost(host: unknown): host is string {
  return typeof host === "string" && (isIP(host) !== 0 || HOST_NAME.test(host));
}

/**
 * The problems of an `init` message, each naming the field and what was expected; empty when it is fine.
 *
 * @example checkInit({ ...init, concurrency: 0 }) // ["concurrency must be an integer of at least 1 (got 0)"]
 */
export function checkInit(init: WorkerInit): string[] {
  const problems: string[] = [];
  const value = init as unknown as Record<string, unknown>;
  const need = (field: keyof WorkerInit, ok: boolean, expected: string) => {
    if (!ok) problems.push(`${field} must be ${expected} (got ${JSON.stringify(value[field]) ?? "nothing"})`);
  };
  const isText = (v: unknown) => typeof v === "string" && v.length > 0;
  const isInt = (v: unknown, min: number, max = Number.MAX_SAFE_INTEGER) =>
    Number.isInteger(v) && (v as number) >= min && (v as number) <= max;
  const isNumber = (v: unknown, min: number) => typeof v === "number" && Number.isFinite(v) && v >= min;

  need("endpointId", isText(init.endpointId), "a non-empty string");
  need("workerId", isText(init.workerId), "a non-empty string");
  const bundle = init.bundle as unknown as { id?: unknown; flavor?: { flavor?: unknown } } | null;
  const bundleOk = bundle !== null && typeof bundle === "object" && isText(bundle.id);
  if (!bundleOk) problems.push("bundle must be a bundle object with an id");
  else if (typeof bundle.flavor?.flavor !== "string") problems.push("bundle.flavor must name a flavor");
  need(
    "artifactPath",
    init.artifactPath === null || isText(init.artifactPath),
    "a non-empty path or null (no artifact)",
  );
  if (init.artifactPath) need("cacheDir", isText(init.cacheDir), "a directory path when artifactPath is set");
  need("concurrency", isInt(init.concurrency, 1), "an integer of at least 1");
  need("httpPort", isInt(init.httpPort, 0, 65_535), "a port number from 0 (any free port) to 65535");
  if (init.httpHost !== undefined) {
    need(
      "httpHost",
      isListenHost(init.httpHost),
      "an IP address or host name to listen on (default 127.0.0.1)",
    );
  }
  need("readinessMarginSeconds", isNumber(init.readinessMarginSeconds, 0), "a number of seconds ≥ 0");
  need("drainGraceMs", isNumber(init.drainGraceMs, 0), "a number of milliseconds ≥ 0");
  need("heartbeatMs", isInt(init.heartbeatMs, 1), "a whole number of milliseconds ≥ 1");
  return problems;
}
