/**
 * The behaviour suite of the store port, run against every adapter. An adapter's test file only calls
 * `describeStore("<adapter>", open)`; `open` gives each test a fresh, empty, ready store.
 *
 * @example describeStore("sqlite", async () => { ... return { store, reopen, cleanup }; });
 */
import { createHash } from "node:crypto";
import { isLaunchError, newId, REFERENCE_MESSAGES } from "@launch/protocol";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { appliedMigrations, recordMigration, schemaVersion } from "./migrate.js";
import type { BundleRecord, EndpointRecord, EndpointSpec, KeyRecord, Store } from "./port.js";
import { SqlStore } from "./sql/sql-store.js";

/** What an adapter's test file hands the suite for one test. */
export interface StoreHarness {
  /** A fresh, empty store, ready. */
  store: Store;
  /**
   * Opens a new store on the same data, ready (the suite closes the previous one first). Rejects like
   * `openStore` would, for example when the schema is newer than the code.
   */
  reopen: () => Promise<Store>;
  /** Closes every store the harness opened and removes the data. */
  cleanup: () => Promise<void>;
}

/** Defines the store behaviour tests for the adapter `name`. */
export function describeStore(name: string, open: () => Promise<StoreHarness>): void {
  describe(`Store behaviour (${name})`, () => {
    let harness: StoreHarness;
    let store: Store;

    beforeEach(async () => {
      harness = await open();
      store = harness.store;
      await store.ready();
    });

    afterEach(async () => {
      await harness.cleanup();
    });

    async function reopen(): Promise<Store> {
      await store.close();
      store = await harness.reopen();
      return store;
    }

    describe("keys", () => {
      it("inserts a key and finds it by hash; an unknown hash finds nothing", async () => {
        const k = key();
        await store.insertKey(k);
        expect(await store.findKeyByHash(k.hash)).toStrictEqual(k);
        expect(await store.findKeyByHash(sha256("nope"))).toBeUndefined();
      });

      it("lists every key, oldest first", async () => {
        const a = key({ createdAt: at(2), role: "admin" });
        const b = key({ createdAt: at(1), userId: "bob", teamId: "web" });
        await store.insertKey(a);
        await store.insertKey(b);
        expect(await store.listKeys()).toStrictEqual([b, a]);
      });

      it("revokes by id; a revoked key stays findable with revokedAt", async () => {
        const k = key();
        const other = key();
        await store.insertKey(k);
        await store.insertKey(other);
        expect(await store.revokeKey(k.id, at(10))).toBe(true);
        expect(await store.findKeyByHash(k.hash)).toStrictEqual({ ...k, revokedAt: at(10) });
        expect((await store.findKeyByHash(other.hash))?.revokedAt).toBeNull();
        expect(await store.listKeys()).toHaveLength(2);
      });

      it("revokes by displayed prefix", async () => {
        const k = key();
        await store.insertKey(k);
        expect(await store.revokeKey(k.prefix, at(10))).toBe(true);
        expect((await store.findKeyByHash(k.hash))?.revokedAt).toBe(at(10));
      });

      it("answers false for an unknown id or prefix and changes nothing", async () => {
        const k = key();
        await store.insertKey(k);
        expect(await store.revokeKey("key_unknown", at(10))).toBe(false);
        expect(await store.revokeKey(k.prefix.slice(0, 5), at(10))).toBe(false);
        expect(await store.findKeyByHash(k.hash)).toStrictEqual(k);
      });

      it("keeps the first revokedAt when revoked twice", async () => {
        const k = key();
        await store.insertKey(k);
        await store.revokeKey(k.id, at(10));
        expect(await store.revokeKey(k.id, at(20))).toBe(true);
        expect((await store.findKeyByHash(k.hash))?.revokedAt).toBe(at(10));
      });

      it("refuses a prefix shared by several keys and revokes none", async () => {
        const a = key({ prefix: "lk_same123" });
        const b = key({ prefix: "lk_same123" });
        await store.insertKey(a);
        await store.insertKey(b);
        const error = await store.revokeKey("lk_same123", at(10)).catch((e: unknown) => e);
        expect(isLaunchError(error) && error.code).toBe("bad_request");
        expect((error as Error).message).toMatch(/matches 2 keys; revoke by key id/);
        for (const k of await store.listKeys()) expect(k.revokedAt).toBeNull();
      });

      it("records use at most once a minute per key", async () => {
        const k = key();
        const other = key();
        await store.insertKey(k);
        await store.insertKey(other);
        await store.touchKey(k.id, at(100));
        expect((await store.findKeyByHash(k.hash))?.lastUsedAt).toBe(at(100));
        await store.touchKey(k.id, at(159));
        expect((await store.findKeyByHash(k.hash))?.lastUsedAt).toBe(at(100));
        await store.touchKey(k.id, at(160));
        expect((await store.findKeyByHash(k.hash))?.lastUsedAt).toBe(at(160));
        expect((await store.findKeyByHash(other.hash))?.lastUsedAt).toBeNull();
        await store.touchKey("key_unknown", at(200));
      });
    });

    describe("bundles", () => {
      it("inserts and gets a bundle; JSON fields round-trip exactly", async () => {
        const b = bundle();
        await store.insertBundle(b);
        const got = await store.getBundle(b.id);
        expect(got).toStrictEqual(b);
        expect(JSON.stringify(got)).toBe(JSON.stringify(b));
        expect(await store.getBundle("bun_unknown")).toBeUndefined();
      });

      it("keeps a v1 bundle's v1 body and api version", async () => {
        const b = bundle({
          apiVersion: 1,
          v1: {
            location: "s3://launch/model.pkl",
            requirements: ["numpy==1.26.4"],
            env_params: { framework_type: "pytorch", pytorch_image_tag: "2.1" },
            packaging_type: "cloudpickle",
            app_config: null,
          },
        });
        await store.insertBundle(b);
        expect(await store.getBundle(b.id)).toStrictEqual(b);
      });

      it("returns the newest bundle of a name within the owner, never another owner's", async () => {
        const old = bundle({ name: "m", createdAt: at(1) });
        const latest = bundle({ name: "m", createdAt: at(2) });
        const otherName = bundle({ name: "n", createdAt: at(3) });
        const otherOwner = bundle({ name: "m", owner: "other-team", createdAt: at(4) });
        for (const b of [old, latest, otherName, otherOwner]) await store.insertBundle(b);
        expect(await store.latestBundle("ml", "m")).toStrictEqual(latest);
        expect(await store.latestBundle("other-team", "m")).toStrictEqual(otherOwner);
        expect(await store.latestBundle("other-team", "n")).toBeUndefined();
        expect(await store.latestBundle("ml", "missing")).toBeUndefined();
      });

      it("lists the owner's bundles newest first by default, oldest on request, filtered by exact name", async () => {
        const a = bundle({ name: "m", createdAt: at(1) });
        const b = bundle({ name: "mm", createdAt: at(2) });
        const c = bundle({ name: "m", createdAt: at(3) });
        const foreign = bundle({ name: "m", owner: "other-team", createdAt: at(4) });
        for (const x of [a, b, c, foreign]) await store.insertBundle(x);
        expect(ids(await store.listBundles({ owner: "ml" }))).toEqual(ids([c, b, a]));
        expect(ids(await store.listBundles({ owner: "ml", orderBy: "newest" }))).toEqual(ids([c, b, a]));
        expect(ids(await store.listBundles({ owner: "ml", orderBy: "oldest" }))).toEqual(ids([a, b, c]));
        expect(ids(await store.listBundles({ owner: "ml", name: "m" }))).toEqual(ids([c, a]));
        expect(ids(await store.listBundles({ owner: "ml", name: "m", orderBy: "oldest" }))).toEqual(
          ids([a, c]),
        );
        expect(await store.listBundles({ owner: "nobody" })).toEqual([]);
      });

      it("lists every bundle of every owner, oldest first, v1 and v2 alike", async () => {
        expect(await store.listAllBundles()).toEqual([]);
        const x = bundle({ owner: "ml", createdAt: at(2) });
        const y = bundle({
          owner: "other-team",
          createdAt: at(1),
          apiVersion: 1,
          v1: { location: "s3://m" },
        });
        const z = bundle({ owner: "third", createdAt: at(3) });
        for (const b of [x, y, z]) await store.insertBundle(b);
        expect(await store.listAllBundles()).toStrictEqual([y, x, z]);
      });
    });

    describe("endpoints", () => {
      it("inserts and gets an endpoint; the spec round-trips exactly, cpus as number or string", async () => {
        const asNumber = endpoint({ name: "e1", spec: spec({ cpus: 3 }) });
        const asString = endpoint({ name: "e2", spec: spec({ cpus: "3", memory: "8Gi" }) });
        await store.insertEndpoint(asNumber);
        await store.insertEndpoint(asString);
        const gotNumber = await store.getEndpoint(asNumber.id);
        const gotString = await store.getEndpoint(asString.id);
        expect(gotNumber).toStrictEqual(asNumber);
        expect(gotString).toStrictEqual(asString);
        expect(typeof gotNumber?.spec.cpus).toBe("number");
        expect(typeof gotString?.spec.cpus).toBe("string");
        expect(JSON.stringify(gotNumber)).toBe(JSON.stringify(asNumber));
        expect(await store.getEndpoint("end_unknown")).toBeUndefined();
      });

      it("refuses a second endpoint of the same name in the same team", async () => {
        const first = endpoint({ name: "dup" });
        await store.insertEndpoint(first);
        const error = await store.insertEndpoint(endpoint({ name: "dup" })).catch((e: unknown) => e);
        expect(isLaunchError(error) && error.code).toBe("already_exists");
        expect((error as Error).message).toBe(REFERENCE_MESSAGES.endpointExists);
        expect(await store.listEndpoints({ owner: "ml" })).toStrictEqual([first]);
      });

      it("allows the same name in another team", async () => {
        await store.insertEndpoint(endpoint({ name: "shared" }));
        const other = endpoint({ name: "shared", owner: "other-team" });
        await store.insertEndpoint(other);
        expect(await store.findEndpointByName("other-team", "shared")).toStrictEqual(other);
      });

      it("finds an endpoint by name within its owner only", async () => {
        const e = endpoint({ name: "finder" });
        await store.insertEndpoint(e);
        expect(await store.findEndpointByName("ml", "finder")).toStrictEqual(e);
        expect(await store.findEndpointByName("other-team", "finder")).toBeUndefined();
        expect(await store.findEndpointByName("ml", "find")).toBeUndefined();
      });

      it("lists the owner's endpoints filtered by exact name, in all three orders", async () => {
        const b = endpoint({ name: "bravo", createdAt: at(1) });
        const a = endpoint({ name: "alpha", createdAt: at(2) });
        const c = endpoint({ name: "charlie", createdAt: at(3) });
        const foreign = endpoint({ name: "alpha", owner: "other-team", createdAt: at(4) });
        for (const x of [b, a, c, foreign]) await store.insertEndpoint(x);
        expect(ids(await store.listEndpoints({ owner: "ml" }))).toEqual(ids([c, a, b]));
        expect(ids(await store.listEndpoints({ owner: "ml", orderBy: "newest" }))).toEqual(ids([c, a, b]));
        expect(ids(await store.listEndpoints({ owner: "ml", orderBy: "oldest" }))).toEqual(ids([b, a, c]));
        expect(ids(await store.listEndpoints({ owner: "ml", orderBy: "alphabetical" }))).toEqual(
          ids([a, b, c]),
        );
        expect(await store.listEndpoints({ owner: "ml", name: "alpha" })).toStrictEqual([a]);
        expect(await store.listEndpoints({ owner: "ml", name: "alph" })).toEqual([]);
        expect(await store.listEndpoints({ owner: "nobody" })).toEqual([]);
      });

      it("updates when the version matches and returns the new record", async () => {
        const e = endpoint({ version: 1, statusReason: "waiting" });
        await store.insertEndpoint(e);
        const newSpec = spec({ minWorkers: 2, maxWorkers: 4, labels: { team: "ml", tier: "gold" } });
        const updated = await store.updateEndpoint(
          e.id,
          1,
          { status: "READY", statusReason: null, spec: newSpec },
          at(50),
        );
        const expected: EndpointRecord = {
          ...e,
          status: "READY",
          statusReason: null,
          spec: newSpec,
          version: 2,
          lastUpdatedAt: at(50),
        };
        expect(updated).toStrictEqual(expected);
        expect(await store.getEndpoint(e.id)).toStrictEqual(expected);
        const statusOnly = await store.updateEndpoint(e.id, 2, { status: "UPDATE_PENDING" }, at(60));
        expect(statusOnly).toStrictEqual({
          ...expected,
          status: "UPDATE_PENDING",
          version: 3,
          lastUpdatedAt: at(60),
        });
      });

      it("refuses an update naming a stale version and changes nothing", async () => {
        const e = endpoint({ version: 1 });
        await store.insertEndpoint(e);
        await store.updateEndpoint(e.id, 1, { status: "UPDATE_IN_PROGRESS" }, at(10));
        const current = await store.getEndpoint(e.id);
        expect(await store.updateEndpoint(e.id, 1, { status: "READY" }, at(20))).toBeUndefined();
        expect(await store.getEndpoint(e.id)).toStrictEqual(current);
        expect(await store.updateEndpoint("end_unknown", 1, { status: "READY" }, at(20))).toBeUndefined();
      });

      it("deletes an endpoint, which frees its name", async () => {
        const e = endpoint({ name: "gone" });
        await store.insertEndpoint(e);
        expect(await store.deleteEndpoint(e.id)).toBe(true);
        expect(await store.getEndpoint(e.id)).toBeUndefined();
        expect(await store.deleteEndpoint(e.id)).toBe(false);
        const again = endpoint({ name: "gone" });
        await store.insertEndpoint(again);
        expect(await store.findEndpointByName("ml", "gone")).toStrictEqual(again);
      });

      it("shows every write to the next read at once, and hands out records a caller may change", async () => {
        const e = endpoint({ version: 1 });
        await store.insertEndpoint(e);
        // Read first, so that an adapter that caches reads holds the endpoint before the writes.
        const read = await store.getEndpoint(e.id);
        expect(read).toStrictEqual(e);
        read!.spec.labels.mutated = "by the caller";
        read!.status = "UPDATE_FAILED";
        expect(await store.getEndpoint(e.id)).toStrictEqual(e);

        const changed = spec({ minWorkers: 3 });
        await store.updateEndpoint(e.id, 1, { status: "READY", spec: changed }, at(20));
        const afterUpdate = await store.getEndpoint(e.id);
        expect(afterUpdate?.status).toBe("READY");
        expect(afterUpdate?.spec.minWorkers).toBe(3);
        expect(afterUpdate?.version).toBe(2);

        // Concurrent updates naming the same version: one wins, and reads show the winner.
        const [a, b] = await Promise.all([
          store.updateEndpoint(e.id, 2, { statusReason: "a" }, at(30)),
          store.updateEndpoint(e.id, 2, { statusReason: "b" }, at(30)),
        ]);
        const winner = a ?? b;
        expect([a, b].filter(Boolean)).toHaveLength(1);
        expect(await store.getEndpoint(e.id)).toStrictEqual(winner);

        const [deleted, during] = await Promise.all([store.deleteEndpoint(e.id), store.getEndpoint(e.id)]);
        expect(deleted).toBe(true);
        expect(during === undefined || during.version === 3).toBe(true);
        expect(await store.getEndpoint(e.id)).toBeUndefined();
      });

      it("hands out bundles a caller may change", async () => {
        const b = bundle();
        await store.insertBundle(b);
        const read = await store.getBundle(b.id);
        (read!.metadata as Record<string, unknown>).mutated = true;
        read!.modelArtifactIds.push("art_mutated");
        expect(await store.getBundle(b.id)).toStrictEqual(b);
      });

      it("lists every endpoint of every owner, oldest first", async () => {
        const x = endpoint({ owner: "ml", createdAt: at(2) });
        const y = endpoint({ owner: "other-team", createdAt: at(1) });
        const z = endpoint({ owner: "third", createdAt: at(3) });
        for (const e of [x, y, z]) await store.insertEndpoint(e);
        expect(await store.listAllEndpoints()).toStrictEqual([y, x, z]);
      });
    });

    describe("durability and schema", () => {
      it("keeps data across close and reopen", async () => {
        const k = key();
        const b = bundle();
        const e = endpoint();
        await store.insertKey(k);
        await store.insertBundle(b);
        await store.insertEndpoint(e);
        const reopened = await reopen();
        expect(await reopened.findKeyByHash(k.hash)).toStrictEqual(k);
        expect(await reopened.getBundle(b.id)).toStrictEqual(b);
        expect(await reopened.getEndpoint(e.id)).toStrictEqual(e);
      });

      it("applies each migration once; reopening applies nothing", async (ctx) => {
        if (!(store instanceof SqlStore)) return ctx.skip("migrations are a SQL-store concern");
        const first = await appliedMigrations(store.db);
        expect(first.map((m) => m.version)).toEqual(first.map((_, i) => i + 1));
        expect(first.length).toBeGreaterThan(0);
        const reopened = await reopen();
        if (!(reopened instanceof SqlStore)) throw new Error("reopen must return the same kind of store");
        expect(reopened.migration?.applied).toEqual([]);
        await reopened.ready();
        expect(await appliedMigrations(reopened.db)).toStrictEqual(first);
      });

      it("refuses a database whose schema is newer than the code, telling the operator what to do", async (ctx) => {
        if (!(store instanceof SqlStore)) return ctx.skip("migrations are a SQL-store concern");
        const known = await schemaVersion(store.db);
        await recordMigration(store.db, { version: known + 1, name: "from_the_future" }, at(0));
        const error = await reopen().catch((e: unknown) => e);
        expect(isLaunchError(error) && error.code).toBe("internal");
        expect((error as Error).message).toContain(
          `The database schema is at version ${known + 1} but this Launch knows only up to ${known}; ` +
            "upgrade Launch or point it at another database",
        );
      });
    });
  });
}

