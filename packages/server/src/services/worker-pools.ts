/**
 * Keep-alive connection pools to workers' HTTP ports, one undici `Pool` per worker URL, for the sync and
 * streaming requests the gateway forwards. Pools are made on first use and kept, so a busy endpoint pays
 * for a TCP connection once, not per request. A worker that went away (a connection to it failed) has
 * its pool dropped; the oldest pools go first when there are more than `maxPools` (workers come and go
 * on new ports).
 */
import { Pool } from "undici";

export interface WorkerPoolsOptions {
  /** Most pools kept; the least recently used is closed beyond it. Default 1,024. */
  maxPools?: number;
  /** How long an idle connection stays open. Default 30 s (workers keep theirs for 65 s). */
  keepAliveMs?: number;
}

/**
 * Pools of connections to workers, by URL. Close it with the server.
 *
 * @example
 * const pools = new WorkerPools();
 * const { statusCode, body } = await pools.get(loan.url).request({ method: "POST", path: "/predict", body: "{}" });
 * await pools.close();
 */
export class WorkerPools {
  readonly #pools = new Map<string, Pool>();
  readonly #maxPools: number;
  readonly #keepAliveMs: number;
  #closed = false;
  /** The URL last moved to the end of `#pools`. */
  #latest: string | undefined;

  constructor(options: WorkerPoolsOptions = {}) {
    this.#maxPools = options.maxPools ?? 1024;
    this.#keepAliveMs = options.keepAliveMs ?? 30_000;
  }

  /** How many pools are open (for tests and metrics). */
  get size(): number {
    return this.#pools.size;
  }

  /**
   * The pool for a worker's (or a model server's) base URL (`http://127.0.0.1:41234`), made on first use,
   * with at most `connections` connections (default: no limit).
   */
  get(url: string, connections?: number): Pool {
    if (this.#closed) throw new Error("the worker connection pools are closed");
    let pool = this.#pools.get(url);
    if (pool) {
      // Most recently used last, so eviction takes the oldest first (already so for a run of one URL).
      if (url !== this.#latest) {
        this.#pools.delete(url);
        this.#pools.set(url, pool);
        this.#latest = url;
      }
      return pool;
    }
    pool = new Pool(url, {
      connections: connections ?? null,
      keepAliveTimeout: this.#keepAliveMs,
      keepAliveMaxTimeout: this.#keepAliveMs,
      // Each request sets its own deadline; predictions may take long and streams may idle between events.
      headersTimeout: 0,
      bodyTimeout: 0,
    });
    this.#pools.set(url, pool);
    this.#latest = url;
    while (this.#pools.size > this.#maxPools) {
      const oldest = this.#pools.keys().next().value as string;
      this.discard(oldest);
    }
    return pool;
  }

  /** Drops the pool of a worker that went away; requests still running on it finish first. */
  discard(url: string): void {
    const pool = this.#pools.get(url);
    if (!pool) return;
    this.#pools.delete(url);
    pool.close().catch(() => {
      // Closing an already destroyed pool: nothing left to release.
    });
  }

  /** Closes every pool (requests still running finish first). Safe to call twice. */
  async close(): Promise<void> {
    this.#closed = true;
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(pools.map((pool) => pool.close().catch(() => undefined)));
  }
}
