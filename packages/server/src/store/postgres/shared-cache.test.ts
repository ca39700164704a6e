/**
 * Endpoint caching with several processes on one PostgreSQL store: without a bus nothing is cached
 * (another process may change an endpoint at any time); with one, each store caches, and a change made
 * by one reaches the other's next read at once. The bus here is an in-process pair; across processes it
 * is the coordination port's Redis channel (`coordination.test.ts`).
 */
import { newId } from "@launch/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EndpointChangeBus, EndpointRecord, Store } from "../port.js";
import { openPostgresStore } from "./postgres-store.js";
import { createTestSchema, probeTestDatabase, type TestSchema } from "./test-database.js";

/** A bus shared by the stores of this test, as Redis pub/sub is by processes. */
function localBus(): EndpointChangeBus & { published: string[] } {
  const listeners: ((id: string | null) => void)[] = [];
  const published: string[] = [];
  return {
    published,
    publish: (id) => {
      published.push(id);
      for (const listener of listeners) listener(id);
    },
    subscribe: (listener) => {
      listeners.push(listener);
    },
  };
}

function endpointRecord(): EndpointRecord {
  const now = new Date(Date.UTC(2026, 0, 1)).toISOString();
  const id = newId("endpoint");
  return {
    id,
    owner: "ml",
    createdBy: "alice",
    name: `endpoint-${id.slice(-8)}`,
    endpointType: "async",
    status: "READY",
    statusReason: null,
    spec: { minWorkers: 1 } as never,
    version: 1,
    createdAt: now,
    lastUpdatedAt: now,
  };
}

const database = await probeTestDatabase();
if (!database.reachable && process.env.CI) throw new Error(database.reason);
if (!database.reachable) console.warn(`Skipping the shared endpoint cache tests: ${database.reason}`);

describe.skipIf(!database.reachable)("endpoints cached by several stores sharing changes", () => {
  let schema: TestSchema;
  let a: Store;
  let b: Store;
  let spy: Store;

  beforeAll(async () => {
    schema = await createTestSchema("launch_shared_cache");
    a = await openPostgresStore({ url: schema.url });
    b = await openPostgresStore({ url: schema.url });
    spy = await openPostgresStore({ url: schema.url });
  });
  afterAll(async () => {
    for (const store of [a, b, spy]) await store?.close();
    await schema?.drop();
  });

  it("caches nothing without a bus, and sees another store's change at once with one", async () => {
    const bus = localBus();
    a.shareEndpointChanges?.(bus);
    b.shareEndpointChanges?.(bus);
    const record = endpointRecord();
    await a.insertEndpoint(record);
    expect((await a.getEndpoint(record.id))?.version).toBe(1);
    expect((await b.getEndpoint(record.id))?.version).toBe(1);

    // Changed behind both caches (as a process without the bus would): the caches still answer.
    await spy.updateEndpoint(record.id, 1, { statusReason: "behind the caches" }, record.createdAt);
    expect((await a.getEndpoint(record.id))?.version).toBe(1);
    expect((await spy.getEndpoint(record.id))?.version).toBe(2);

    // Changed by b: b publishes, a drops its row and reads the new one.
    await b.updateEndpoint(record.id, 2, { status: "UPDATE_PENDING" }, record.createdAt);
    expect(bus.published).toContain(record.id);
    expect(await a.getEndpoint(record.id)).toMatchObject({ version: 3, status: "UPDATE_PENDING" });

    // Deleted by a: b forgets it.
    await a.deleteEndpoint(record.id);
    expect(await b.getEndpoint(record.id)).toBeUndefined();
  });
});
