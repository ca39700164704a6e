/**
 * Group commit: writes issued in the same turn of the event loop run in one transaction, and each
 * caller's promise settles once that transaction has committed. One commit then covers hundreds of
 * enqueues, leases and completions under load, and a lone write costs one commit, as without batching.
 */

/** One write: runs inside the batch's transaction and returns the caller's value. */
export type WriteOp<T> = () => T;

interface Pending {
  op: WriteOp<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

export interface GroupCommitOptions {
  /**
   * Runs `body` in one transaction (committing when it returns, rolling back when it throws).
   * better-sqlite3: `(body) => db.transaction(body).immediate()`.
   */
  transaction: (body: () => void) => void;
  /** Called after each commit (for example to wake waiters). */
  afterCommit?: () => void;
  /** Called when a batch fails and is retried op by op (so the other writes still commit). */
  afterRollback?: () => void;
  /** Most writes in one transaction; the rest go in the next turn. Default 2,000. */
  maxBatch?: number;
}

/**
 * Batches synchronous writes into shared transactions.
 *
 * @example const writer = new GroupCommit({ transaction: (body) => db.transaction(body).immediate() });
 * const id = await writer.write(() => insert.run(row).lastInsertRowid);
 */
export class GroupCommit {
  private queue: Pending[] = [];
  private scheduled: NodeJS.Immediate | undefined;
  private readonly maxBatch: number;

  constructor(private readonly options: GroupCommitOptions) {
    this.maxBatch = options.maxBatch ?? 2000;
  }

  /** Runs `op` in the next batch; resolves with its value once committed, rejects with its error. */
  write<T>(op: WriteOp<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ op, resolve: resolve as (value: unknown) => void, reject });
      this.scheduled ??= setImmediate(() => this.drain());
    });
  }

  /** Commits everything issued so far, now (for `close`). */
  flushNow(): void {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    while (this.queue.length > 0) this.commit(this.queue.splice(0, this.maxBatch));
  }

  private drain(): void {
    this.scheduled = undefined;
    const batch = this.queue.length <= this.maxBatch ? this.queue : this.queue.slice(0, this.maxBatch);
    this.queue = batch === this.queue ? [] : this.queue.slice(this.maxBatch);
    if (this.queue.length > 0) this.scheduled = setImmediate(() => this.drain());
    this.commit(batch);
  }

  private commit(batch: Pending[]): void {
    const values: unknown[] = new Array(batch.length);
    try {
      this.options.transaction(() => {
        for (let i = 0; i < batch.length; i++) values[i] = batch[i]!.op();
      });
    } catch {
      // One write failed (a duplicate id, a full disk): the whole batch rolled back. Run each write in
      // its own transaction so that only the failing ones fail, each with its own error.
      this.options.afterRollback?.();
      for (const item of batch) this.commitOne(item);
      return;
    }
    this.options.afterCommit?.();
    for (let i = 0; i < batch.length; i++) batch[i]!.resolve(values[i]);
  }

  private commitOne(item: Pending): void {
    let value: unknown;
    try {
      this.options.transaction(() => {
        value = item.op();
      });
    } catch (error) {
      this.options.afterRollback?.();
      item.reject(error);
      return;
    }
    this.options.afterCommit?.();
    item.resolve(value);
  }
}
