/**
 * Queued and in-flight counts per queue, kept in memory so `counts` and `depths` cost nothing however deep
 * the queue. Loaded from the table at startup, then moved by each write's own transitions; changes made
 * in a transaction apply only once it commits. Exact because the embedded queue is the file's only
 * writer (`multiProcess: false`).
 */
import type { QueueDepth } from "../port.js";

export class Tally {
  private readonly committed = new Map<string, QueueDepth>();
  private pending: { queue: string; queued: number; inFlight: number }[] = [];

  /** Sets the committed counts (at startup). */
  load(depths: Iterable<[string, QueueDepth]>): void {
    this.committed.clear();
    for (const [queue, depth] of depths) this.apply(queue, depth.queued, depth.inFlight);
  }

  /** Records a change made by the transaction being written. */
  add(queue: string, queued: number, inFlight: number): void {
    this.pending.push({ queue, queued, inFlight });
  }

  /** The transaction committed: its changes count. */
  commit(): void {
    for (const { queue, queued, inFlight } of this.pending) this.apply(queue, queued, inFlight);
    this.pending = [];
  }

  /** The transaction rolled back: forget its changes. */
  rollback(): void {
    this.pending = [];
  }

  get(queue: string): QueueDepth {
    const depth = this.committed.get(queue);
    return depth ? { ...depth } : { queued: 0, inFlight: 0 };
  }

  /** Every queue with queued or in-flight tasks. */
  all(): Map<string, QueueDepth> {
    const out = new Map<string, QueueDepth>();
    for (const [queue, depth] of this.committed) out.set(queue, { ...depth });
    return out;
  }

  private apply(queue: string, queued: number, inFlight: number): void {
    const depth = this.committed.get(queue) ?? { queued: 0, inFlight: 0 };
    depth.queued += queued;
    depth.inFlight += inFlight;
    if (depth.queued === 0 && depth.inFlight === 0) this.committed.delete(queue);
    else this.committed.set(queue, depth);
  }
}
