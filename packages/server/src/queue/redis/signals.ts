/**
 * Wake-ups across processes for the Redis adapter: the scripts `PUBLISH` when work arrives on a queue
 * (`<prefix>::work:<queue>`), when a task finishes (`<prefix>::done:<taskId>`) and when a delivery becomes
 * due (`<prefix>::due`, the message is the due time). One subscriber connection per adapter subscribes to
 * a channel only while someone in this process waits on it (reference counted), so a busy queue costs
 * idle processes nothing.
 *
 * No wake-up is lost: a waiter is registered, then its channel subscribed (the subscription is confirmed
 * before the call goes on), and only then is the state read. A change committed before the subscription
 * is seen by that read; one committed after it is published to us (a script changes the state and
 * publishes in one atomic step).
 */
import type { Redis } from "ioredis";

/** A registered wait: `settle` ends it (the first call wins); `done` resolves with what it was settled with. */
export interface Wait {
  readonly done: Promise<boolean>;
  settle(woken: boolean): void;
}

/** Waiters keyed by channel; `wake` settles all of a channel's waiters with true. */
export class WaiterSet {
  private readonly byKey = new Map<string, Set<Wait>>();

  /** A wait that settles true on `wake(key)`, false after `timeoutMs`, on abort or on `closeAll`. */
  add(key: string, timeoutMs: number, signal?: AbortSignal): Wait {
    let set = this.byKey.get(key);
    if (!set) {
      set = new Set();
      this.byKey.set(key, set);
    }
    const waiters = set;
    let resolve!: (woken: boolean) => void;
    const done = new Promise<boolean>((r) => {
      resolve = r;
    });
    let settled = false;
    const onAbort = (): void => wait.settle(false);
    const timer = setTimeout(onAbort, Math.max(0, timeoutMs));
    const wait: Wait = {
      done,
      settle: (woken) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        waiters.delete(wait);
        if (waiters.size === 0 && this.byKey.get(key) === waiters) this.byKey.delete(key);
        resolve(woken);
      },
    };
    waiters.add(wait);
    if (signal?.aborted) wait.settle(false);
    else signal?.addEventListener("abort", onAbort, { once: true });
    return wait;
  }

  wake(key: string): void {
    const set = this.byKey.get(key);
    if (set) for (const wait of [...set]) wait.settle(true);
  }

  has(key: string): boolean {
    return this.byKey.has(key);
  }

  closeAll(): void {
    for (const set of [...this.byKey.values()]) for (const wait of [...set]) wait.settle(false);
  }
}

/** setTimeout's longest delay; a later due time wakes waiters early, which is harmless (a hint). */
const MAX_DELAY = 2_147_483_647;

/**
 * The subscriber side: reference-counted channel subscriptions, and the waiters they wake.
 *
 * @example const release = await signals.subscribe(channel); try { … } finally { release(); }
 */
export class RedisSignals {
  readonly waiters = new WaiterSet();
  private readonly subscriptions = new Map<
    string,
    { count: number; ready: Promise<unknown>; confirmed?: boolean }
  >();
  private dueTimer: NodeJS.Timeout | undefined;
  private dueTimerAt = Number.POSITIVE_INFINITY;

  /**
   * @param subscriber a connection used only for pub/sub.
   * @param dueChannel the channel whose messages are due times; its waiters wake when one has come.
   */
  constructor(
    private readonly subscriber: Redis,
    private readonly dueChannel: string,
    private readonly clock: () => number,
  ) {
    subscriber.on("message", (channel: string, message: string) => {
      if (channel === this.dueChannel) this.due(Number(message));
      else this.waiters.wake(channel);
    });
    subscriber.on("pmessage", (_pattern: string, channel: string) => this.waiters.wake(channel));
  }

  /**
   * Like `subscribe`, for a pattern (`P::done:*`): one subscription serves every task's wait, so a long
   * poll costs no SUBSCRIBE/UNSUBSCRIBE of its own while others are waiting. `held` says whether the
   * pattern was already confirmed when called: a read issued after that cannot miss a wake-up.
   */
  subscribePattern(pattern: string): { held: boolean; ready: Promise<() => void> } {
    const key = `pattern:${pattern}`;
    const existing = this.subscriptions.get(key);
    const held = existing !== undefined && existing.confirmed === true;
    let entry = existing;
    if (entry) entry.count++;
    else {
      const created: { count: number; ready: Promise<unknown>; confirmed?: boolean } = {
        count: 1,
        ready: this.subscriber.psubscribe(pattern),
      };
      created.ready.then(
        () => {
          created.confirmed = true;
        },
        () => {},
      );
      entry = created;
      this.subscriptions.set(key, entry);
    }
    const heldEntry = entry;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      heldEntry.count--;
      if (heldEntry.count === 0 && this.subscriptions.get(key) === heldEntry) {
        this.subscriptions.delete(key);
        this.subscriber.punsubscribe(pattern).catch(() => {});
      }
    };
    const ready = heldEntry.ready.then(
      () => release,
      (error: unknown) => {
        release();
        throw error;
      },
    );
    return { held, ready };
  }

  /** Subscribes to `channel` (once for all its users); resolves once Redis confirmed. Call the result to let go. */
  async subscribe(channel: string): Promise<() => void> {
    let entry = this.subscriptions.get(channel);
    if (entry) entry.count++;
    else {
      entry = { count: 1, ready: this.subscriber.subscribe(channel) };
      this.subscriptions.set(channel, entry);
    }
    const held = entry;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      held.count--;
      if (held.count === 0 && this.subscriptions.get(channel) === held) {
        this.subscriptions.delete(channel);
        this.subscriber.unsubscribe(channel).catch(() => {});
      }
    };
    try {
      await held.ready;
    } catch (error) {
      release();
      throw error;
    }
    return release;
  }

  /** A delivery is due at `at`: wake the due waiters now, or arm the timer for then. */
  due(at: number): void {
    if (!this.waiters.has(this.dueChannel) || !Number.isFinite(at)) return;
    if (at <= this.clock()) this.waiters.wake(this.dueChannel);
    else this.armDue(at);
  }

  /** Settles every waiter with false and stops the due timer. */
  close(): void {
    clearTimeout(this.dueTimer);
    this.dueTimer = undefined;
    this.dueTimerAt = Number.POSITIVE_INFINITY;
    this.waiters.closeAll();
  }

  /** Wakes the due waiters at `at` (by the real timer, `at - clock()` from now); keeps the earliest. */
  armDue(at: number): void {
    if (at >= this.dueTimerAt) return;
    clearTimeout(this.dueTimer);
    this.dueTimerAt = at;
    this.dueTimer = setTimeout(
      () => {
        this.dueTimer = undefined;
        this.dueTimerAt = Number.POSITIVE_INFINITY;
        this.waiters.wake(this.dueChannel);
      },
      Math.min(Math.max(0, at - this.clock()), MAX_DELAY),
    );
    this.dueTimer.unref();
  }
}
