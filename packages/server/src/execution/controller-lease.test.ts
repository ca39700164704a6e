import { afterEach, describe, expect, it } from "vitest";
import { MemoryCoordination } from "../coordination/memory.js";
import type { LeaderLease } from "../coordination/port.js";
import { CONTROLLER_LEASE, ControllerLease } from "./controller-lease.js";

const log = { info: () => {}, warn: () => {} };
const running: ControllerLease[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((lease) => lease.stop()));
});

function controller(coordination: MemoryCoordination, holder: string, ttlMs = 300): ControllerLease {
  const lease = new ControllerLease({ leases: coordination.leases, holder, ttlMs, log });
  running.push(lease);
  return lease;
}

describe("ControllerLease", () => {
  it("lets one controller act; a standby takes over when it stops", async () => {
    const coordination = new MemoryCoordination();
    const a = controller(coordination, "a");
    const b = controller(coordination, "b");
    await a.start();
    await b.start();
    expect([a.leading, b.leading]).toEqual([true, false]);
    await a.stop();
    await new Promise((r) => setTimeout(r, 150));
    expect(b.leading).toBe(true);
    expect(await coordination.leases.holder(CONTROLLER_LEASE)).toBe("b");
  });

  it("takes over from a controller that died (stopped renewing) once its lease ran out", async () => {
    let now = 0;
    const coordination = new MemoryCoordination(() => now);
    // A controller that died holding the lease: it never renews.
    expect(await coordination.leases.acquire(CONTROLLER_LEASE, "dead", 300)).toBe(true);
    const b = controller(coordination, "b");
    await b.start();
    expect(b.leading).toBe(false);
    now = 301;
    await new Promise((r) => setTimeout(r, 150));
    expect(b.leading).toBe(true);
  });

  it("stops acting on its own when it cannot renew in time, before a standby may take over", async () => {
    let calls = 0;
    const stuck: LeaderLease = {
      // The first renewal succeeds; later ones hang (Redis unreachable, the process cut off).
      acquire: () => {
        calls += 1;
        return calls === 1 ? Promise.resolve(true) : new Promise<boolean>(() => {});
      },
      release: async () => {},
      holder: async () => undefined,
    };
    const lease = new ControllerLease({ leases: stuck, holder: "a", ttlMs: 300, log });
    running.push(lease);
    await lease.start();
    expect(lease.leading).toBe(true);
    await new Promise((r) => setTimeout(r, 350));
    expect(lease.leading).toBe(false);
  });
});
