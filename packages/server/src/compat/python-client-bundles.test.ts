/**
 * Wire compatibility with the Python client `scale-launch`: artifact uploads and model bundles. Each test
 * sends exactly what the client's method sends (`python-client.ts`) and checks the answers with the
 * client's parsing rules (`python-models.ts`). No workers run (`orchestration: none`).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { basicAuth, startTestServer, type TestServer } from "../testing/server.js";
import {
  DOC_LOAD_MODEL_FN,
  DOC_LOAD_PREDICT_FN,
  DOC_MODEL_DEFINITIONS,
  FAKE_PICKLE,
  PythonClientWire,
  requestsPut,
} from "./python-client.js";
import { createdBundleProblems, modelBundleV1Problems, modelBundleV2Problems } from "./python-models.js";

let server: TestServer;

let teams = 0;

/** A Python client for a fresh, empty team (its own key, so names never collide between tests). */
async function newClient(options: { usePathWithCustomEndpoint?: boolean; endpoint?: string } = {}) {
  teams += 1;
  const team = { key: await server.createKey(`py-user-${teams}`, `py-team-${teams}`) };
  return { team, client: new PythonClientWire(options.endpoint ?? server.url, team.key, options) };
}

/** The bytes behind an `s3://bucket/key` location, downloaded by the owner. */
async function download(key: string, location: string): Promise<{ status: number; bytes: Uint8Array }> {
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(location);
  if (!match) throw new Error(`not an s3:// location: ${location}`);
  const res = await fetch(`${server.url}/v1/artifacts/${match[1]}/${match[2]}`, {
    headers: { authorization: basicAuth(key) },
  });
  return { status: res.status, bytes: new Uint8Array(await res.arrayBuffer()) };
}

beforeAll(async () => {
  server = await startTestServer({ overrides: { orchestration: "none" } });
});

afterAll(async () => {
  await server?.close();
});

describe("_upload_data (the hosted upload route, as the client uses it without self_hosted)", () => {
  it("POST {} gives {signedUrl, bucket, key}; a raw PUT without auth or content type stores the bytes", async () => {
    const { team, client } = await newClient();
    const grant = await client.requestsJson(
      "POST",
      `${server.url}/v1/hosted_inference/model_bundle_upload`,
      {},
    );
    expect(grant.status).toBe(200);
    // The client reads exactly these three keys, all strings.
    expect(Object.keys(grant.json).sort()).toEqual(["bucket", "key", "signedUrl"]);
    for (const key of ["signedUrl", "bucket", "key"]) expect(typeof grant.json[key]).toBe("string");
    expect(grant.json.signedUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);

    const bytes = Uint8Array.from({ length: 70_000 }, (_, i) => i % 251);
    expect(await requestsPut(grant.json.signedUrl, bytes)).toBe(200);
    const stored = await download(team.key, `s3://${grant.json.bucket}/${grant.json.key}`);
    expect(stored.status).toBe(200);
    expect(Buffer.compare(Buffer.from(stored.bytes), Buffer.from(bytes))).toBe(0);
  });

  it("uploads the pickle and then the schemas, each to a new s3:// location the owner can read", async () => {
    const { team, client } = await newClient();
    const pickle = await client.uploadData(FAKE_PICKLE);
    expect(client.lastPutStatus).toBe(200);
    const schemas = await client.uploadSchemas();
    expect(client.lastPutStatus).toBe(200);
    expect(pickle).toMatch(/^s3:\/\/[^/]+\/.+/);
    expect(schemas).not.toBe(pickle);
    expect(client.calls.map((c) => `${c.method} ${c.method === "PUT" ? "<signedUrl>" : c.path}`)).toEqual([
      "POST /v1/hosted_inference/model_bundle_upload",
      "PUT <signedUrl>",
      "POST /v1/hosted_inference/model_bundle_upload",
      "PUT <signedUrl>",
    ]);
    expect(Buffer.from((await download(team.key, pickle)).bytes)).toEqual(Buffer.from(FAKE_PICKLE));
    const schemaText = Buffer.from((await download(team.key, schemas)).bytes).toString("utf8");
    expect(JSON.parse(schemaText)).toEqual(DOC_MODEL_DEFINITIONS);
    expect(schemaText).toContain('"type": "object"'); // Python json.dumps spacing, kept byte for byte
  });

  it("a signed URL is the only grant: PUT to a changed URL is refused", async () => {
    const { client } = await newClient();
    const grant = await client.requestsJson(
      "POST",
      `${server.url}/v1/hosted_inference/model_bundle_upload`,
      {},
    );
    const tampered = `${grant.json.signedUrl.slice(0, -3)}${grant.json.signedUrl.endsWith("A") ? "BBB" : "AAA"}`;
    expect(await requestsPut(tampered, FAKE_PICKLE)).toBe(403);
  });
});