/** A fixed instant plus `seconds`, as the store's ISO text. */
function at(seconds: number): string {
  return new Date(Date.UTC(2026, 0, 1) + seconds * 1000).toISOString();
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

function ids(records: { id: string }[]): string[] {
  return records.map((r) => r.id);
}

function key(overrides: Partial<KeyRecord> = {}): KeyRecord {
  const id = newId("key");
  return {
    id,
    hash: sha256(id),
    prefix: `lk_${id.slice(-7)}`,
    userId: "alice",
    teamId: "ml",
    role: "user",
    createdAt: at(0),
    revokedAt: null,
    lastUsedAt: null,
    ...overrides,
  };
}

function bundle(overrides: Partial<BundleRecord> = {}): BundleRecord {
  return {
    id: newId("bundle"),
    owner: "ml",
    createdBy: "alice",
    name: "model",
    createdAt: at(0),
    apiVersion: 2,
    flavor: {
      flavor: "runnable_image",
      repository: "echo",
      tag: "1.0",
      command: ["node", "server.mjs", "--port", "$PORT"],
      protocol: "http",
      predict_route: "/predict",
      healthcheck_route: "/readyz",
      env: { GREETING: 'héllo "wörld" ✓', EMPTY: "" },
      readiness_initial_delay_seconds: 120,
      extra_routes: [],
      routes: [],
      forwarder_type: "default",
      worker_command: null,
      worker_env: null,
    },
    metadata: { z: 1, a: [1.5, 0, -7, 1e21, { nested: null }], b: true, "key with spaces": {} },
    schemaLocation: "s3://launch/schemas/model.json",
    modelArtifactIds: ["art_1", "art_2"],
    v1: null,
    ...overrides,
  };
}

function spec(overrides: Partial<EndpointSpec> = {}): EndpointSpec {
  return {
    modelBundleId: "bun_01",
    metadata: { owner_note: "ok", nested: { list: [1, "2", null] } },
    cpus: 3,
    gpus: 0,
    memory: "8Gi",
    storage: "16Gi",
    gpuType: null,
    minWorkers: 1,
    maxWorkers: 2,
    perWorker: 10,
    concurrentRequestsPerWorker: null,
    labels: { team: "ml" },
    postInferenceHooks: ["callback"],
    defaultCallbackUrl: "https://example.test/hook",
    defaultCallbackAuth: { kind: "basic", username: "cb", sealed: "v1.c2VhbGVk" },
    callbackEvents: ["succeeded", "failed"],
    publicInference: false,
    highPriority: null,
    prewarm: true,
    billingTags: { cost_center: 42 },
    optimizeCosts: null,
    forwarderMaxConcurrency: null,
    taskExpiresSeconds: 86400,
    queueMessageTimeoutSeconds: null,
    nodesPerWorker: 1,
    ...overrides,
  };
}

function endpoint(overrides: Partial<EndpointRecord> = {}): EndpointRecord {
  return {
    id: newId("endpoint"),
    owner: "ml",
    createdBy: "alice",
    name: `endpoint-${Math.random().toString(36).slice(2, 10)}`,
    endpointType: "async",
    status: "UPDATE_PENDING",
    statusReason: null,
    spec: spec(),
    version: 1,
    createdAt: at(0),
    lastUpdatedAt: at(0),
    ...overrides,
  };
}
