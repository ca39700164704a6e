import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isLaunchError } from "@launch/protocol";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { SecretsBox } from "../domain/secrets-box.js";
import { openCallbackAuth } from "../services/callback-auth.js";
import { revokeKey } from "../services/keys.js";
import { selfSignedCertificate } from "../testing/certs.js";
import { startTestServer, type TestServer } from "../testing/server.js";
import {
  copyStore,
  copyStoreBetween,
  type StoreCopyReport,
  storeLabel,
  storeSettingsFromUrl,
} from "./copy.js";
import { appliedMigrations } from "./migrate.js";
import { openStore, type StoreSettings } from "./open.js";
import type { Store } from "./port.js";
import { POSTGRES_MIGRATIONS } from "./postgres/migrations.js";
import { createTestSchema, probeTestDatabase, type TestSchema } from "./postgres/test-database.js";
import type { SqlStore } from "./sql/sql-store.js";

const PASSWORD = "copy-callback-password-9d2e";

describe("storeSettingsFromUrl and storeLabel", () => {
  it("takes PostgreSQL and SQLite URLs, and shows them without a password", () => {
    const pg = storeSettingsFromUrl("postgres://launch:hunter2@db:5432/launch", "--to");
    expect(pg).toEqual({
      store: "postgres",
      databaseUrl: "postgres://launch:hunter2@db:5432/launch",
      dataDir: "",
    });
    expect(storeLabel(pg)).toBe("PostgreSQL postgres://launch:***@db:5432/launch");
    expect(storeSettingsFromUrl("postgresql://db/launch", "--to").store).toBe("postgres");
    const file = storeSettingsFromUrl("sqlite:/var/lib/launch/launch.db", "--from");
    expect(file).toEqual({ store: "sqlite", databaseUrl: "sqlite:/var/lib/launch/launch.db", dataDir: "" });
    expect(storeLabel(file)).toBe("SQLite file /var/lib/launch/launch.db");
    expect(storeLabel({ databaseUrl: "", dataDir: "/srv/launch" })).toBe("SQLite file /srv/launch/launch.db");
  });

  it("refuses anything else, naming the option and never echoing the value", () => {
    for (const [url, got] of [
      ["mysql://root:hunter2@db/launch", 'got a "mysql:" URL'],
      ["hunter2", "got a value without a scheme"],
      ["", "got an empty value"],
      ["sqlite:", "sqlite: needs a file path"],
    ] as const) {
      const error = (() => {
        try {
          storeSettingsFromUrl(url, "--to");
        } catch (e) {
          return e;
        }
      })();
      expect(isLaunchError(error) && error.code).toBe("validation_failed");
      expect((error as Error).message).toContain(`--to: ${got}`);
      expect((error as Error).message).toContain("expected postgres://user:password@host:5432/database");
      expect((error as Error).message).not.toContain("hunter2");
    }
  });
});

const database = await probeTestDatabase();

