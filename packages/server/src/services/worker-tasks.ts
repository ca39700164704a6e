/**
 * What every kind of worker (local processes fed by `execution/task-feeder.ts`, external ones through
 * `gateway/routes/workers.ts`) needs from the queue: a leased task in the worker's terms, and the
 * recording of how a task ended (a pickled output is stored as an artifact first, under the task's team).
 */
import type { TaskOutcome, WorkerTask } from "@launch/protocol";
import type { ArtifactStore } from "../artifacts/port.js";
import type { LeasedTask, TaskQueue } from "../queue/port.js";
import { deletePickledResult, storePickledResult } from "./pickled-results.js";
import type { TaskPayload } from "./task-payload.js";

/** A leased task as a worker receives it: the predict request, without its callback part. */
export function toWorkerTask(task: LeasedTask): WorkerTask {
  const payload = (task.payload ?? {}) as TaskPayload;
  return {
    id: task.id,
    token: task.leaseToken,
    args: payload.args,
    url: payload.url ?? null,
    returnPickled: payload.returnPickled ?? false,
    attempt: task.attempt,
  };
}

export interface RecordOutcomeDeps {
  queue: TaskQueue;
  artifacts: ArtifactStore;
}

/**
 * Records a worker's outcome for the lease `token` of task `id`: SUCCESS (storing a pickled output
 * first), or FAILURE / a retry. Resolves false when the lease was lost (another result won).
 */
export async function recordOutcome(
  deps: RecordOutcomeDeps,
  id: string,
  token: string,
  outcome: TaskOutcome,
): Promise<boolean> {
  const { queue } = deps;
  if (!outcome.ok) {
    const error = { message: outcome.error, traceback: outcome.traceback, statusCode: outcome.statusCode };
    const result = await queue.fail(id, token, error, { retry: outcome.retry ?? false });
    return result !== "lease_lost";
  }
  if (outcome.pickled === undefined) {
    return queue.complete(id, token, { output: outcome.output, statusCode: outcome.statusCode });
  }
  // The task's own team owns its result (with public_inference it may not be the endpoint's team).
  const task = await queue.get(id);
  if (task?.status !== "STARTED") return false;
  let resultUrl: string;
  try {
    resultUrl = await storePickledResult(deps.artifacts, task.owner, id, outcome.pickled);
  } catch (error) {
    const message = `The pickled output could not be stored: ${(error as Error).message}`;
    const result = await queue.fail(
      id,
      token,
      { message, traceback: null, statusCode: null },
      { retry: true },
    );
    return result !== "lease_lost";
  }
  const recorded = await queue.complete(id, token, {
    output: null,
    statusCode: outcome.statusCode,
    resultUrl,
  });
  // Another attempt won: its result stays, this one's file goes.
  if (!recorded) await deletePickledResult(deps.artifacts, resultUrl);
  return recorded;
}
