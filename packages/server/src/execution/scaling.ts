/** What the autoscaler knows about one endpoint at one moment. */
export interface ScalingInput {
  minWorkers: number;
  maxWorkers: number;
  /** Tasks (queued + in flight + sync requests) one worker should carry before another is started. */
  perWorker: number;
  queued: number;
  inFlight: number;
  /** Sync and streaming requests being served or waiting for a worker. */
  syncDemand: number;
  /** Workers running or starting (not draining). */
  current: number;
  now: number;
  /** The last time demand needed at least `current` workers (or the endpoint was rolled out). */
  lastNeededCurrentAt: number;
  /** How long demand must stay below `current` before one worker is stopped. */
  scaleDownMs: number;
  /** How long an endpoint with `minWorkers` 0 must be idle before its last worker stops. */
  idleMs: number;
}

/**
 * How many workers an endpoint should run: enough for its demand at `perWorker` each, between
 * `minWorkers` and `maxWorkers`. It scales up at once and down one worker at a time after demand has
 * stayed lower for `scaleDownMs` (to zero only after `idleMs` without any demand).
 *
 * @example desiredWorkers({ minWorkers: 0, maxWorkers: 4, perWorker: 2, queued: 5, inFlight: 0, syncDemand: 0, current: 0, ... }) // 3
 */
export function desiredWorkers(input: ScalingInput): number {
  const target = demandedWorkers(input);
  if (target >= input.current) return target;
  const quiet = input.now - input.lastNeededCurrentAt;
  if (target === 0) return quiet >= input.idleMs ? 0 : input.current;
  return quiet >= input.scaleDownMs ? input.current - 1 : input.current;
}

/** The workers demand calls for right now, between the bounds, without any delay. */
export function demandedWorkers(
  input: Pick<ScalingInput, "minWorkers" | "maxWorkers" | "perWorker" | "queued" | "inFlight" | "syncDemand">,
): number {
  const demand = input.queued + input.inFlight + input.syncDemand;
  const needed = demand === 0 ? 0 : Math.ceil(demand / Math.max(1, input.perWorker));
  return Math.min(input.maxWorkers, Math.max(input.minWorkers, needed));
}
