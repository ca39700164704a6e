/**
 * What `addDelivery` records, the same in every outbox adapter: a pending delivery is due at once; one
 * added as `skipped` (no callback URL) or otherwise finished keeps its note as `lastError`.
 */
import { LaunchError } from "@launch/protocol";
import type { DeliveryRecord, NewDelivery } from "./port.js";

/** The record of a delivery just added (no attempt yet). */
export function addedDelivery(delivery: NewDelivery): DeliveryRecord {
  const pending = delivery.status === "pending";
  return {
    id: delivery.id,
    taskId: delivery.taskId,
    endpointId: delivery.endpointId,
    owner: delivery.owner,
    event: delivery.event,
    url: delivery.url,
    auth: delivery.auth,
    body: delivery.body,
    status: delivery.status,
    attempts: 0,
    nextAttemptAt: pending ? delivery.createdAt : null,
    lastError: pending ? null : (delivery.note ?? null),
    lastStatusCode: null,
    createdAt: delivery.createdAt,
    deliveredAt: null,
  };
}

/** The `conflict` LaunchError for a delivery id that is already taken. */
export function deliveryExists(id: string): LaunchError {
  return new LaunchError("conflict", `delivery ${id} already exists; delivery ids must be unique`);
}
