/** What `enqueue` records, the same in every queue adapter: a PENDING task with no attempt yet. */
import { LaunchError } from "@launch/protocol";
import type { NewTask, TaskRecord } from "./port.js";

/** The record of a task just enqueued at `createdAt`. */
export function enqueuedTask(task: NewTask, createdAt: number): TaskRecord {
  return {
    id: task.id,
    queue: task.queue,
    owner: task.owner,
    createdBy: task.createdBy,
    status: "PENDING",
    attempts: 0,
    maxAttempts: task.maxAttempts,
    createdAt,
    expiresAt: task.expiresAt,
    startedAt: null,
    finishedAt: null,
    workerId: null,
    leaseExpiresAt: null,
    result: null,
    error: null,
  };
}

/** The `conflict` LaunchError for a task id that is already taken. */
export function taskExists(id: string): LaunchError {
  return new LaunchError("conflict", `task ${id} already exists; task ids must be unique`);
}
