/**
 * Queue adapters are their own callback outbox (a task's delivery is written with its result), but keep
 * the outbox's logic in a separate object (`embedded/embedded-outbox.ts`, `redis/redis-outbox.ts`). This
 * base class forwards the `CallbackOutbox` port to that object, once for every adapter.
 */
import type {
  AttemptRecord,
  CallbackOutbox,
  ClaimedDelivery,
  DeliveryListQuery,
  DeliveryRecord,
  NewAttempt,
  NewDelivery,
} from "../callbacks/port.js";

export abstract class ForwardsToOutbox implements CallbackOutbox {
  /** The adapter's outbox logic. */
  protected abstract readonly outbox: CallbackOutbox;

  addDelivery(delivery: NewDelivery): Promise<DeliveryRecord> {
    return this.outbox.addDelivery(delivery);
  }

  claimDue(max: number, claimMs: number, now?: number): Promise<ClaimedDelivery[]> {
    return this.outbox.claimDue(max, claimMs, now);
  }

  recordAttempt(deliveryId: string, claimToken: string, attempt: NewAttempt): Promise<boolean> {
    return this.outbox.recordAttempt(deliveryId, claimToken, attempt);
  }

  releaseClaim(deliveryId: string, claimToken: string): Promise<boolean> {
    return this.outbox.releaseClaim(deliveryId, claimToken);
  }

  waitForDue(timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    return this.outbox.waitForDue(timeoutMs, signal);
  }

  getDelivery(id: string): Promise<DeliveryRecord | undefined> {
    return this.outbox.getDelivery(id);
  }

  listAttempts(deliveryId: string): Promise<AttemptRecord[]> {
    return this.outbox.listAttempts(deliveryId);
  }

  listDeliveriesOfTask(taskId: string): Promise<DeliveryRecord[]> {
    return this.outbox.listDeliveriesOfTask(taskId);
  }

  listDeliveries(query: DeliveryListQuery): Promise<DeliveryRecord[]> {
    return this.outbox.listDeliveries(query);
  }

  replay(deliveryId: string, now?: number): Promise<DeliveryRecord | undefined> {
    return this.outbox.replay(deliveryId, now);
  }

  replayFailed(endpointId: string, now?: number): Promise<number> {
    return this.outbox.replayFailed(endpointId, now);
  }
}
