/**
 * Only one controller acts at a time (`docs/operations.md`): every process with the controller role
 * tries to hold the `controller` lease of the coordination port, renewing it every third of its TTL.
 * The holder sweeps the queue; the others stand by and take over once the lease runs out (within
 * `LAUNCH_CONTROLLER_LEASE_SECONDS` of the holder dying), or at once when it stops cleanly.
 */
import type { LeaderLease } from "../coordination/port.js";

export const CONTROLLER_LEASE = "controller";

export interface ControllerLeaseLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export interface ControllerLeaseOptions {
  leases: LeaderLease;
  /** This process's name in the lease (host and pid, plus a random part). */
  holder: string;
  ttlMs: number;
  log: ControllerLeaseLog;
}

export class ControllerLease {
  readonly #options: ControllerLeaseOptions;
  /** Until when this process may act: the start of its last successful renewal plus the TTL, less a margin. */
  #leadingUntil = 0;
  #wasLeading = false;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(options: ControllerLeaseOptions) {
    this.#options = options;
  }

  /**
   * Whether this process is the acting controller. It stops acting on its own when it could not renew in
   * time (a paused or cut-off process), before another process can have taken the lease over.
   */
  get leading(): boolean {
    return !this.#stopped && Date.now() < this.#leadingUntil;
  }

  /** Tries at once, then every third of the TTL (one renewal at a time). */
  async start(): Promise<void> {
    await this.#renew();
    this.#schedule();
  }

  /** Stops renewing and gives the lease up, so a standby controller takes over at once. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    if (this.#leadingUntil > 0) {
      this.#leadingUntil = 0;
      await this.#options.leases.release(CONTROLLER_LEASE, this.#options.holder).catch(() => undefined);
    }
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(
      () => {
        void this.#renew().finally(() => this.#schedule());
      },
      Math.max(100, Math.floor(this.#options.ttlMs / 3)),
    );
    this.#timer.unref();
  }

  async #renew(): Promise<void> {
    if (this.#stopped) return;
    const { leases, holder, ttlMs, log } = this.#options;
    const began = Date.now();
    let held: boolean;
    try {
      held = await leases.acquire(CONTROLLER_LEASE, holder, ttlMs);
    } catch (error) {
      // Unsure whether the lease is still ours: stop acting rather than risk two controllers.
      held = false;
      log.warn({ err: error }, "could not renew the controller lease; standing by");
    }
    if (this.#stopped) return;
    // The lease runs from when it was asked for; keep a tenth of it as a margin for clock drift.
    this.#leadingUntil = held ? began + ttlMs - Math.ceil(ttlMs / 10) : 0;
    if (held && !this.#wasLeading) log.info({ holder }, "this process is now the acting controller");
    if (!held && this.#wasLeading) log.warn({ holder }, "lost the controller lease; standing by");
    this.#wasLeading = held;
  }
}