describe("v2 bundle creates, in the client's order of calls", () => {
  it("create_model_bundle_from_callable_v2: upload, schemas, create; the bundle parses with app_config null", async () => {
    const { client } = await newClient();
    const created = await client.createModelBundleFromCallableV2({
      model_bundle_name: "test-bundle",
      requirements: ["pytest==7.2.1", "numpy"],
    });
    expect(createdBundleProblems(created)).toEqual([]);
    expect(client.calls.map((c) => `${c.method} ${c.method === "PUT" ? "<signedUrl>" : c.path}`)).toEqual([
      "POST /v1/hosted_inference/model_bundle_upload",
      "PUT <signedUrl>",
      "POST /v1/hosted_inference/model_bundle_upload",
      "PUT <signedUrl>",
      "POST /v2/model-bundles",
    ]);
    // What the client sent: no app_config and no metadata keys at all (dict_not_none).
    const sent = client.calls.at(-1)?.body as { flavor: Record<string, unknown> };
    expect("metadata" in sent).toBe(false);
    expect("app_config" in sent.flavor).toBe(false);

    const bundle = (await client.getModelBundleV2(created.model_bundle_id)).json;
    expect(modelBundleV2Problems(bundle)).toEqual([]);
    expect(bundle).toMatchObject({
      id: created.model_bundle_id,
      name: "test-bundle",
      metadata: {},
      model_artifact_ids: [],
      schema_location: expect.stringMatching(/^s3:\/\/[^/]+\/.+/),
      flavor: {
        flavor: "cloudpickle_artifact",
        requirements: ["pytest==7.2.1", "numpy"],
        framework: { framework_type: "pytorch", pytorch_image_tag: "1.7.1-cuda11.0-cudnn8-runtime" },
        app_config: null,
        location: sent.flavor.location,
        load_predict_fn: DOC_LOAD_PREDICT_FN,
        load_model_fn: DOC_LOAD_MODEL_FN,
      },
    });
  });

  it("create_model_bundle_from_callable_v2 with app_config and metadata echoes both", async () => {
    const { client } = await newClient();
    const appConfig = { threshold: 0.5, labels: ["a", "b"], nested: { k: null } };
    const created = await client.createModelBundleFromCallableV2({
      model_bundle_name: "configured",
      app_config: appConfig,
      metadata: { team: "ml", version: 3 },
    });
    const bundle = (await client.getModelBundleV2(created.model_bundle_id)).json;
    expect(modelBundleV2Problems(bundle)).toEqual([]);
    expect(bundle.metadata).toEqual({ team: "ml", version: 3 });
    expect(bundle.flavor.app_config).toEqual(appConfig);
  });

  it("create_model_bundle_from_dirs_v2 (zip_artifact): the zip and the module paths are kept", async () => {
    const { team, client } = await newClient();
    const zip = Uint8Array.from([0x50, 0x4b, 0x05, 0x06, ...new Array(18).fill(0)]);
    const created = await client.createModelBundleFromDirsV2({
      model_bundle_name: "zipped",
      zip,
      load_predict_fn_module_path: "my_module1.my_inference_file.load_predict_fn",
      load_model_fn_module_path: "my_module1.my_inference_file.load_model_fn",
      requirements: ["numpy==1.26.4"],
    });
    const bundle = (await client.getModelBundleV2(created.model_bundle_id)).json;
    expect(modelBundleV2Problems(bundle)).toEqual([]);
    expect(bundle.flavor).toMatchObject({
      flavor: "zip_artifact",
      framework: { framework_type: "tensorflow", tensorflow_version: "2.3.0" },
      requirements: ["numpy==1.26.4"],
      app_config: null,
      load_predict_fn_module_path: "my_module1.my_inference_file.load_predict_fn",
      load_model_fn_module_path: "my_module1.my_inference_file.load_model_fn",
    });
    expect(Buffer.from((await download(team.key, bundle.flavor.location)).bytes)).toEqual(Buffer.from(zip));
  });

  it("create_model_bundle_from_runnable_image_v2: routes the client left out get the defaults", async () => {
    const { client } = await newClient();
    const created = await client.createModelBundleFromRunnableImageV2({
      model_bundle_name: "image",
      repository: "my-repo/model",
      tag: "v1",
      command: ["python", "-m", "server", "--port", "5005"],
      env: { MODEL_PATH: "/models/x" },
      readiness_initial_delay_seconds: 30,
    });
    const bundle = (await client.getModelBundleV2(created.model_bundle_id)).json;
    expect(modelBundleV2Problems(bundle)).toEqual([]);
    expect(bundle.flavor).toMatchObject({
      flavor: "runnable_image",
      repository: "my-repo/model",
      tag: "v1",
      command: ["python", "-m", "server", "--port", "5005"],
      env: { MODEL_PATH: "/models/x" },
      protocol: "http",
      readiness_initial_delay_seconds: 30,
      predict_route: "/predict",
      healthcheck_route: "/readyz",
    });
  });

  it("create_model_bundle_from_streaming_enhanced_runnable_image_v2 without command: command [] is there", async () => {
    const { client } = await newClient();
    const created = await client.createModelBundleFromStreamingEnhancedRunnableImageV2({
      model_bundle_name: "streamer",
      repository: "my-repo/streamer",
      tag: "v2",
      streaming_command: ["python", "-m", "stream_server"],
      env: {},
      readiness_initial_delay_seconds: 60,
    });
    const bundle = (await client.getModelBundleV2(created.model_bundle_id)).json;
    expect(modelBundleV2Problems(bundle)).toEqual([]);
    expect(bundle.flavor).toMatchObject({
      flavor: "streaming_enhanced_runnable_image",
      command: [],
      streaming_command: ["python", "-m", "stream_server"],
      streaming_predict_route: "/stream",
    });
  });

  it("get_latest_model_bundle_v2 and list_model_bundles_v2 parse, newest by name", async () => {
    const { client } = await newClient();
    await client.createModelBundleFromCallableV2({ model_bundle_name: "versioned" });
    const second = await client.createModelBundleFromCallableV2({
      model_bundle_name: "versioned",
      app_config: { v: 2 },
    });
    await client.createModelBundleFromRunnableImageV2({
      model_bundle_name: "other",
      repository: "r",
      tag: "t",
      command: ["serve"],
      env: {},
      readiness_initial_delay_seconds: 5,
    });
    const latest = (await client.getLatestModelBundleV2("versioned")).json;
    expect(modelBundleV2Problems(latest)).toEqual([]);
    expect(latest.id).toBe(second.model_bundle_id);

    const list = (await client.listModelBundlesV2()).json;
    expect(Object.keys(list)).toEqual(["model_bundles"]);
    expect(list.model_bundles.map((b: { name: string }) => b.name)).toEqual([
      "versioned",
      "versioned",
      "other",
    ]);
    list.model_bundles.forEach((b: unknown, i: number) => {
      expect(modelBundleV2Problems(b, `model_bundles[${i}]`)).toEqual([]);
    });
  });

  it("clone_model_bundle_with_changes_v2 gives a new bundle with the new app_config", async () => {
    const { client } = await newClient();
    const original = await client.createModelBundleFromCallableV2({ model_bundle_name: "cloned" });
    const clone = await client.cloneModelBundleWithChangesV2(original.model_bundle_id, { mode: "fast" });
    expect(createdBundleProblems(clone)).toEqual([]);
    const bundle = (await client.getModelBundleV2(clone.model_bundle_id)).json;
    expect(modelBundleV2Problems(bundle)).toEqual([]);
    expect(bundle.flavor.app_config).toEqual({ mode: "fast" });
  });

  it("answers under /v1/launch too (use_path_with_custom_endpoint=True)", async () => {
    const { client } = await newClient({ usePathWithCustomEndpoint: true });
    const created = await client.createModelBundleFromCallableV2({ model_bundle_name: "aliased" });
    expect(client.calls.at(-1)?.path).toBe("/v1/launch/v2/model-bundles");
    const bundle = (await client.getModelBundleV2(created.model_bundle_id)).json;
    expect(modelBundleV2Problems(bundle)).toEqual([]);
  });
});

