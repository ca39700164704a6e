import type { LookupAddress } from "node:dns";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { HttpAgents } from "./http-agents.js";
import { classifyAddress, NetworkPolicy, RefusedAddressError } from "./network-policy.js";

describe("classifyAddress", () => {
  it.each([
    ["169.254.169.254", "metadata"],
    ["100.100.100.200", "metadata"],
    ["fd00:ec2::254", "metadata"],
    ["169.254.0.1", "link_local"],
    ["169.254.255.255", "link_local"],
    ["fe80::1", "link_local"],
    ["fe80::1%eth0", "link_local"],
    ["febf:ffff::1", "link_local"],
    ["127.0.0.1", "loopback"],
    ["127.255.255.254", "loopback"],
    ["0.0.0.0", "loopback"],
    ["::1", "loopback"],
    ["::", "loopback"],
    ["10.1.2.3", "private"],
    ["172.16.0.1", "private"],
    ["172.31.255.255", "private"],
    ["192.168.1.1", "private"],
    ["100.64.0.1", "private"],
    ["fc00::1", "private"],
    ["fd12:3456::1", "private"],
    ["8.8.8.8", "public"],
    ["172.32.0.1", "public"],
    ["172.15.255.255", "public"],
    ["169.255.0.1", "public"],
    ["192.169.0.1", "public"],
    ["2606:4700::1111", "public"],
    ["fec0::1", "public"],
    // IPv4 carried in IPv6 is judged as IPv4.
    ["::ffff:169.254.169.254", "metadata"],
    ["::ffff:a9fe:a9fe", "metadata"],
    ["::ffff:127.0.0.1", "loopback"],
    ["::ffff:10.0.0.1", "private"],
    ["::ffff:8.8.8.8", "public"],
    ["64:ff9b::169.254.1.1", "link_local"],
  ])("%s is %s", (address, expected) => {
    expect(classifyAddress(address)).toBe(expected);
  });

  it("says undefined for something that is not an IP address", () => {
    expect(classifyAddress("example.com")).toBeUndefined();
    expect(classifyAddress("256.1.1.1")).toBeUndefined();
  });
});

describe("NetworkPolicy.check", () => {
  const open = new NetworkPolicy({ allowPrivateNetworks: true });
  const closed = new NetworkPolicy({ allowPrivateNetworks: false });

  it("always refuses link-local and metadata addresses", () => {
    for (const policy of [open, closed]) {
      expect(policy.check("169.254.169.254")?.message).toBe(
        "refused to connect to 169.254.169.254: a cloud metadata address is never allowed",
      );
      expect(policy.check("fe80::1")?.addressClass).toBe("link_local");
      expect(policy.check("::ffff:169.254.1.1")).toBeInstanceOf(RefusedAddressError);
    }
  });

  it("allows private and loopback networks unless denied by configuration", () => {
    for (const address of ["127.0.0.1", "::1", "10.0.0.1", "192.168.0.10", "fd00::1"]) {
      expect(open.check(address)).toBeUndefined();
      expect(closed.check(address)?.message).toMatch(/LAUNCH_CALLBACK_ALLOW_PRIVATE_NETWORKS is false/);
    }
    expect(closed.check("93.184.216.34")).toBeUndefined();
  });
});

describe("NetworkPolicy.lookup", () => {
  /** A resolver that answers from a table (so the test does not depend on the machine's DNS). */
  const table =
    (answers: Record<string, LookupAddress[]>) =>
    (hostname: string, _options: unknown, callback: (e: Error | null, a: LookupAddress[]) => void) => {
      const found = answers[hostname];
      if (found) callback(null, found);
      else callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" }), []);
    };
  const lookup = (policy: NetworkPolicy, host: string, all: boolean) =>
    new Promise<{ error: Error | null; address: unknown; family?: number | undefined }>((resolve) => {
      policy.lookup(host, { all }, (error, address, family) => resolve({ error, address, family }));
    });
  const answers = {
    "metadata.test": [{ address: "169.254.169.254", family: 4 }],
    "mixed.test": [
      { address: "10.0.0.5", family: 4 },
      { address: "93.184.216.34", family: 4 },
    ],
    "inside.test": [{ address: "10.0.0.5", family: 4 }],
  };

  it("refuses a name that resolves only to refused addresses, naming the address", async () => {
    const policy = new NetworkPolicy({ allowPrivateNetworks: true, resolve: table(answers) as never });
    const { error } = await lookup(policy, "metadata.test", false);
    expect(error).toBeInstanceOf(RefusedAddressError);
    expect(error?.message).toBe(
      "refused to connect to metadata.test (169.254.169.254): a cloud metadata address is never allowed",
    );
  });

  it("dials only the allowed addresses of a name, in both lookup modes", async () => {
    const policy = new NetworkPolicy({ allowPrivateNetworks: false, resolve: table(answers) as never });
    expect(await lookup(policy, "mixed.test", false)).toEqual({
      error: null,
      address: "93.184.216.34",
      family: 4,
    });
    expect(await lookup(policy, "mixed.test", true)).toEqual({
      error: null,
      address: [{ address: "93.184.216.34", family: 4 }],
      family: undefined,
    });
    expect((await lookup(policy, "inside.test", true)).error?.message).toMatch(
      /inside\.test \(10\.0\.0\.5\)/,
    );
    expect((await lookup(policy, "nowhere.test", false)).error?.message).toMatch(/ENOTFOUND/);
  });
});

describe("the policy on real connections", () => {
  let server: Server | undefined;
  let agents: HttpAgents | undefined;
  let hits = 0;
  afterEach(async () => {
    await agents?.close();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
    agents = undefined;
    hits = 0;
  });

  const start = async (): Promise<number> => {
    server = createServer((_req, res) => {
      hits++;
      res.end("ok");
    });
    await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
    return (server.address() as AddressInfo).port;
  };

  it("refuses 127.0.0.1 and localhost when private networks are denied, before connecting", async () => {
    const port = await start();
    agents = new HttpAgents({
      policy: new NetworkPolicy({ allowPrivateNetworks: false }),
      connectTimeoutMs: 2_000,
    });
    const dispatcher = agents.forDelivery(null);
    await expect(request(`http://127.0.0.1:${port}/`, { dispatcher })).rejects.toThrow(
      /refused to connect to 127\.0\.0\.1: a loopback address/,
    );
    await expect(request(`http://localhost:${port}/`, { dispatcher })).rejects.toThrow(
      /refused to connect to localhost \((127\.0\.0\.1|::1)\)/,
    );
    expect(hits).toBe(0);
  });

  it("connects to 127.0.0.1 when private networks are allowed", async () => {
    const port = await start();
    agents = new HttpAgents({
      policy: new NetworkPolicy({ allowPrivateNetworks: true }),
      connectTimeoutMs: 2_000,
    });
    const response = await request(`http://127.0.0.1:${port}/`, { dispatcher: agents.forDelivery(null) });
    expect(await response.body.text()).toBe("ok");
    expect(hits).toBe(1);
  });
});
