/**
 * Coordination on Redis, for installations with several processes (they already share Redis for the
 * queue). Keys, under a configurable prefix:
 *
 * - `<prefix>:worker:<id>`: the registered worker as JSON, expiring after its TTL (a heartbeat renews it);
 * - `<prefix>:endpoint-workers:<endpoint id>`: a sorted set of the endpoint's worker ids by registration
 *   time (ids whose worker key expired are dropped when listed);
 * - `<prefix>:lease:<name>`: the holder of a leader lease, expiring after its TTL; taken and renewed by a
 *   script that checks the holder, so two processes never both hold it.
 *
 * - channel `<prefix>:endpoint-changed`: an endpoint id per message (`endpointChanges`); a second connection
 *   subscribes, and after it reconnects it tells its listeners to drop everything (messages may be lost).
 *
 * Expiry uses Redis's own clock, the one clock every process shares. `ioredis` is loaded only when this
 * adapter is chosen.
 */
import type { Redis } from "ioredis";
import type { EndpointChangeBus } from "../store/port.js";
import type { Coordination, LeaderLease, RegisteredWorker, WorkerRegistry } from "./port.js";

const ACQUIRE = `
local current = redis.call('GET', KEYS[1])
if (not current) or current == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0`;

const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0`;

export interface RedisCoordinationOptions {
  /** `redis://[:password@]host:port[/db]`. */
  url: string;
  /** Key prefix. Default "launch". */
  prefix?: string;
}

export class RedisCoordination implements Coordination {
  readonly workers: WorkerRegistry;
  readonly leases: LeaderLease;
  readonly endpointChanges: EndpointChangeBus;
  readonly #redis: Redis;
  #subscriber: Redis | undefined;

  private constructor(redis: Redis, prefix: string) {
    this.#redis = redis;
    const changedChannel = `${prefix}:endpoint-changed`;
    const listeners: ((id: string | null) => void)[] = [];
    this.endpointChanges = {
      publish: (id) => {
        // A lost message is bounded by the store's cache age; never fail a write for it.
        redis.publish(changedChannel, id).catch(() => {});
      },
      subscribe: (listener) => {
        listeners.push(listener);
        if (this.#subscriber) return;
        const subscriber = redis.duplicate();
        this.#subscriber = subscriber;
        subscriber.on("error", () => {});
        let connectedOnce = false;
        subscriber.on("ready", () => {
          // After a reconnect, messages sent meanwhile are lost: drop everything.
          if (connectedOnce) for (const l of listeners) l(null);
          connectedOnce = true;
        });
        subscriber.on("message", (_channel: string, id: string) => {
          for (const l of listeners) l(id);
        });
        subscriber.subscribe(changedChannel).catch(() => {});
      },
    };
    const workerKey = (id: string) => `${prefix}:worker:${id}`;
    const endpointKey = (id: string) => `${prefix}:endpoint-workers:${id}`;
    const leaseKey = (name: string) => `${prefix}:lease:${name}`;
    this.workers = {
      async register(worker, ttlMs) {
        await redis
          .multi()
          .set(workerKey(worker.id), JSON.stringify(worker), "PX", ttlMs)
          .zadd(endpointKey(worker.endpointId), worker.registeredAt, worker.id)
          .exec();
      },
      async heartbeat(workerId, ttlMs) {
        return (await redis.pexpire(workerKey(workerId), ttlMs)) === 1;
      },
      async get(workerId) {
        const text = await redis.get(workerKey(workerId));
        return text === null ? undefined : (JSON.parse(text) as RegisteredWorker);
      },
      async list(endpointId) {
        const ids = await redis.zrange(endpointKey(endpointId), 0, -1);
        if (ids.length === 0) return [];
        const texts = await redis.mget(...ids.map(workerKey));
        const gone = ids.filter((_, i) => texts[i] === null);
        if (gone.length > 0) await redis.zrem(endpointKey(endpointId), ...gone);
        return texts
          .filter((text): text is string => text !== null)
          .map((text) => JSON.parse(text) as RegisteredWorker);
      },
      async remove(workerId) {
        const text = await redis.get(workerKey(workerId));
        if (text === null) return false;
        const worker = JSON.parse(text) as RegisteredWorker;
        await redis.multi().del(workerKey(workerId)).zrem(endpointKey(worker.endpointId), workerId).exec();
        return true;
      },
      async removeEndpoint(endpointId) {
        const ids = await redis.zrange(endpointKey(endpointId), 0, -1);
        await redis
          .multi()
          .del(endpointKey(endpointId), ...ids.map(workerKey))
          .exec();
      },
    };
    this.leases = {
      async acquire(name, holder, ttlMs) {
        return (await redis.eval(ACQUIRE, 1, leaseKey(name), holder, String(ttlMs))) === 1;
      },
      async release(name, holder) {
        await redis.eval(RELEASE, 1, leaseKey(name), holder);
      },
      async holder(name) {
        return (await redis.get(leaseKey(name))) ?? undefined;
      },
    };
  }

  /** Connects (ioredis is imported here, lazily) and checks the connection with a PING. */
  static async open(options: RedisCoordinationOptions): Promise<RedisCoordination> {
    const { Redis } = await import("ioredis");
    const redis = new Redis(options.url, { lazyConnect: true, maxRetriesPerRequest: 3 });
    // An unhandled "error" event would crash the process; failures surface through the commands.
    redis.on("error", () => {});
    try {
      await redis.connect();
      await redis.ping();
    } catch (error) {
      redis.disconnect();
      throw error;
    }
    return new RedisCoordination(redis, options.prefix ?? "launch");
  }

  async close(): Promise<void> {
    this.#subscriber?.disconnect();
    await this.#redis.quit().catch(() => this.#redis.disconnect());
  }
}
