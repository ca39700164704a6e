import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../../server/src/testing/server.js";
import { LaunchClient } from "./client.js";
import type { RunnableImageFlavorInput } from "./flavors.js";
import { PostInferenceHooks } from "./hooks.js";

describe("LaunchClient endpoint methods against a real server", () => {
  let server: TestServer;
  let client: LaunchClient;
  let bundleId: string;

  beforeAll(async () => {
    server = await startTestServer();
    client = new LaunchClient({ apiKey: await server.createKey("alice", "ml"), endpoint: server.url });
    const flavor: RunnableImageFlavorInput = {
      flavor: "runnable_image",
      repository: "python",
      tag: "3.12",
      command: ["python"],
    };
    await client.createModelBundleV2({ modelBundleName: "model", flavor });
    bundleId = (await client.createModelBundleV2({ modelBundleName: "model", flavor })).model_bundle_id;
  });
  afterAll(async () => {
    await server.close();
  });

  it("creates a sync endpoint with the Python client's defaults from the latest bundle of a name", async () => {
    const endpoint = await client.createModelEndpoint({ endpointName: "defaults", modelBundle: "model" });
    expect(endpoint.endpointType).toBe("sync");
    expect(endpoint.constructor.name).toBe("SyncEndpoint");
    expect(endpoint.id).toMatch(/^end_/);
    expect(endpoint.name).toBe("defaults");
    expect(endpoint.modelEndpoint).toMatchObject({
      name: "defaults",
      endpoint_type: "sync",
      bundle_name: "model",
      model_bundle_id: bundleId,
      labels: {},
      metadata: {},
      resource_state: { cpus: 3, memory: "8Gi", storage: "16Gi", gpus: 0 },
      deployment_state: { min_workers: 1, max_workers: 1, per_worker: 10 },
    });
    expect(["UPDATE_PENDING", "UPDATE_IN_PROGRESS", "READY"]).toContain(await endpoint.status());
  });

  it("accepts a bundle by id or as an object, and returns the class of the endpoint type", async () => {
    const bundle = await client.getModelBundleV2(bundleId);
    const streaming = await client.createModelEndpoint({
      endpointName: "by-object",
      modelBundle: bundle,
      endpointType: "streaming",
      cpus: "500m",
      memory: "1Gi",
    });
    expect(streaming.endpointType).toBe("streaming");
    expect(streaming.modelEndpoint.resource_state).toMatchObject({ cpus: "500m", memory: "1Gi" });
    const asyncEndpoint = await client.createModelEndpoint({
      endpointName: "by-id",
      modelBundle: bundleId,
      endpointType: "async",
      minWorkers: 0,
      maxWorkers: 2,
      perWorker: 3,
    });
    expect(asyncEndpoint.endpointType).toBe("async");
    expect(asyncEndpoint.modelEndpoint.model_bundle_id).toBe(bundleId);
    expect(asyncEndpoint.modelEndpoint.deployment_state).toMatchObject({
      min_workers: 0,
      max_workers: 2,
      per_worker: 3,
    });
  });

  it("gets an endpoint by name or id, and lists endpoint objects", async () => {
    const byName = await client.getModelEndpoint("by-id");
    const byId = await client.getModelEndpoint(byName.id);
    expect(byId.name).toBe("by-id");
    expect(byId.endpointType).toBe("async");

    const listed = await client.listModelEndpoints({ orderBy: "alphabetical" });
    expect(listed.map((e) => e.name)).toEqual(["by-id", "by-object", "defaults"]);
    expect(listed.map((e) => e.endpointType)).toEqual(["async", "streaming", "sync"]);
    expect((await client.listModelEndpoints({ name: "defaults" })).map((e) => e.name)).toEqual(["defaults"]);
    await expect(client.getModelEndpoint("missing")).rejects.toMatchObject({ name: "NotFoundError" });
  });

  it("edits with patch semantics: labels merge, hooks and callback settings change, the rest stays", async () => {
    await client.createModelEndpoint({
      endpointName: "editable",
      modelBundle: "model",
      endpointType: "async",
      labels: { team: "ml", stage: "dev" },
      cpus: 2,
    });
    const edited = await client.editModelEndpoint({
      modelEndpoint: "editable",
      labels: { stage: "prod", owner: "alice" },
      postInferenceHooks: [PostInferenceHooks.CALLBACK],
      defaultCallbackUrl: "https://example.com/hook",
      maxWorkers: 4,
    });
    expect(edited.modelEndpoint).toMatchObject({
      labels: { team: "ml", stage: "prod", owner: "alice" },
      post_inference_hooks: ["callback"],
      default_callback_url: "https://example.com/hook",
      resource_state: { cpus: 2 },
      deployment_state: { max_workers: 4, min_workers: 1 },
    });
  });

  it("updateIfExists edits the existing endpoint, hooks and labels included, without a duplicate", async () => {
    const first = await client.createModelEndpoint({
      endpointName: "idempotent",
      modelBundle: "model",
      endpointType: "async",
      labels: { team: "ml" },
    });
    const again = await client.createModelEndpoint({
      endpointName: "idempotent",
      modelBundle: "model",
      endpointType: "async",
      updateIfExists: true,
      cpus: 1,
      labels: { product: "demo" },
      postInferenceHooks: [PostInferenceHooks.CALLBACK],
      defaultCallbackUrl: "https://example.com",
    });
    expect(again.id).toBe(first.id);
    expect(again.modelEndpoint).toMatchObject({
      labels: { team: "ml", product: "demo" },
      post_inference_hooks: ["callback"],
      default_callback_url: "https://example.com",
      resource_state: { cpus: 1 },
    });
    expect((await client.listModelEndpoints({ name: "idempotent" })).length).toBe(1);
  });

  it("updateIfExists refuses to change the endpoint type", async () => {
    await expect(
      client.createModelEndpoint({
        endpointName: "idempotent",
        modelBundle: "model",
        endpointType: "sync",
        updateIfExists: true,
      }),
    ).rejects.toMatchObject({ name: "ConflictError", message: expect.stringContaining('"async"') });
  });

  it("deletes by name, by id and by object; another team sees nothing", async () => {
    const other = new LaunchClient({ apiKey: await server.createKey("bob", "other"), endpoint: server.url });
    const target = await client.getModelEndpoint("by-object");
    await expect(other.getModelEndpoint(target.id)).rejects.toMatchObject({ name: "NotFoundError" });
    await expect(other.deleteModelEndpoint(target.id)).rejects.toMatchObject({ name: "NotFoundError" });
    expect(await other.listModelEndpoints()).toEqual([]);

    expect(await client.deleteModelEndpoint(target)).toBe(true);
    expect(await client.deleteModelEndpoint("by-id")).toBe(true);
    const defaults = await client.getModelEndpoint("defaults");
    expect(await client.deleteModelEndpoint(defaults.id)).toBe(true);
    await expect(client.getModelEndpoint("by-object")).rejects.toMatchObject({ name: "NotFoundError" });
    await expect(client.deleteModelEndpoint("by-id")).rejects.toMatchObject({ name: "NotFoundError" });
  });
});
