/**
 * The dispatcher's Prometheus metrics:
 *
 * - `launch_callback_deliveries_total{outcome="delivered"|"failed"|"retried"}`: what each recorded
 *   attempt did to its delivery (a delivery retried three times then delivered counts 3 retried, 1 delivered);
 * - `launch_callback_attempts_total{result}`: attempts by result, `delivered` or the error class
 *   (`timeout`, `http_503`, `tls`, ...);
 * - `launch_callback_attempt_duration_seconds`: how long attempts took;
 * - `launch_callback_delivery_latency_seconds`: from the delivery's creation (the task finishing) to a
 *   receiver accepting it.
 */
import { type Counter, defaultRegistry, type Histogram, type MetricsRegistry } from "../metrics/registry.js";

const ATTEMPT_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const LATENCY_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14400,
  43200, 86400,
];

/** The dispatcher's metrics, registered in `registry` (the process-wide one by default). */
export interface CallbackMetrics {
  deliveries: Counter;
  attempts: Counter;
  attemptDuration: Histogram;
  deliveryLatency: Histogram;
}

/** Registers (or finds) the dispatcher's metrics. */
export function callbackMetrics(registry: MetricsRegistry = defaultRegistry): CallbackMetrics {
  return {
    deliveries: registry.counter(
      "launch_callback_deliveries_total",
      "Callback attempts by what they did to their delivery: delivered, failed (dead letter) or retried.",
      ["outcome"],
    ),
    attempts: registry.counter(
      "launch_callback_attempts_total",
      "Callback attempts by result: delivered, or the error class (timeout, http_503, tls, ...).",
      ["result"],
    ),
    attemptDuration: registry.histogram(
      "launch_callback_attempt_duration_seconds",
      "Duration of callback attempts, connect to the end of the receiver's answer.",
      ATTEMPT_BUCKETS,
    ),
    deliveryLatency: registry.histogram(
      "launch_callback_delivery_latency_seconds",
      "Time from a delivery's creation (its task finishing) to a receiver accepting it.",
      LATENCY_BUCKETS,
    ),
  };
}
