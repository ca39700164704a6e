/**
 * A bounded map of rows by id, least recently used evicted first, for the store's read caches
 * (`sql-store.ts`). It keeps rows, not records: every read builds a fresh record from the row, so a
 * caller that changes the record it got cannot change what the next caller reads.
 */

/**
 * Rows by id, at most `max` of them.
 *
 * @example const rows = new RowCache<BundlesTable>(1024); rows.set(row.id, row); rows.get(row.id);
 */
export class RowCache<Row> {
  readonly #rows = new Map<string, Row>();
  readonly #max: number;
  /** The id last moved to the end (most recently used), so that a run of reads of one id moves nothing. */
  #latest: string | undefined;

  constructor(max: number) {
    this.#max = Math.max(1, max);
  }

  /** How many rows are kept. */
  get size(): number {
    return this.#rows.size;
  }

  /** The row kept for `id`, now the most recently used. */
  get(id: string): Row | undefined {
    const row = this.#rows.get(id);
    if (row !== undefined && id !== this.#latest) {
      this.#rows.delete(id);
      this.#rows.set(id, row);
      this.#latest = id;
    }
    return row;
  }

  /** Keeps `row` for `id`, dropping the least recently used row beyond the bound. */
  set(id: string, row: Row): void {
    this.#rows.delete(id);
    this.#rows.set(id, row);
    this.#latest = id;
    if (this.#rows.size > this.#max) this.#rows.delete(this.#rows.keys().next().value as string);
  }

  delete(id: string): void {
    this.#rows.delete(id);
  }

  clear(): void {
    this.#rows.clear();
  }
}
