/**
 * Coordination inside one process (the single-node default): a map of workers and of leases, with an
 * injectable clock. Nothing is shared with other processes, which is right when there are none.
 */
import type { Coordination, LeaderLease, RegisteredWorker, WorkerRegistry } from "./port.js";

export class MemoryCoordination implements Coordination {
  readonly workers: WorkerRegistry;
  readonly leases: LeaderLease;

  constructor(clock: () => number = Date.now) {
    const workers = new Map<string, { worker: RegisteredWorker; until: number }>();
    const leases = new Map<string, { holder: string; until: number }>();
    const alive = (id: string) => {
      const entry = workers.get(id);
      if (entry && entry.until <= clock()) workers.delete(id);
      return entry && entry.until > clock() ? entry : undefined;
    };
    this.workers = {
      async register(worker, ttlMs) {
        workers.set(worker.id, { worker: { ...worker }, until: clock() + ttlMs });
      },
      async heartbeat(workerId, ttlMs) {
        const entry = alive(workerId);
        if (!entry) return false;
        entry.until = clock() + ttlMs;
        return true;
      },
      async get(workerId) {
        const entry = alive(workerId);
        return entry && { ...entry.worker };
      },
      async list(endpointId) {
        return [...workers.keys()]
          .map((id) => alive(id))
          .filter((entry) => entry !== undefined && entry.worker.endpointId === endpointId)
          .map((entry) => ({ ...entry!.worker }))
          .sort((a, b) => a.registeredAt - b.registeredAt || a.id.localeCompare(b.id));
      },
      async remove(workerId) {
        const known = alive(workerId) !== undefined;
        workers.delete(workerId);
        return known;
      },
      async removeEndpoint(endpointId) {
        for (const [id, entry] of workers) if (entry.worker.endpointId === endpointId) workers.delete(id);
      },
    };
    this.leases = {
      async acquire(name, holder, ttlMs) {
        const current = leases.get(name);
        if (current && current.holder !== holder && current.until > clock()) return false;
        leases.set(name, { holder, until: clock() + ttlMs });
        return true;
      },
      async release(name, holder) {
        if (leases.get(name)?.holder === holder) leases.delete(name);
      },
      async holder(name) {
        const current = leases.get(name);
        return current && current.until > clock() ? current.holder : undefined;
      },
    };
  }

  async close(): Promise<void> {}
}
