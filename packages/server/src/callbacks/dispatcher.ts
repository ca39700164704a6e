/**
 * The dispatcher role (`callbacks.md` §3): claims due deliveries from the outbox, sends them, and records
 * every attempt with the delivery's next state. It runs beside the gateway and the workers, never on a
 * worker's inference slot, so workers never wait for receivers.
 *
 * Scheduling:
 * - At most `concurrency` attempts run at once, and at most `perOriginConcurrency` to one origin
 *   (scheme://host:port), so a slow or hanging receiver holds only its own slots.
 * - The dispatcher claims when a slot is idle (at least as many as there are idle slots), and tops up a
 *   look-ahead of up to `concurrency` claimed deliveries waiting for a slot before it runs dry, so an
 *   attempt that ends is followed at once by the next, without waiting for a claim. Claims are oldest
 *   first whatever the origin, so deliveries for a saturated origin are held in memory (up to `maxHeld`
 *   in all) while the ones behind them, for other origins, start at once.
 * - An origin is *stalled* when all its slots are busy and none of its attempts has ended without a
 *   timeout for `stallMs`. A stalled origin keeps at most `stalledBacklog` deliveries in memory; the rest
 *   are let go (their claim expires after `claimMs` and they are claimed again), so a hanging receiver
 *   with a large backlog cannot fill the memory that other receivers' deliveries need. An origin that
 *   answers, however slowly, is never shed: its backlog is held up to `maxHeld` (deliveries to other
 *   origins wait only once that is full).
 * - A held delivery whose claim would run out before its attempt could finish is let go too.
 * - When nothing is due it waits on `outbox.waitForDue`: a new delivery goes out at once, a retry when it
 *   comes due, without polling.
 * - `stop()` stops claiming, lets attempts in flight finish for `stopGraceMs`, then aborts the rest
 *   without recording them, and gives back the claims of every delivery it did not send (`releaseClaim`):
 *   they go out again at once, from the next dispatcher (at-least-once; an aborted attempt may have
 *   reached its receiver, which drops the duplicate by `webhook-id`). A dispatcher that dies instead
 *   leaves its claims to run out (`claimMs`).
 */
import type { LaunchConfig } from "../config/schema.js";
import type { SecretsBox } from "../domain/secrets-box.js";
import type { MetricsRegistry } from "../metrics/registry.js";
import { HttpAgents, loadCallbackCaFile } from "./http-agents.js";
import { type CallbackMetrics, callbackMetrics } from "./metrics.js";
import { NetworkPolicy } from "./network-policy.js";
import type { AttemptRecord, CallbackOutbox, ClaimedDelivery, NewAttempt } from "./port.js";
import { classifyStatus, DEFAULT_RETRY_SCHEDULE, nextStep, parseRetrySchedule } from "./retry-policy.js";
import { CallbackSender, type SendOutcome, type SigningKeys } from "./sender.js";

