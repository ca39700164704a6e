/**
 * The failure texts every queue adapter records, so a task fails with the same words whatever the
 * backend. Clients see them as the task's `result` (FAILURE) or error message (UNDEFINED).
 */

/**
 * Why a task failed when its last lease expired.
 *
 * @example leaseExpiredMessage(3) // "task failed after 3 attempts: its worker stopped renewing the lease (crashed or hung)"
 */
export function leaseExpiredMessage(attempts: number): string {
  return `task failed after ${attempts} attempt${attempts === 1 ? "" : "s"}: its worker stopped renewing the lease (crashed or hung)`;
}

/**
 * Why a task became UNDEFINED: it waited in the queue past its endpoint's `task_expires_seconds`.
 *
 * @example expiredMessage() // "task expired before a worker started it (the endpoint's task_expires_seconds)"
 */
export function expiredMessage(): string {
  return "task expired before a worker started it (the endpoint's task_expires_seconds)";
}