if (!database.reachable) {
  // In CI PostgreSQL is part of the job (.ci/run starts it): its absence is a failure, never a skip.
  describe("copyStore from SQLite to PostgreSQL", () => {
    it("needs the PostgreSQL test database", (ctx) => {
      if (process.env.CI) throw new Error(database.reason);
      console.warn(`Skipping the store copy tests: ${database.reason}`);
      ctx.skip(database.reason);
    });
  });
} else {
  describe("copyStore from SQLite to PostgreSQL", () => {
    /** A single-node install with real records made through the API. */
    let source: TestServer;
    let alice: string;
    let bobKey: string;
    let bobId: string;
    const schemas: TestSchema[] = [];
    const closers: (() => Promise<void>)[] = [];

    const from = (): StoreSettings => ({ databaseUrl: "", dataDir: source.dataDir });
    const freshSchema = async () => {
      const schema = await createTestSchema("launch_copy");
      schemas.push(schema);
      return schema;
    };
    const open = async (url: string): Promise<Store> => {
      const store = await openStore(storeSettingsFromUrl(url, "--to"));
      closers.push(() => store.close());
      return store;
    };

    beforeAll(async () => {
      source = await startTestServer();
      alice = await source.createKey("alice", "ml");
      bobKey = await source.createKey("bob", "ml");
      bobId = (await source.store.listKeys()).find((k) => k.userId === "bob")!.id;
      await revokeKey(source.store, bobId);
      // Alice's key is used, so it has a lastUsedAt to carry over.
      const v1 = await source.request("POST", "/v1/model-bundles", {
        key: alice,
        body: {
          name: "legacy",
          location: "s3://launch/uploads/ml/upl_legacy",
          requirements: ["torch"],
          env_params: { framework_type: "pytorch", pytorch_image_tag: "1.13" },
          packaging_type: "cloudpickle",
          metadata: { load_predict_fn: "def p(): ...", load_model_fn: "def m(): ..." },
          app_config: { k: "v" },
        },
      });
      expect(v1.status, JSON.stringify(v1.body)).toBe(200);
      const v2 = await source.request("POST", "/v2/model-bundles", {
        key: alice,
        body: {
          name: "echo",
          schema_location: "s3://launch/schemas/echo.json",
          flavor: { flavor: "runnable_image", repository: "example/echo", tag: "1", command: ["serve"] },
          metadata: { note: 'héllo "wörld" ✓' },
        },
      });
      expect(v2.status, JSON.stringify(v2.body)).toBe(200);
      const bundleId = v2.body.model_bundle_id as string;
      const endpoint = (name: string, auth: object) => ({
        name,
        model_bundle_id: bundleId,
        endpoint_type: "async",
        cpus: 1,
        gpus: 0,
        memory: "8Gi",
        storage: "16Gi",
        min_workers: 1,
        max_workers: 1,
        per_worker: 10,
        labels: { team: "ml" },
        metadata: {},
        post_inference_hooks: ["callback"],
        default_callback_url: "https://example.com/hook",
        default_callback_auth: auth,
      });
      const basic = await source.request("POST", "/v1/model-endpoints", {
        key: alice,
        body: endpoint("with-basic", { kind: "basic", username: "cb", password: PASSWORD }),
      });
      expect(basic.status, JSON.stringify(basic.body)).toBe(200);
      const pair = selfSignedCertificate("copy-client");
      const mtls = await source.request("POST", "/v1/model-endpoints", {
        key: alice,
        body: endpoint("with-mtls", { kind: "mtls", cert: pair.cert, key: pair.key }),
      });
      expect(mtls.status, JSON.stringify(mtls.body)).toBe(200);
      // An edit, so one endpoint is past version 1.
      const edited = await source.request(
        "PUT",
        `/v1/model-endpoints/${basic.body.endpoint_creation_task_id}`,
        {
          key: alice,
          body: { max_workers: 2 },
        },
      );
      expect(edited.status, JSON.stringify(edited.body)).toBe(200);
    });

    afterAll(async () => {
      await source?.close();
    });

    afterEach(async () => {
      for (const close of closers.splice(0).reverse()) await close();
      for (const schema of schemas.splice(0)) await schema.drop();
    });

    it("migrates a fresh schema and copies every key, bundle and endpoint unchanged", async () => {
      const schema = await freshSchema();
      const result = await copyStoreBetween({ from: from(), to: storeSettingsFromUrl(schema.url, "--to") });
      expect(result.from).toBe(`SQLite file ${join(source.dataDir, "launch.db")}`);
      expect(result.to).toMatch(/^PostgreSQL postgres:\/\/postgres@127\.0\.0\.1:5432\/test\?options=/);
      // The admin key of the first start, alice's and bob's (revoked); two bundles; two endpoints.
      expect(result.counts).toEqual({
        keys: { source: 3, copied: 3, present: 0, conflicts: 0 },
        bundles: { source: 2, copied: 2, present: 0, conflicts: 0 },
        endpoints: { source: 2, copied: 2, present: 0, conflicts: 0 },
      });
      expect(result.records.every((r) => r.outcome === "copied")).toBe(true);

      const target = await open(schema.url);
      expect((await appliedMigrations((target as SqlStore).db)).map((m) => m.version)).toEqual(
        POSTGRES_MIGRATIONS.map((m) => m.version),
      );
      const keys = await source.store.listKeys();
      expect(keys.find((k) => k.id === bobId)?.revokedAt).not.toBeNull();
      expect(keys.find((k) => k.userId === "alice")?.lastUsedAt).not.toBeNull();
      expect(await target.listKeys()).toStrictEqual(keys);
      const bundles = await source.store.listAllBundles();
      expect(bundles.map((b) => b.apiVersion).sort()).toEqual([1, 2]);
      expect(await target.listAllBundles()).toStrictEqual(bundles);
      const endpoints = await source.store.listAllEndpoints();
      expect(endpoints.map((e) => e.name)).toEqual(["with-basic", "with-mtls"]);
      expect(endpoints[0]!.version).toBeGreaterThan(1);
      expect(await target.listAllEndpoints()).toStrictEqual(endpoints);

      // The sealed credentials are the same bytes: the install's secrets key opens them from PostgreSQL.
      const box = SecretsBox.fromConfig({ secretsKey: "", dataDir: source.dataDir });
      const copied = await target.findEndpointByName("ml", "with-basic");
      expect(openCallbackAuth(copied!.spec.defaultCallbackAuth!, box)).toEqual({
        kind: "basic",
        username: "cb",
        password: PASSWORD,
      });
      // Nothing secret in the report.
      const text = JSON.stringify(result);
      for (const k of keys) expect(text).not.toContain(k.hash);
      expect(text).not.toContain(copied!.spec.defaultCallbackAuth!.sealed);
      expect(text).not.toContain(PASSWORD);
    });

    it("serves the copied records from PostgreSQL: the keys work, the revoked one does not", async () => {
      const schema = await freshSchema();
      await copyStoreBetween({ from: from(), to: storeSettingsFromUrl(schema.url, "--to") });
      const secretsKey = (await readFile(join(source.dataDir, "secrets.key"), "utf8")).trim();
      const moved = await startTestServer({
        overrides: { store: "postgres", databaseUrl: schema.url, secretsKey },
      });
      closers.push(() => moved.close());
      // No first-start admin key: the copied keys are there.
      expect(moved.adminKey).toBeUndefined();
      const list = await moved.request("GET", "/v1/model-endpoints", { key: alice });
      expect(list.status).toBe(200);
      expect(list.body.model_endpoints.map((e: { name: string }) => e.name).sort()).toEqual([
        "with-basic",
        "with-mtls",
      ]);
      const bundles = await moved.request("GET", "/v1/model-bundles?model_name=legacy", { key: alice });
      expect(bundles.body.model_bundles.map((b: { name: string }) => b.name)).toEqual(["legacy"]);
      // Bob's key was revoked before the copy.
      const bob = await moved.request("GET", "/v1/model-endpoints", { key: bobKey });
      expect(bob.status).toBe(401);
    });

    it("copies nothing on a second run and reports every record already present", async () => {
      const schema = await freshSchema();
      const to = storeSettingsFromUrl(schema.url, "--to");
      await copyStoreBetween({ from: from(), to });
      const again = await copyStoreBetween({ from: from(), to });
      expect(again.counts).toEqual({
        keys: { source: 3, copied: 0, present: 3, conflicts: 0 },
        bundles: { source: 2, copied: 0, present: 2, conflicts: 0 },
        endpoints: { source: 2, copied: 0, present: 2, conflicts: 0 },
      });
      expect(again.records.every((r) => r.outcome === "present")).toBe(true);
      const target = await open(schema.url);
      expect(await target.listKeys()).toHaveLength(3);
      expect(await target.listAllEndpoints()).toStrictEqual(await source.store.listAllEndpoints());
    });

    it("on a dry run shows what would be copied and writes no record", async () => {
      const schema = await freshSchema();
      const result = await copyStoreBetween({
        from: from(),
        to: storeSettingsFromUrl(schema.url, "--to"),
        dryRun: true,
      });
      expect(result.dryRun).toBe(true);
      expect(result.counts.endpoints).toEqual({ source: 2, copied: 2, present: 0, conflicts: 0 });
      expect(result.records.map((r) => r.outcome)).toEqual(Array(7).fill("would_copy"));
      expect(result.records.filter((r) => r.kind === "endpoints").map((r) => r.name)).toEqual([
        "ml/with-basic",
        "ml/with-mtls",
      ]);
      const target = await open(schema.url);
      expect(await target.listKeys()).toEqual([]);
      expect(await target.listAllBundles()).toEqual([]);
      expect(await target.listAllEndpoints()).toEqual([]);
    });

    it("reports records the target holds with other content as conflicts, leaves them, and copies the rest", async () => {
      const schema = await freshSchema();
      const target = await open(schema.url);
      const [withBasic, withMtls] = await source.store.listAllEndpoints();
      const aliceKey = (await source.store.listKeys()).find((k) => k.userId === "alice")!;
      // Same id, other content: a newer version with other credentials.
      const changed = {
        ...withBasic!,
        version: withBasic!.version + 1,
        spec: {
          ...withBasic!.spec,
          defaultCallbackAuth: { kind: "basic" as const, username: "cb", sealed: "v1.b3RoZXI" },
        },
      };
      await target.insertEndpoint(changed);
      // Another id under the same team and name.
      const squatter = { ...withMtls!, id: "end_squatter" };
      await target.insertEndpoint(squatter);
      // The same key revoked in the target.
      await target.insertKey({ ...aliceKey, revokedAt: "2026-01-01T00:00:00.000Z" });

      const result = await copyStoreBetween({ from: from(), to: storeSettingsFromUrl(schema.url, "--to") });
      expect(result.counts).toEqual({
        keys: { source: 3, copied: 2, present: 0, conflicts: 1 },
        bundles: { source: 2, copied: 2, present: 0, conflicts: 0 },
        endpoints: { source: 2, copied: 0, present: 0, conflicts: 2 },
      });
      const conflicts = result.records.filter((r) => r.outcome === "conflict");
      expect(conflicts).toEqual([
        {
          kind: "keys",
          id: aliceKey.id,
          name: `${aliceKey.prefix} (alice in ml)`,
          outcome: "conflict",
          reason: "the target's copy differs in revokedAt",
        },
        {
          kind: "endpoints",
          id: withBasic!.id,
          name: "ml/with-basic",
          outcome: "conflict",
          reason: "the target's copy differs in spec.defaultCallbackAuth, version",
        },
        {
          kind: "endpoints",
          id: withMtls!.id,
          name: "ml/with-mtls",
          outcome: "conflict",
          reason: "the target's team ml has an endpoint named with-mtls already (end_squatter)",
        },
      ]);
      expect(JSON.stringify(result)).not.toContain(changed.spec.defaultCallbackAuth.sealed);
      // Not overwritten.
      expect(await target.getEndpoint(withBasic!.id)).toStrictEqual(changed);
      expect(await target.getEndpoint(withMtls!.id)).toBeUndefined();
      expect(await target.findEndpointByName("ml", "with-mtls")).toStrictEqual(squatter);
      expect((await target.findKeyByHash(aliceKey.hash))?.revokedAt).toBe("2026-01-01T00:00:00.000Z");
      // The rest is there.
      expect(await target.listAllBundles()).toStrictEqual(await source.store.listAllBundles());
      expect(await target.listKeys()).toHaveLength(3);
    });

    it("reports a key whose hash the target holds under another id as a conflict", async () => {
      const schema = await freshSchema();
      const target = await open(schema.url);
      const bob = (await source.store.listKeys()).find((k) => k.id === bobId)!;
      await target.insertKey({ ...bob, id: "key_other" });
      const sourceStore = await openStore(from());
      closers.push(() => sourceStore.close());
      const report: StoreCopyReport = await copyStore(sourceStore, target);
      expect(report.records.find((r) => r.id === bobId)).toMatchObject({
        outcome: "conflict",
        reason: "the target holds the same key under id key_other",
      });
      expect(report.counts.keys).toEqual({ source: 3, copied: 2, present: 0, conflicts: 1 });
    });

    it("refuses a data directory without a store, and creates nothing there", async () => {
      const empty = await mkdtemp(join(tmpdir(), "launch-copy-empty-"));
      try {
        const schema = await freshSchema();
        const error = await copyStoreBetween({
          from: { databaseUrl: "", dataDir: empty },
          to: storeSettingsFromUrl(schema.url, "--to"),
        }).catch((e: unknown) => e);
        expect(isLaunchError(error) && error.code).toBe("not_found");
        expect((error as Error).message).toBe(
          `There is no store to copy from at SQLite file ${join(empty, "launch.db")}; point --data-dir (or LAUNCH_DATA_DIR) at the install's data directory, or pass --from`,
        );
        expect(await readdir(empty)).toEqual([]);
      } finally {
        await rm(empty, { recursive: true, force: true });
      }
    });
  });
}
