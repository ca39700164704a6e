/**
 * In-process wake-ups for idle workers: `wait(queue)` settles true when `wake(queue)` is called, false on
 * timeout, abort or `closeAll`. This is how the embedded queue lets workers find tasks within
 * milliseconds without polling. The same class, keyed by task id, wakes long polls waiting for a task to
 * finish (`waitForFinish`).
 */

interface Waiter {
  settle: (found: boolean) => void;
}

/** Waiters grouped by queue. */
export class Waiters {
  private readonly byQueue = new Map<string, Set<Waiter>>();

  /** Resolves true on `wake(queue)`, false after `timeoutMs`, when `signal` aborts, or on `closeAll`. */
  wait(queue: string, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (signal?.aborted) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      let set = this.byQueue.get(queue);
      if (!set) {
        set = new Set();
        this.byQueue.set(queue, set);
      }
      const waiters = set;
      const onAbort = (): void => waiter.settle(false);
      const timer = setTimeout(onAbort, Math.max(0, timeoutMs));
      const waiter: Waiter = {
        settle: (found) => {
          clearTimeout(timer);
          signal?.removeEventListener("abort", onAbort);
          waiters.delete(waiter);
          if (waiters.size === 0 && this.byQueue.get(queue) === waiters) this.byQueue.delete(queue);
          resolve(found);
        },
      };
      waiters.add(waiter);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Wakes every waiter of `queue` with true. */
  wake(queue: string): void {
    const set = this.byQueue.get(queue);
    if (!set) return;
    for (const waiter of [...set]) waiter.settle(true);
  }

  /** Whether anyone waits on `queue` (so callers can skip work when nobody listens). */
  has(queue: string): boolean {
    return this.byQueue.has(queue);
  }

  /** Settles every waiter with false (on close). */
  closeAll(): void {
    for (const set of [...this.byQueue.values()]) for (const waiter of [...set]) waiter.settle(false);
  }
}