describe("LaunchClient(endpoint=...) given with a trailing slash", () => {
  it("still reaches every route: the client's `//v1/...` paths are `/v1/...`", async () => {
    for (const usePathWithCustomEndpoint of [false, true]) {
      const { client } = await newClient({ endpoint: `${server.url}/`, usePathWithCustomEndpoint });
      const created = await client.createModelBundleFromCallableV2({ model_bundle_name: "slashed" });
      expect(client.lastPutStatus).toBe(200);
      expect(client.calls[0]?.path).toBe("/v1/hosted_inference/model_bundle_upload");
      expect(client.calls.at(-1)?.path).toBe(
        usePathWithCustomEndpoint ? "/v1/launch/v2/model-bundles" : "/v2/model-bundles",
      );
      expect(modelBundleV2Problems((await client.getModelBundleV2(created.model_bundle_id)).json)).toEqual(
        [],
      );
    }
  });
});

describe("v1 name resolution of v2 bundles (get_model_bundle, used by create and edit of endpoints)", () => {
  it("GET /v1/model-bundles/latest?model_name= parses as ModelBundleV1Response for every v2 flavor", async () => {
    const { client } = await newClient();
    await client.createModelBundleFromCallableV2({ model_bundle_name: "pickled", app_config: { a: 1 } });
    await client.createModelBundleFromDirsV2({
      model_bundle_name: "zipped",
      zip: FAKE_PICKLE,
      load_predict_fn_module_path: "m.predict",
      load_model_fn_module_path: "m.load",
    });
    await client.createModelBundleFromRunnableImageV2({
      model_bundle_name: "image",
      repository: "repo/x",
      tag: "7",
      command: ["serve"],
      env: {},
      readiness_initial_delay_seconds: 5,
    });
    await client.createModelBundleFromStreamingEnhancedRunnableImageV2({
      model_bundle_name: "streamer",
      repository: "repo/y",
      tag: "8",
      streaming_command: ["stream"],
      env: {},
      readiness_initial_delay_seconds: 5,
    });
    const expected = {
      pickled: { packaging_type: "cloudpickle", app_config: { a: 1 } },
      zipped: { packaging_type: "zip", app_config: null },
      image: { packaging_type: "lira", app_config: null, location: "unused", requirements: [] },
      streamer: { packaging_type: "lira", app_config: null, location: "unused", requirements: [] },
    };
    for (const [name, fields] of Object.entries(expected)) {
      const v1 = (await client.getModelBundle(name)).json;
      expect(modelBundleV1Problems(v1, name)).toEqual([]);
      expect(v1).toMatchObject({ name, ...fields });
      const v2 = (await client.getLatestModelBundleV2(name)).json;
      expect(v1.id).toBe(v2.id);
    }
  });

  it("GET /v1/model-bundles?model_name= lists only that name; an unknown name answers 404 on latest", async () => {
    const { client } = await newClient();
    await client.createModelBundleFromCallableV2({ model_bundle_name: "listed" });
    await client.createModelBundleFromCallableV2({ model_bundle_name: "unlisted" });
    const list = await client.api("GET", "/v1/model-bundles?model_name=listed");
    expect(list.json.model_bundles.map((b: { name: string }) => b.name)).toEqual(["listed"]);
    list.json.model_bundles.forEach((b: unknown) => {
      expect(modelBundleV1Problems(b)).toEqual([]);
    });
    const all = (await client.listModelBundles()).json.model_bundles;
    expect(all).toHaveLength(2);
    const missing = await client.apiRaw("GET", "/v1/model-bundles/latest?model_name=nope");
    expect(missing.status).toBe(404);
    expect(missing.json.detail).toBe("The specified model bundle could not be found.");
  });
});