/** Where the dispatcher reports (a pino/Fastify logger fits). Never given credentials or bodies. */
export interface DispatcherLog {
  debug(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export interface CallbackDispatcherOptions {
  outbox: CallbackOutbox;
  /** Opens the deliveries' sealed credentials. */
  secrets: SecretsBox;
  /** The endpoints' signing secrets. */
  signingKeys: SigningKeys;
  log?: DispatcherLog;
  /** Per-attempt timeout: connect, TLS and the whole answer. Default 10,000 ms. */
  timeoutMs?: number;
  /** Attempts in flight at once. Default 64. */
  concurrency?: number;
  /** Attempts in flight at once to one origin. Default 8. */
  perOriginConcurrency?: number;
  /** Largest delay before each retry, ms. Default {@link DEFAULT_RETRY_SCHEDULE}. */
  retryScheduleMs?: readonly number[];
  /** Allow loopback and private networks. Default true. */
  allowPrivateNetworks?: boolean;
  /** Extra trusted CA certificates (PEM). */
  extraCa?: readonly string[];
  /** Where the metrics live. Default: the process-wide registry (`renderMetrics()`). */
  metrics?: MetricsRegistry;
  /** How long in-flight attempts may finish after `stop()` before they are aborted. Default 5,000 ms. */
  stopGraceMs?: number;
  /** How long a claim lasts. Default max(60 s, 6 × timeout). */
  claimMs?: number;
  /** Deliveries held at once, in flight and waiting for a slot. Default 16 × concurrency. */
  maxHeld?: number;
  /** A saturated origin with no attempt ending without a timeout for this long is stalled. Default min(timeout, 1 s). */
  stallMs?: number;
  /** Deliveries a stalled origin keeps waiting in memory. Default 4 × per-origin concurrency. */
  stalledBacklog?: number;
  /** Epoch ms. */
  clock?: () => number;
  /** Uniform in [0, 1), for the jitter. */
  random?: () => number;
}

/** The collaborators {@link CallbackDispatcher.fromConfig} cannot build from configuration. */
export type CallbackDispatcherDeps = Pick<
  CallbackDispatcherOptions,
  "outbox" | "secrets" | "signingKeys" | "log" | "metrics"
>;

type CallbackSettings = Pick<
  LaunchConfig,
  | "callbackTimeoutSeconds"
  | "callbackConcurrency"
  | "callbackPerOriginConcurrency"
  | "callbackRetrySchedule"
  | "callbackAllowPrivateNetworks"
  | "callbackCaFile"
>;

interface Held {
  delivery: ClaimedDelivery;
  origin: string;
  claimedAt: number;
}

interface OriginState {
  inFlight: number;
  /** When an attempt to it last ended without a timeout (or when it became busy). */
  lastProgressAt: number;
}

const silent: DispatcherLog = { debug() {}, warn() {}, error() {} };

/**
 * Sends callbacks until stopped.
 *
 * @example
 * const dispatcher = CallbackDispatcher.fromConfig(config, { outbox, secrets: box, signingKeys, log: app.log });
 * dispatcher.start();
 * // on shutdown, before closing the outbox:
 * await dispatcher.stop();
 */
export class CallbackDispatcher {
  readonly #outbox: CallbackOutbox;
  readonly #log: DispatcherLog;
  readonly #agents: HttpAgents;
  readonly #sender: CallbackSender;
  readonly #metrics: CallbackMetrics;
  readonly #scheduleMs: readonly number[];
  readonly #concurrency: number;
  readonly #perOrigin: number;
  readonly #timeoutMs: number;
  readonly #stopGraceMs: number;
  readonly #claimMs: number;
  readonly #maxHeld: number;
  readonly #refill: number;
  readonly #lookahead: number;
  readonly #stallMs: number;
  readonly #stalledBacklog: number;
  readonly #clock: () => number;
  readonly #random: () => number;

  /** Deliveries waiting for a slot, by origin (insertion order = round-robin order). */
  readonly #waiting = new Map<string, Held[]>();
  readonly #origins = new Map<string, OriginState>();
  /** Attempts in flight. */
  #running = 0;
  /** Called when the last attempt in flight ends (set only while `stop()` waits for them). */
  #allEnded: (() => void) | undefined;
  /** Aborts every attempt still in flight once `stop()`'s grace is over (one signal for all of them). */
  readonly #abortInFlight = new AbortController();
  #held = 0;
  #started = false;
  #stopping = false;
  #loop: Promise<void> | undefined;
  #stopped: Promise<void> | undefined;
  readonly #stopController = new AbortController();
  #wakeLoop: (() => void) | undefined;

  constructor(options: CallbackDispatcherOptions) {
    this.#outbox = options.outbox;
    this.#log = options.log ?? silent;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#concurrency = Math.max(1, options.concurrency ?? 64);
    this.#perOrigin = Math.max(1, options.perOriginConcurrency ?? 8);
    this.#scheduleMs = options.retryScheduleMs ?? parseRetrySchedule(DEFAULT_RETRY_SCHEDULE);
    this.#stopGraceMs = options.stopGraceMs ?? 5_000;
    this.#claimMs = Math.ceil(options.claimMs ?? Math.max(60_000, 6 * this.#timeoutMs));
    this.#maxHeld = Math.max(this.#concurrency, options.maxHeld ?? 16 * this.#concurrency);
    // Claim in batches of at least this many once memory is nearly full, not one by one.
    this.#refill = Math.max(1, Math.floor(this.#concurrency / 4));
    // Deliveries claimed ahead of a free slot; never more than leaves room for the slots themselves.
    this.#lookahead = Math.min(this.#concurrency, this.#maxHeld - this.#concurrency);
    this.#stallMs = options.stallMs ?? Math.min(this.#timeoutMs, 1_000);
    this.#stalledBacklog = Math.max(0, options.stalledBacklog ?? 4 * this.#perOrigin);
    this.#clock = options.clock ?? Date.now;
    this.#random = options.random ?? Math.random;
    this.#metrics = callbackMetrics(options.metrics);
    this.#agents = new HttpAgents({
      policy: new NetworkPolicy({ allowPrivateNetworks: options.allowPrivateNetworks ?? true }),
      ...(options.extraCa ? { extraCa: options.extraCa } : {}),
      connectTimeoutMs: this.#timeoutMs,
      connectionsPerOrigin: this.#perOrigin,
    });
    this.#sender = new CallbackSender({
      agents: this.#agents,
      secrets: options.secrets,
      signingKeys: options.signingKeys,
      timeoutMs: this.#timeoutMs,
      clock: this.#clock,
    });
  }

  /**
   * A dispatcher with the `callback*` settings: timeout, concurrency, retry schedule, network policy and
   * CA file (read now: a bad file or schedule throws a `validation_failed` LaunchError naming the setting).
   */
  static fromConfig(config: CallbackSettings, deps: CallbackDispatcherDeps): CallbackDispatcher {
    return new CallbackDispatcher({
      ...deps,
      timeoutMs: config.callbackTimeoutSeconds * 1000,
      concurrency: config.callbackConcurrency,
      perOriginConcurrency: config.callbackPerOriginConcurrency,
      retryScheduleMs: parseRetrySchedule(config.callbackRetrySchedule),
      allowPrivateNetworks: config.callbackAllowPrivateNetworks,
      extraCa: config.callbackCaFile ? loadCallbackCaFile(config.callbackCaFile) : [],
    });
  }

  /** Starts claiming and sending. Calling it again (or after `stop`) does nothing. */
  start(): void {
    if (this.#started || this.#stopping) return;
    this.#started = true;
    this.#loop = this.#run();
  }

  /** Attempts in flight right now. */
  get inFlight(): number {
    return this.#running;
  }

  /** Deliveries held right now: in flight, and claimed but waiting for a slot. */
  get held(): number {
    return this.#held;
  }

  /**
   * Stops claiming, gives attempts in flight `stopGraceMs` to finish (and be recorded), aborts the rest,
   * gives back the claims of every delivery it did not send (waiting for a slot, or aborted) so they go
   * out again at once, and closes the connection pools. Safe to call more than once.
   */
  stop(): Promise<void> {
    this.#stopped ??= this.#stop();
    return this.#stopped;
  }

  async #stop(): Promise<void> {
    this.#stopping = true;
    this.#stopController.abort();
    this.#wakeLoop?.();
    await this.#loop;
    // Deliveries still waiting for a slot were never tried: their claims go back.
    const untried: ClaimedDelivery[] = [];
    for (const queue of this.#waiting.values()) for (const held of queue) untried.push(held.delivery);
    this.#held -= untried.length;
    this.#waiting.clear();
    const releasing = this.#release(untried);
    if (this.#running > 0) {
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.#stopGraceMs);
      });
      await Promise.race([this.#whenAllEnded(), grace]);
      clearTimeout(timer);
      // An aborted attempt is not recorded; its claim goes back too (`#attempt`).
      this.#abortInFlight.abort(new Error("the dispatcher is stopping"));
      await this.#whenAllEnded();
    }
    await releasing;
    await this.#agents.close();
  }

  /** Resolves once no attempt is in flight. */
  #whenAllEnded(): Promise<void> {
    if (this.#running === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const before = this.#allEnded;
      this.#allEnded = () => {
        before?.();
        resolve();
      };
    });
  }

  /**
   * Gives claims back (deliveries this dispatcher will not send). A failure only delays them: the claims
   * run out.
   */
  async #release(deliveries: readonly ClaimedDelivery[]): Promise<void> {
    if (deliveries.length === 0) return;
    const results = await Promise.allSettled(
      deliveries.map((delivery) => this.#outbox.releaseClaim(delivery.id, delivery.claimToken)),
    );
    const failed = results.find((result) => result.status === "rejected");
    if (failed) {
      this.#log.warn(
        { err: failed.reason, deliveries: deliveries.length },
        "giving back callback claims failed; those deliveries go out again once their claims run out",
      );
    }
  }

  async #run(): Promise<void> {
    const signal = this.#stopController.signal;
    while (!this.#stopping) {
      this.#shed();
      this.#pump();
      const want = this.#wanted();
      if (want === 0) {
        // Every slot is busy and enough deliveries wait for one, or memory is full of deliveries for
        // saturated origins: wait for an attempt to end (or for a stall to be noticed).
        await this.#changed(this.#stallMs);
        continue;
      }
      let claimed: ClaimedDelivery[];
      try {
        claimed = await this.#outbox.claimDue(want, this.#claimMs);
      } catch (error) {
        this.#log.error({ err: error }, "claiming callback deliveries failed; retrying in 1 s");
        await sleep(1_000, signal);
        continue;
      }
      // Claimed just as stop() began: give the claims back rather than start new attempts.
      if (this.#stopping) {
        await this.#release(claimed);
        break;
      }
      if (claimed.length === 0) {
        try {
          await this.#outbox.waitForDue(30_000, signal);
        } catch (error) {
          this.#log.error({ err: error }, "waiting for callback deliveries failed; retrying in 1 s");
          await sleep(1_000, signal);
        }
        continue;
      }
      const claimedAt = this.#clock();
      for (const delivery of claimed) this.#enqueue({ delivery, origin: originOf(delivery.url), claimedAt });
    }
  }

  /**
   * How many deliveries to claim now (0: none). With an idle slot: the idle slots plus the look-ahead,
   * unless memory has no room for a useful batch. With every slot busy: a top-up of the look-ahead once
   * it is half spent.
   */
  #wanted(): number {
    const idle = this.#concurrency - this.#running;
    const room = this.#maxHeld - this.#held;
    const waiting = this.#held - this.#running;
    if (idle > 0) {
      if (room < Math.min(idle, this.#refill)) return 0;
      return Math.min(room, Math.max(idle, idle + this.#lookahead - waiting));
    }
    if (waiting * 2 > this.#lookahead) return 0;
    const topUp = Math.min(room, this.#lookahead - waiting);
    return topUp >= Math.min(this.#refill, this.#lookahead) ? topUp : 0;
  }

  /** Resolves when an attempt ends, on stop, or after `ms` (only the loop waits here). */
  #changed(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const finish = (): void => {
        clearTimeout(timer);
        this.#wakeLoop = undefined;
        resolve();
      };
      const timer = setTimeout(finish, ms);
      this.#wakeLoop = finish;
    });
  }

  #enqueue(held: Held): void {
    if (
      this.#isStalled(held.origin, this.#clock()) &&
      this.#queueOf(held.origin).length >= this.#stalledBacklog
    ) {
      this.#log.debug(
        { delivery: held.delivery.id, origin: held.origin },
        "callback receiver stalled; the delivery is left for a later claim",
      );
      return;
    }
    this.#queueOf(held.origin).push(held);
    this.#held++;
  }

  #queueOf(origin: string): Held[] {
    let queue = this.#waiting.get(origin);
    if (queue === undefined) {
      queue = [];
      this.#waiting.set(origin, queue);
    }
    return queue;
  }

  /** Lets go of held deliveries whose claim is about to run out, and of stalled origins' excess. */
  #shed(): void {
    const now = this.#clock();
    const latestStart = now + this.#timeoutMs + 1_000 - this.#claimMs;
    for (const [origin, queue] of this.#waiting) {
      // Queues are in claim order: when the first is fresh enough, so are the rest.
      const first = queue[0];
      if (first === undefined || (first.claimedAt >= latestStart && queue.length <= this.#stalledBacklog))
        continue;
      let keep = queue.filter((held) => held.claimedAt >= latestStart);
      if (keep.length > this.#stalledBacklog && this.#isStalled(origin, now)) {
        keep = keep.slice(0, this.#stalledBacklog);
      }
      if (keep.length === queue.length) continue;
      this.#held -= queue.length - keep.length;
      if (keep.length === 0) this.#waiting.delete(origin);
      else this.#waiting.set(origin, keep);
    }
  }

  #isStalled(origin: string, now: number): boolean {
    const state = this.#origins.get(origin);
    return (
      state !== undefined && state.inFlight >= this.#perOrigin && now - state.lastProgressAt >= this.#stallMs
    );
  }

  /** Starts attempts while there are free slots and deliveries whose origin has room. */
  #pump(): void {
    while (!this.#stopping && this.#running < this.#concurrency) {
      const next = this.#nextReady();
      if (next === undefined) return;
      // Too late to finish before the claim runs out: leave it to be claimed again.
      if (this.#clock() + this.#timeoutMs + 1_000 > next.claimedAt + this.#claimMs) {
        this.#held--;
        continue;
      }
      this.#startAttempt(next);
    }
  }

  #nextReady(): Held | undefined {
    for (const [origin, queue] of this.#waiting) {
      if ((this.#origins.get(origin)?.inFlight ?? 0) >= this.#perOrigin) continue;
      const next = queue.shift();
      this.#waiting.delete(origin);
      // Round-robin: an origin that still has deliveries goes to the back.
      if (queue.length > 0) this.#waiting.set(origin, queue);
      if (next) return next;
    }
    return undefined;
  }

  #startAttempt(held: Held): void {
    let state = this.#origins.get(held.origin);
    if (state === undefined) {
      state = { inFlight: 0, lastProgressAt: this.#clock() };
      this.#origins.set(held.origin, state);
    }
    state.inFlight++;
    this.#running++;
    void this.#runAttempt(held);
  }

  /** One attempt and what follows its end: the slot goes to the next delivery, and the loop claims if it should. */
  async #runAttempt(held: Held): Promise<void> {
    let progressed = false;
    try {
      progressed = await this.#attempt(held.delivery, this.#abortInFlight.signal);
    } catch (error) {
      this.#log.error({ err: error, delivery: held.delivery.id }, "a callback attempt failed unexpectedly");
    }
    this.#ended(held.origin, progressed);
    this.#running--;
    if (this.#running === 0 && this.#allEnded !== undefined) {
      const allEnded = this.#allEnded;
      this.#allEnded = undefined;
      allEnded();
    }
    this.#pump();
    // Wake the loop only when it has something to do: most ends are followed by a waiting delivery.
    if (this.#wakeLoop !== undefined && this.#wanted() > 0) this.#wakeLoop();
  }

  #ended(origin: string, progressed: boolean): void {
    const state = this.#origins.get(origin);
    if (state) {
      state.inFlight--;
      if (progressed) state.lastProgressAt = this.#clock();
      if (state.inFlight === 0) this.#origins.delete(origin);
    }
    this.#held--;
  }

  /** One attempt, recorded; resolves whether the receiver made progress (the attempt did not time out). */
  async #attempt(delivery: ClaimedDelivery, signal: AbortSignal): Promise<boolean> {
    let progressed = false;
    try {
      const sent = await this.#sender.send(delivery, signal);
      if (sent.aborted) {
        await this.#release([delivery]);
        return false;
      }
      progressed = sent.errorClass !== "timeout";
      this.#metrics.attempts.inc({ result: sent.errorClass ?? "delivered" });
      this.#metrics.attemptDuration.observe(sent.latencyMs / 1000);
      const retryable =
        sent.result.kind === "error" ? sent.result.retryable : classifyStatus(sent.result.status) === "retry";
      const retriesSoFar = retryable ? await this.#retriesSoFar(delivery) : 0;
      const now = this.#clock();
      const step = nextStep({
        result: sent.result,
        retriesSoFar,
        scheduleMs: this.#scheduleMs,
        now,
        random: this.#random,
      });
      const record: NewAttempt & Pick<AttemptRecord, "n"> = {
        deliveryId: delivery.id,
        n: delivery.attempts + 1,
        startedAt: sent.startedAt,
        url: delivery.url ?? "",
        statusCode: sent.statusCode,
        errorClass: sent.errorClass,
        errorMessage:
          step.outcome === "failed" && step.why === "exhausted"
            ? `${sent.errorMessage}; the retry schedule is spent (${retriesSoFar + 1} attempts in a row failed)`
            : sent.errorMessage,
        latencyMs: sent.latencyMs,
        outcome: step.outcome,
        nextAttemptAt: step.outcome === "retry" ? step.nextAttemptAt : null,
      };
      const recorded = await this.#outbox.recordAttempt(delivery.id, delivery.claimToken, record);
      if (!recorded) {
        this.#log.warn(
          { delivery: delivery.id, attempt: record.n },
          "the claim on a callback delivery was lost before its attempt was recorded; it will be sent again",
        );
        return progressed;
      }
      this.#count(delivery, record, sent);
    } catch (error) {
      this.#log.error({ err: error, delivery: delivery.id }, "a callback attempt could not be recorded");
    }
    return progressed;
  }

  /** Retries made in the current run of the schedule: the attempts since the last one that was not a retry. */
  async #retriesSoFar(delivery: ClaimedDelivery): Promise<number> {
    if (delivery.attempts === 0) return 0;
    const attempts = await this.#outbox.listAttempts(delivery.id);
    let count = 0;
    for (let i = attempts.length - 1; i >= 0 && attempts[i]!.outcome === "retry"; i--) count++;
    return count;
  }

  #count(delivery: ClaimedDelivery, record: NewAttempt & Pick<AttemptRecord, "n">, sent: SendOutcome): void {
    const fields = {
      delivery: delivery.id,
      endpoint: delivery.endpointId,
      attempt: record.n,
      status: record.statusCode,
      errorClass: record.errorClass,
      latencyMs: sent.latencyMs,
    };
    if (record.outcome === "delivered") {
      this.#metrics.deliveries.inc({ outcome: "delivered" });
      this.#metrics.deliveryLatency.observe(Math.max(0, this.#clock() - delivery.createdAt) / 1000);
      this.#log.debug(fields, "callback delivered");
    } else if (record.outcome === "retry") {
      this.#metrics.deliveries.inc({ outcome: "retried" });
      this.#log.debug(
        { ...fields, nextAttemptAt: record.nextAttemptAt },
        "callback attempt failed; retry scheduled",
      );
    } else {
      this.#metrics.deliveries.inc({ outcome: "failed" });
      this.#log.warn(
        { ...fields, error: record.errorMessage },
        "callback delivery failed for good (dead letter)",
      );
    }
  }
}

/** Recent URLs' origins (most deliveries go to a few URLs); bounded. */
const origins = new Map<string, string>();

/** The per-origin limit's key: `scheme://host:port`, or the raw text when it is not a URL. */
function originOf(url: string | null): string {
  if (url === null) return "";
  let origin = origins.get(url);
  if (origin === undefined) {
    try {
      origin = new URL(url).origin;
    } catch {
      origin = url;
    }
    if (origins.size >= 1024) origins.delete(origins.keys().next().value as string);
    origins.set(url, origin);
  }
  return origin;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
