/**
 * Resource quantities as clients send them (`cpus`, `memory`, `storage`): a number or a Kubernetes-style
 * string. Endpoints store and echo them exactly as sent; these parsers give the number the runtime
 * enforces and tell validation whether a value makes sense.
 */
import type { Quantity } from "@launch/protocol";

const CPU = /^(\d+(?:\.\d+)?|\.\d+)(m?)$/;
const BYTES = /^(\d+(?:\.\d+)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$/;
const UNITS: Record<string, number> = {
  "": 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/**
 * CPU cores from `1`, `0.5`, `"2"`, `"500m"`; undefined when the value is not a positive quantity.
 *
 * @example parseCpus("500m") // 0.5
 */
export function parseCpus(value: Quantity): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) && value > 0 ? value : undefined;
  const match = CPU.exec(value.trim());
  if (!match) return undefined;
  const cores = Number(match[1]) / (match[2] === "m" ? 1000 : 1);
  return cores > 0 ? cores : undefined;
}

/**
 * Bytes from `"8Gi"`, `"512Mi"`, `"1G"`, `"1024"` or a number of bytes; undefined when not a positive
 * quantity.
 *
 * @example parseBytes("8Gi") // 8589934592
 */
export function parseBytes(value: Quantity): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) && value > 0 ? value : undefined;
  const match = BYTES.exec(value.trim());
  if (!match) return undefined;
  const bytes = Number(match[1]) * (UNITS[match[2] ?? ""] ?? 1);
  return bytes > 0 ? bytes : undefined;
}