describe("the deprecated v1 creates (create_model_bundle, create_model_bundle_from_dirs)", () => {
  it("POST /v1/model-bundles with env_params and packaging_type; both views parse afterwards", async () => {
    const { client } = await newClient();
    const location = await client.uploadData(FAKE_PICKLE);
    const schemaLocation = await client.uploadSchemas();
    const env_params = { framework_type: "pytorch", pytorch_image_tag: "1.10.0-cuda11.3-cudnn8-runtime" };
    await client.api("POST", "/v1/model-bundles", {
      env_params,
      location,
      name: "legacy-pickle",
      requirements: ["numpy"],
      packaging_type: "cloudpickle",
      metadata: { load_predict_fn: DOC_LOAD_PREDICT_FN, load_model_fn: DOC_LOAD_MODEL_FN },
      app_config: { k: "v" },
      schema_location: schemaLocation,
    });
    const zipLocation = await client.uploadData(FAKE_PICKLE);
    await client.api("POST", "/v1/model-bundles", {
      env_params,
      location: zipLocation,
      name: "legacy-zip",
      requirements: [],
      packaging_type: "zip",
      metadata: { load_predict_fn_module_path: "m.predict", load_model_fn_module_path: "m.load" },
    });

    const v1 = (await client.getModelBundle("legacy-pickle")).json;
    expect(modelBundleV1Problems(v1)).toEqual([]);
    expect(v1).toMatchObject({ location, packaging_type: "cloudpickle", app_config: { k: "v" }, env_params });
    const v2 = (await client.getLatestModelBundleV2("legacy-pickle")).json;
    expect(modelBundleV2Problems(v2)).toEqual([]);
    expect(v2.flavor).toMatchObject({
      flavor: "cloudpickle_artifact",
      framework: { framework_type: "pytorch", pytorch_image_tag: env_params.pytorch_image_tag },
      app_config: { k: "v" },
      load_predict_fn: DOC_LOAD_PREDICT_FN,
    });
    const zip = (await client.getLatestModelBundleV2("legacy-zip")).json;
    expect(modelBundleV2Problems(zip)).toEqual([]);
    expect(zip.schema_location).toBeNull();
    expect(zip.flavor).toMatchObject({ flavor: "zip_artifact", load_predict_fn_module_path: "m.predict" });
  });
});
