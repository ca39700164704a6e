/**
 * Which addresses a callback may connect to (`callbacks.md` §3 "Safety"), checked on the address that is
 * actually dialled: after DNS resolution (a custom `lookup` given to undici's connector), and on IP
 * literals in the URL (which need no lookup).
 *
 * - Always refused: link-local (169.254.0.0/16, fe80::/10) and cloud metadata (169.254.169.254,
 *   fd00:ec2::254, and Alibaba's 100.100.100.200).
 * - Loopback (127.0.0.0/8, ::1, and the unspecified 0.0.0.0/8 and ::, which dial this machine) and
 *   private networks (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7): allowed unless
 *   `callbackAllowPrivateNetworks` is false (multi-tenant deployments).
 * - IPv4-mapped IPv6 (::ffff:a.b.c.d) and NAT64 (64:ff9b::a.b.c.d) addresses are judged as the IPv4
 *   address they carry.
 */
import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { isIP, type LookupFunction } from "node:net";

/** What kind of network an address belongs to. */
export type AddressClass = "metadata" | "link_local" | "loopback" | "private" | "public";

/** An IP address the policy refused; the attempt is a permanent failure with error class `refused_address`. */
export class RefusedAddressError extends Error {
  override readonly name = "RefusedAddressError";
  readonly code = "LAUNCH_REFUSED_ADDRESS";

  constructor(
    readonly host: string,
    readonly address: string,
    readonly addressClass: AddressClass,
    reason: string,
  ) {
    super(
      host === address
        ? `refused to connect to ${address}: ${reason}`
        : `refused to connect to ${host} (${address}): ${reason}`,
    );
  }
}

/** Classifies an IP address (v4 or v6, with an optional `%zone`); undefined when it is not an IP address. */
export function classifyAddress(address: string): AddressClass | undefined {
  const bare = address.replace(/%.*$/, "");
  if (isIP(bare) === 4) return classifyV4(parseV4(bare));
  if (isIP(bare) !== 6) return undefined;
  const groups = parseV6(bare);
  const embedded = embeddedV4(groups);
  if (embedded !== undefined) return classifyV4(embedded);
  if (groups.every((g, i) => g === [0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x254][i])) return "metadata";
  if ((groups[0]! & 0xffc0) === 0xfe80) return "link_local";
  if (groups.slice(0, 7).every((g) => g === 0) && (groups[7] === 1 || groups[7] === 0)) return "loopback";
  if ((groups[0]! & 0xfe00) === 0xfc00) return "private";
  return "public";
}

/** The rules a deployment chose. */
export interface NetworkPolicyOptions {
  /** Allow loopback and private networks (`callbackAllowPrivateNetworks`). */
  allowPrivateNetworks: boolean;
}

/**
 * The network policy: a check for one address, and a `lookup` for `net.connect` that resolves a host,
 * drops the addresses the policy refuses, and fails with a {@link RefusedAddressError} when none is left.
 *
 * @example
 * const policy = new NetworkPolicy({ allowPrivateNetworks: false });
 * policy.check("10.0.0.1") // RefusedAddressError: refused to connect to 10.0.0.1: a private network address...
 */
export class NetworkPolicy {
  readonly allowPrivateNetworks: boolean;
  readonly #resolve: typeof dnsLookup;

  /** `resolve` is the DNS lookup to use (`dns.lookup` by default). */
  constructor(options: NetworkPolicyOptions & { resolve?: typeof dnsLookup }) {
    this.allowPrivateNetworks = options.allowPrivateNetworks;
    this.#resolve = options.resolve ?? dnsLookup;
  }

  /** The error that refuses `address` (reached through `host`), or undefined when it may be dialled. */
  check(address: string, host: string = address): RefusedAddressError | undefined {
    const kind = classifyAddress(address);
    if (kind === undefined) return new RefusedAddressError(host, address, "public", "not an IP address");
    switch (kind) {
      case "metadata":
        return new RefusedAddressError(host, address, kind, "a cloud metadata address is never allowed");
      case "link_local":
        return new RefusedAddressError(host, address, kind, "a link-local address is never allowed");
      case "loopback":
      case "private":
        return this.allowPrivateNetworks
          ? undefined
          : new RefusedAddressError(
              host,
              address,
              kind,
              `a ${kind === "loopback" ? "loopback" : "private network"} address, and LAUNCH_CALLBACK_ALLOW_PRIVATE_NETWORKS is false`,
            );
      case "public":
        return undefined;
    }
  }

  /**
   * A `lookup` for `net.connect`/`tls.connect`: resolves every address of `hostname` and keeps the
   * allowed ones (in resolver order), honouring `options.all` as Node's `dns.lookup` does.
   */
  readonly lookup: LookupFunction = (hostname, options, callback) => {
    this.#resolve(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) {
        callback(error, "", 0);
        return;
      }
      const allowed: LookupAddress[] = [];
      let refused: RefusedAddressError | undefined;
      for (const entry of addresses) {
        const verdict = this.check(entry.address, hostname);
        if (verdict) refused ??= verdict;
        else allowed.push(entry);
      }
      if (allowed.length === 0) {
        const notFound = Object.assign(new Error(`${hostname} resolved to no address`), {
          code: "ENOTFOUND",
        });
        callback(refused ?? notFound, "", 0);
        return;
      }
      if (options.all) callback(null, allowed);
      else callback(null, allowed[0]!.address, allowed[0]!.family);
    });
  };
}

function parseV4(address: string): number {
  return address.split(".").reduce((acc, part) => acc * 256 + Number(part), 0);
}

/** Eight 16-bit groups of a valid IPv6 address (an embedded dotted IPv4 tail becomes two groups). */
function parseV6(address: string): number[] {
  let text = address.toLowerCase();
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (tail) {
    const v4 = parseV4(tail[1]!);
    text = `${text.slice(0, tail.index)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const [head = "", rest] = text.split("::");
  const parse = (part: string): number[] =>
    part === "" ? [] : part.split(":").map((g) => Number.parseInt(g, 16));
  const front = parse(head);
  if (rest === undefined) return front;
  const back = parse(rest);
  return [...front, ...new Array<number>(8 - front.length - back.length).fill(0), ...back];
}

/** The IPv4 address inside an IPv4-mapped (::ffff:0:0/96) or NAT64 (64:ff9b::/96) address. */
function embeddedV4(groups: number[]): number | undefined {
  const mapped = groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff;
  const nat64 = groups[0] === 0x64 && groups[1] === 0xff9b && groups.slice(2, 6).every((g) => g === 0);
  return mapped || nat64 ? groups[6]! * 0x10000 + groups[7]! : undefined;
}

function classifyV4(ip: number): AddressClass {
  const inNet = (base: string, bits: number): boolean => {
    const size = 2 ** (32 - bits);
    return Math.floor(ip / size) === Math.floor(parseV4(base) / size);
  };
  if (ip === parseV4("169.254.169.254") || ip === parseV4("100.100.100.200")) return "metadata";
  if (inNet("169.254.0.0", 16)) return "link_local";
  if (inNet("127.0.0.0", 8) || inNet("0.0.0.0", 8)) return "loopback";
  if (
    inNet("10.0.0.0", 8) ||
    inNet("172.16.0.0", 12) ||
    inNet("192.168.0.0", 16) ||
    inNet("100.64.0.0", 10)
  ) {
    return "private";
  }
  return "public";
}
