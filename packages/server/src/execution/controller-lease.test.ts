import { afterEach, describe, expect, it } from "vitest";
import { MemoryCoordination } from "../coordination/memory.js";
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
});
