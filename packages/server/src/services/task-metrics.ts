/**
 * Task counters for `GET /metrics`, counted where tasks pass through the queue port, so no service or
 * adapter has to know about metrics:
 * - `launch_tasks_submitted_total`: async tasks made durable by `enqueue`;
 * - `launch_tasks_finished_total{status}`: SUCCESS (`complete`), FAILURE (a final `fail`, or the sweep
 *   failing an expired last lease) and UNDEFINED (the sweep expiring a queued task).
 *
 * Counts are of this process since it started (Prometheus `rate()` handles restarts).
 */

import type { MetricsRegistry } from "../metrics/registry.js";
import type { TaskQueue } from "../queue/port.js";

/**
 * The same queue, counting submitted and finished tasks into `registry`. Every other method (and any
 * other interface the queue object implements, such as the callback outbox) passes through untouched.
 *
 * @example const queue = withTaskMetrics(new EmbeddedTaskQueue({ file }), registry);
 */
export function withTaskMetrics<Q extends TaskQueue>(queue: Q, registry: MetricsRegistry): Q {
  const submitted = registry.counter("launch_tasks_submitted_total", "Async tasks accepted (durable).");
  const finished = registry.counter(
    "launch_tasks_finished_total",
    "Async tasks that finished, by status: SUCCESS, FAILURE or UNDEFINED (expired in the queue).",
    ["status"],
  );
  const counted: Partial<TaskQueue> = {
    async enqueue(task) {
      const record = await queue.enqueue(task);
      submitted.inc();
      return record;
    },
    async complete(taskId, leaseToken, result) {
      const done = await queue.complete(taskId, leaseToken, result);
      if (done) finished.inc({ status: "SUCCESS" });
      return done;
    },
    async fail(taskId, leaseToken, error, options) {
      const outcome = await queue.fail(taskId, leaseToken, error, options);
      if (outcome === "failed") finished.inc({ status: "FAILURE" });
      return outcome;
    },
    async sweep(now) {
      const report = await queue.sweep(now);
      if (report.failed > 0) finished.inc({ status: "FAILURE" }, report.failed);
      if (report.expired > 0) finished.inc({ status: "UNDEFINED" }, report.expired);
      return report;
    },
  };
  const bound = new Map<PropertyKey, unknown>();
  return new Proxy(queue, {
    get(target, property) {
      const own = counted[property as keyof TaskQueue];
      if (own !== undefined) return own;
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== "function") return value;
      // Methods run on the queue itself (its private fields are not on the proxy).
      let method = bound.get(property);
      if (method === undefined) {
        method = value.bind(target);
        bound.set(property, method);
      }
      return method;
    },
  });
}
