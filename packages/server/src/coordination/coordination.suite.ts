/**
 * The behaviour every coordination adapter keeps (`port.ts`). TTLs are real time (Redis expires keys on
 * its own clock), kept short.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Coordination, RegisteredWorker } from "./port.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function coordinationSuite(name: string, open: () => Promise<Coordination>): void {
  describe(`coordination: ${name}`, () => {
    let c: Coordination;
    let n = 0;
    const worker = (endpointId: string, overrides: Partial<RegisteredWorker> = {}): RegisteredWorker => {
      n += 1;
      return {
        id: `wrk_${Date.now()}_${n}_${Math.random().toString(36).slice(2, 8)}`,
        endpointId,
        owner: "team",
        url: `http://10.0.0.${n}:8080`,
        modelUrl: null,
        modelPredictRoute: null,
        concurrency: 2,
        hostname: `host-${n}`,
        pid: 100 + n,
        registeredAt: Date.now() + n,
        ...overrides,
      };
    };
    const endpoint = () => `end_${Math.random().toString(36).slice(2, 10)}`;

    beforeEach(async () => {
      c = await open();
    });
    afterEach(async () => {
      await c.close();
    });

    it("registers workers, lists an endpoint's live ones oldest first, and removes them", async () => {
      const e = endpoint();
      const a = worker(e);
      const b = worker(e);
      const other = worker(endpoint());
      await c.workers.register(b, 5_000);
      await c.workers.register(a, 5_000);
      await c.workers.register(other, 5_000);
      expect((await c.workers.list(e)).map((w) => w.id)).toEqual([a.id, b.id]);
      expect(await c.workers.get(a.id)).toEqual(a);
      expect(await c.workers.remove(a.id)).toBe(true);
      expect(await c.workers.remove(a.id)).toBe(false);
      expect((await c.workers.list(e)).map((w) => w.id)).toEqual([b.id]);
      await c.workers.removeEndpoint(e);
      expect(await c.workers.list(e)).toEqual([]);
      expect(await c.workers.get(other.id)).toEqual(other);
    });

    it("forgets a worker that stops heartbeating, and keeps one that heartbeats", async () => {
      const e = endpoint();
      const silent = worker(e);
      const beating = worker(e);
      await c.workers.register(silent, 300);
      await c.workers.register(beating, 300);
      for (let i = 0; i < 4; i++) {
        await sleep(120);
        expect(await c.workers.heartbeat(beating.id, 300)).toBe(true);
      }
      expect(await c.workers.get(silent.id)).toBeUndefined();
      expect(await c.workers.heartbeat(silent.id, 300)).toBe(false);
      expect((await c.workers.list(e)).map((w) => w.id)).toEqual([beating.id]);
    });

    it("carries endpoint changes to every subscriber when there are several processes", async () => {
      const bus = c.endpointChanges;
      if (!bus) return; // one process: its store caches on its own, nothing to carry
      const other = await open();
      try {
        const heard: (string | null)[] = [];
        other.endpointChanges?.subscribe((id) => heard.push(id));
        await sleep(200); // the subscription is confirmed asynchronously
        bus.publish("end_changed");
        for (let i = 0; i < 50 && heard.length === 0; i++) await sleep(20);
        expect(heard).toEqual(["end_changed"]);
      } finally {
        await other.close();
      }
    });

    it("gives a lease to one holder at a time, renews it, and hands it over when it runs out", async () => {
      const lease = `controller-${Math.random().toString(36).slice(2, 8)}`;
      expect(await c.leases.acquire(lease, "a", 300)).toBe(true);
      expect(await c.leases.acquire(lease, "b", 300)).toBe(false);
      expect(await c.leases.acquire(lease, "a", 300)).toBe(true);
      expect(await c.leases.holder(lease)).toBe("a");
      await sleep(400);
      expect(await c.leases.holder(lease)).toBeUndefined();
      expect(await c.leases.acquire(lease, "b", 300)).toBe(true);
      await c.leases.release(lease, "a");
      expect(await c.leases.holder(lease)).toBe("b");
      await c.leases.release(lease, "b");
      expect(await c.leases.acquire(lease, "a", 300)).toBe(true);
    });
  });
}
