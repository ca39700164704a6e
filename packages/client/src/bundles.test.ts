import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../../server/src/testing/server.js";
import { LaunchClient } from "./client.js";
import type { RunnableImageFlavorInput } from "./flavors.js";

describe("LaunchClient bundle methods against a real server", () => {
  let server: TestServer;
  let client: LaunchClient;
  let key: string;

  beforeAll(async () => {
    server = await startTestServer();
    key = await server.createKey("alice", "ml");
    client = new LaunchClient({ apiKey: key, endpoint: server.url });
  });
  afterAll(async () => {
    await server.close();
  });

  it("createModelBundleFromRunnableImageV2 uploads the schemas and creates the bundle", async () => {
    const requestSchema = { type: "object", properties: { x: { type: "integer" } }, required: ["x"] };
    const { model_bundle_id } = await client.createModelBundleFromRunnableImageV2({
      modelBundleName: "runnable",
      requestSchema,
      responseSchema: { type: "integer" },
      repository: "python",
      tag: "3.12",
      command: ["python", "-m", "http.server", "5005"],
      env: { MODE: "test" },
      healthcheckRoute: "/health",
      readinessInitialDelaySeconds: 5,
      metadata: { owner: "alice" },
    });
    expect(model_bundle_id).toMatch(/^bun_/);

    const bundle = await client.getModelBundleV2(model_bundle_id);
    expect(bundle).toMatchObject({
      id: model_bundle_id,
      name: "runnable",
      metadata: { owner: "alice" },
      flavor: {
        flavor: "runnable_image",
        repository: "python",
        tag: "3.12",
        command: ["python", "-m", "http.server", "5005"],
        env: { MODE: "test" },
        protocol: "http",
        predict_route: "/predict",
        healthcheck_route: "/health",
        readiness_initial_delay_seconds: 5,
      },
    });

    // The schema document went through the upload URL into the server's artifact store.
    const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(bundle.schema_location ?? "");
    expect(match).not.toBeNull();
    const download = await server.request("GET", `/v1/artifacts/${match![1]}/${match![2]}`, { key });
    expect(download.status).toBe(200);
    const document = typeof download.body === "string" ? JSON.parse(download.body) : download.body;
    expect(document).toEqual({ RequestSchema: requestSchema, ResponseSchema: { type: "integer" } });
  });

  it("uploadArtifact returns an s3:// location the owner can download", async () => {
    const location = await client.uploadArtifact(new Uint8Array([1, 2, 3, 250]));
    const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(location);
    expect(match).not.toBeNull();
    const response = await fetch(`${server.url}/v1/artifacts/${match![1]}/${match![2]}`, {
      headers: { authorization: `Basic ${Buffer.from(`${key}:`).toString("base64")}` },
    });
    expect(response.status).toBe(200);
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(new Uint8Array([1, 2, 3, 250]));
  });

  it("createModelBundleV2 uses a given schemaLocation, and getLatest/list follow creation order", async () => {
    const schemaLocation = await client.uploadArtifact('{"RequestSchema":{},"ResponseSchema":{}}');
    const flavor: RunnableImageFlavorInput = {
      flavor: "runnable_image",
      repository: "python",
      tag: "3.11",
      command: ["python"],
    };
    const first = await client.createModelBundleV2({ modelBundleName: "versions", schemaLocation, flavor });
    const second = await client.createModelBundleV2({
      modelBundleName: "versions",
      flavor: { ...flavor, tag: "3.12" },
    });
    expect((await client.getModelBundleV2(first.model_bundle_id)).schema_location).toBe(schemaLocation);

    const latest = await client.getLatestModelBundleV2("versions");
    expect(latest.id).toBe(second.model_bundle_id);
    expect(latest.flavor).toMatchObject({ tag: "3.12" });

    const newest = await client.listModelBundlesV2({ modelName: "versions", orderBy: "newest" });
    expect(newest.model_bundles.map((b) => b.id)).toEqual([second.model_bundle_id, first.model_bundle_id]);
    const oldest = await client.listModelBundlesV2({ modelName: "versions", orderBy: "oldest" });
    expect(oldest.model_bundles.map((b) => b.id)).toEqual([first.model_bundle_id, second.model_bundle_id]);
    const all = await client.listModelBundlesV2();
    expect(all.model_bundles.map((b) => b.name)).toEqual(expect.arrayContaining(["runnable", "versions"]));
  });

  it("cloneModelBundleWithChangesV2 copies a bundle with a new app_config", async () => {
    const location = await client.uploadArtifact(new Uint8Array([0x80, 0x04, 0x95]));
    const original = await client.createModelBundleV2({
      modelBundleName: "pickled",
      flavor: {
        flavor: "cloudpickle_artifact",
        requirements: ["numpy"],
        framework: { framework_type: "pytorch", pytorch_image_tag: "2.1" },
        location,
        load_predict_fn: "def load_predict_fn(model): ...",
        load_model_fn: "def load_model_fn(): ...",
        app_config: { threshold: 1 },
      },
    });
    const clone = await client.cloneModelBundleWithChangesV2({
      originalModelBundleId: original.model_bundle_id,
      newAppConfig: { threshold: 2 },
    });
    expect(clone.model_bundle_id).not.toBe(original.model_bundle_id);
    const cloned = await client.getModelBundleV2(clone.model_bundle_id);
    expect(cloned.name).toBe("pickled");
    expect(cloned.flavor).toMatchObject({
      flavor: "cloudpickle_artifact",
      location,
      app_config: { threshold: 2 },
    });
    expect((await client.getModelBundleV2(original.model_bundle_id)).flavor).toMatchObject({
      app_config: { threshold: 1 },
    });
  });

  it("another team's bundle is not found, and its name does not resolve", async () => {
    const other = new LaunchClient({ apiKey: await server.createKey("bob", "other"), endpoint: server.url });
    const { model_bundles } = await client.listModelBundlesV2({ modelName: "runnable" });
    const id = model_bundles[0]!.id;
    await expect(other.getModelBundleV2(id)).rejects.toMatchObject({ name: "NotFoundError", status: 404 });
    await expect(other.getLatestModelBundleV2("runnable")).rejects.toMatchObject({ name: "NotFoundError" });
    expect((await other.listModelBundlesV2()).model_bundles).toEqual([]);
  });

  it("usePathWithCustomEndpoint sends every route under /v1/launch", async () => {
    const prefixed = new LaunchClient({ apiKey: key, endpoint: server.url, usePathWithCustomEndpoint: true });
    expect(prefixed.endpoint).toBe(`${server.url}/v1/launch`);
    const latest = await prefixed.getLatestModelBundleV2("versions");
    expect(latest.name).toBe("versions");
  });

  it("a selfHosted client uploads through its own uploader", async () => {
    const received: Uint8Array[] = [];
    const selfHosted = new LaunchClient({
      apiKey: key,
      endpoint: server.url,
      selfHosted: true,
      uploader: async (bytes) => {
        received.push(bytes);
        return "s3://my-bucket/schemas/1.json";
      },
    });
    expect(await selfHosted.uploadArtifact("{}")).toBe("s3://my-bucket/schemas/1.json");
    expect(new TextDecoder().decode(received[0])).toBe("{}");
    const withoutUploader = new LaunchClient({ apiKey: key, endpoint: server.url, selfHosted: true });
    await expect(withoutUploader.uploadArtifact("{}")).rejects.toThrowError(/uploader/);
  });
});
