import { describe, expect, it } from "vitest";
import { demandedWorkers, desiredWorkers, type ScalingInput } from "./scaling.js";

const base: ScalingInput = {
  minWorkers: 0,
  maxWorkers: 4,
  perWorker: 2,
  queued: 0,
  inFlight: 0,
  syncDemand: 0,
  current: 0,
  now: 100_000,
  lastNeededCurrentAt: 100_000,
  scaleDownMs: 30_000,
  idleMs: 300_000,
};

describe("desiredWorkers", () => {
  it("starts one worker for the first task of an endpoint at zero", () => {
    expect(desiredWorkers({ ...base, queued: 1 })).toBe(1);
  });

  it("scales up at once to demand / per_worker, never past max_workers", () => {
    expect(desiredWorkers({ ...base, queued: 5, current: 1 })).toBe(3);
    expect(desiredWorkers({ ...base, queued: 500, current: 1 })).toBe(4);
  });

  it("keeps min_workers with no demand", () => {
    expect(desiredWorkers({ ...base, minWorkers: 2, current: 0 })).toBe(2);
    expect(desiredWorkers({ ...base, minWorkers: 2, current: 2, lastNeededCurrentAt: 0 })).toBe(2);
  });

  it("scales down one worker at a time, only after demand stayed lower for the delay", () => {
    const busyUntil = base.now - 10_000;
    expect(desiredWorkers({ ...base, queued: 1, current: 3, lastNeededCurrentAt: busyUntil })).toBe(3);
    expect(desiredWorkers({ ...base, queued: 1, current: 3, lastNeededCurrentAt: base.now - 31_000 })).toBe(
      2,
    );
  });

  it("goes to zero only after the idle time without any demand", () => {
    expect(desiredWorkers({ ...base, current: 1, lastNeededCurrentAt: base.now - 31_000 })).toBe(1);
    expect(desiredWorkers({ ...base, current: 1, lastNeededCurrentAt: base.now - 300_000 })).toBe(0);
  });

  it("counts sync requests as demand", () => {
    expect(desiredWorkers({ ...base, minWorkers: 1, syncDemand: 5, current: 1 })).toBe(3);
  });
});

describe("demandedWorkers", () => {
  it("is demand at per_worker each, within the bounds, with no delay", () => {
    expect(demandedWorkers({ ...base, queued: 3 })).toBe(2);
    expect(demandedWorkers({ ...base, minWorkers: 1 })).toBe(1);
    expect(demandedWorkers({ ...base, queued: 100 })).toBe(4);
    expect(demandedWorkers({ ...base })).toBe(0);
  });
});
