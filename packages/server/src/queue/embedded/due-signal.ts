/**
 * Wake-ups for idle dispatchers (`CallbackOutbox.waitForDue`), in process: waiters are woken after a
 * commit that makes a delivery claimable now (added, retried, replayed), and by one timer armed for the
 * earliest future time one becomes claimable (a retry's due time, a claim running out), so retries are
 * never late. The timer is unref'd: a waiter's own timeout is what keeps the process alive.
 */
import { Waiters } from "./waiters.js";

const KEY = "due";
/** setTimeout's longest delay; a later due time wakes waiters early, which is harmless (a hint). */
const MAX_DELAY = 2_147_483_647;

/**
 * One signal per outbox.
 *
 * @example const due = new DueSignal(Date.now); due.note(at); due.committed(); await due.wait(next, 60_000);
 */
export class DueSignal {
  private readonly waiters = new Waiters();
  /** The earliest due time noted by the transaction being written. */
  private noted = Number.POSITIVE_INFINITY;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Number.POSITIVE_INFINITY;

  constructor(private readonly clock: () => number) {}

  /** The transaction being written makes a delivery claimable at `at` (noted only when someone waits). */
  note(at: number): void {
    if (at < this.noted && this.waiters.has(KEY)) this.noted = at;
  }

  /** The transaction committed: wake waiters now, or arm the timer for its earliest due time. */
  committed(): void {
    const at = this.noted;
    if (at === Number.POSITIVE_INFINITY) return;
    this.noted = Number.POSITIVE_INFINITY;
    if (at <= this.clock()) this.waiters.wake(KEY);
    else this.arm(at);
  }

  /** The transaction rolled back: forget what it noted. */
  rolledBack(): void {
    this.noted = Number.POSITIVE_INFINITY;
  }

  /**
   * Waits for a wake-up, arming the timer for `next` (when the earliest delivery becomes claimable;
   * undefined when none is pending). True when woken; false on timeout, abort or close.
   */
  wait(next: number | undefined, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    const waiting = this.waiters.wait(KEY, timeoutMs, signal);
    if (next !== undefined) this.arm(next);
    return waiting;
  }

  /** Stops the timer and settles every waiter with false. */
  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    this.waiters.closeAll();
  }

  private arm(at: number): void {
    if (at >= this.timerAt) return;
    clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.timerAt = Number.POSITIVE_INFINITY;
        this.waiters.wake(KEY);
      },
      Math.min(Math.max(0, at - this.clock()), MAX_DELAY),
    );
    this.timer.unref();
  }
}
