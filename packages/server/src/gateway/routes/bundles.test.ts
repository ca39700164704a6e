import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../../testing/server.js";

let server: TestServer;
let alice: string; // team ml
let bob: string; // team ml too
let eve: string; // team other

beforeAll(async () => {
  server = await startTestServer();
  alice = await server.createKey("alice", "ml");
  bob = await server.createKey("bob", "ml");
  eve = await server.createKey("eve", "other");
});
afterAll(() => server.close());

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

const runnable = { flavor: "runnable_image", repository: "repo", tag: "1.0", command: ["node", "serve.js"] };
const cloudpickle = {
  flavor: "cloudpickle_artifact",
  requirements: ["numpy"],
  framework: { framework_type: "pytorch", pytorch_image_tag: "2.1" },
  location: "s3://launch/uploads/ml/upl_1",
  load_predict_fn: "def f(): ...",
  load_model_fn: "def g(): ...",
};

async function createV2(key: string, name: string, flavor: object, extra: object = {}): Promise<string> {
  const res = await server.request("POST", "/v2/model-bundles", {
    key,
    body: { name, schema_location: "s3://launch/uploads/ml/schema", flavor, ...extra },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  expect(res.body.model_bundle_id).toMatch(/^bun_/);
  return res.body.model_bundle_id;
}

describe("v2 bundles", () => {
  it("creates a runnable image bundle and fills the spec's defaults", async () => {
    const id = await createV2(alice, "defaults", runnable, { metadata: { team: "ml" } });
    const res = await server.request("GET", `/v2/model-bundles/${id}`, { key: alice });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      id,
      name: "defaults",
      metadata: { team: "ml" },
      created_at: expect.stringMatching(ISO),
      model_artifact_ids: [],
      schema_location: "s3://launch/uploads/ml/schema",
      flavor: {
        flavor: "runnable_image",
        repository: "repo",
        tag: "1.0",
        command: ["node", "serve.js"],
        protocol: "http",
        predict_route: "/predict",
        healthcheck_route: "/readyz",
        env: {},
        readiness_initial_delay_seconds: 120,
        extra_routes: [],
        routes: [],
        forwarder_type: "default",
        worker_command: null,
        worker_env: null,
      },
    });
  });

  it("keeps values that were given instead of the defaults", async () => {
    const id = await createV2(alice, "given", {
      ...runnable,
      predict_route: "/p",
      healthcheck_route: "/h",
      env: { A: "1" },
      readiness_initial_delay_seconds: 5,
      extra_routes: ["/x"],
      forwarder_type: "passthrough",
      worker_command: ["w"],
      worker_env: { B: "2" },
    });
    const { body } = await server.request("GET", `/v2/model-bundles/${id}`, { key: alice });
    expect(body.flavor).toMatchObject({
      predict_route: "/p",
      healthcheck_route: "/h",
      env: { A: "1" },
      readiness_initial_delay_seconds: 5,
      extra_routes: ["/x"],
      forwarder_type: "passthrough",
      worker_command: ["w"],
      worker_env: { B: "2" },
    });
    expect(body.metadata).toEqual({});
  });

  it("fills streaming defaults: command [] and streaming_predict_route /stream", async () => {
    const id = await createV2(alice, "stream", {
      flavor: "streaming_enhanced_runnable_image",
      repository: "r",
      tag: "t",
      streaming_command: ["serve", "--stream"],
    });
    const { body } = await server.request("GET", `/v2/model-bundles/${id}`, { key: alice });
    expect(body.flavor).toMatchObject({
      flavor: "streaming_enhanced_runnable_image",
      command: [],
      streaming_command: ["serve", "--stream"],
      streaming_predict_route: "/stream",
      predict_route: "/predict",
    });
  });

  it("stores and echoes triton_* fields, and drops keys no flavor knows", async () => {
    const id = await createV2(alice, "triton", {
      ...runnable,
      flavor: "triton_enhanced_runnable_image",
      triton_model_repository: "s3://models",
      triton_num_cpu: 2.5,
      triton_commit_tag: "abc",
      triton_model_replicas: { m: "2" },
      triton_readiness_initial_delay_seconds: 300,
      not_a_flavor_field: true,
    });
    const { body } = await server.request("GET", `/v2/model-bundles/${id}`, { key: alice });
    expect(body.flavor).toMatchObject({
      flavor: "triton_enhanced_runnable_image",
      triton_model_repository: "s3://models",
      triton_num_cpu: 2.5,
      triton_commit_tag: "abc",
      triton_model_replicas: { m: "2" },
      triton_readiness_initial_delay_seconds: 300,
    });
    expect(body.flavor).not.toHaveProperty("not_a_flavor_field");
  });

  it("always includes app_config in artifact flavors (null when not given)", async () => {
    const id = await createV2(alice, "pickle", cloudpickle);
    const { body } = await server.request("GET", `/v2/model-bundles/${id}`, { key: alice });
    expect(body.flavor).toEqual({ ...cloudpickle, app_config: null });

    const zip = {
      flavor: "zip_artifact",
      requirements: [],
      framework: { framework_type: "custom_base_image", image_repository: "img", image_tag: "v1" },
      location: "s3://launch/uploads/ml/upl_2",
      load_predict_fn_module_path: "pkg.predict",
      load_model_fn_module_path: "pkg.model",
      app_config: { threshold: 0.5 },
    };
    const zipId = await createV2(alice, "zip", zip);
    const zipRes = await server.request("GET", `/v2/model-bundles/${zipId}`, { key: alice });
    expect(zipRes.body.flavor).toEqual(zip);
  });

  it("accepts the node framework [ext]", async () => {
    const id = await createV2(alice, "node", {
      ...cloudpickle,
      flavor: "zip_artifact",
      load_predict_fn_module_path: "index.js",
      load_model_fn_module_path: "index.js",
      load_predict_fn: undefined,
      load_model_fn: undefined,
      framework: { framework_type: "node", node_version: "20" },
    });
    const { body } = await server.request("GET", `/v2/model-bundles/${id}`, { key: alice });
    expect(body.flavor.framework).toEqual({ framework_type: "node", node_version: "20" });
  });

  it("lists the team's bundles, by name and in either order, and gets the latest by name", async () => {
    const first = await createV2(alice, "versions", runnable);
    const second = await createV2(bob, "versions", { ...runnable, tag: "2.0" });
    await createV2(eve, "versions", runnable);

    const oldest = await server.request("GET", "/v2/model-bundles?model_name=versions&order_by=oldest", {
      key: alice,
    });
    expect(oldest.body.model_bundles.map((b: { id: string }) => b.id)).toEqual([first, second]);
    const newest = await server.request("GET", "/v2/model-bundles?model_name=versions&order_by=newest", {
      key: bob,
    });
    expect(newest.body.model_bundles.map((b: { id: string }) => b.id)).toEqual([second, first]);

    const all = await server.request("GET", "/v2/model-bundles", { key: alice });
    expect(all.body.model_bundles.length).toBeGreaterThan(2);
    expect(all.body.model_bundles.every((b: { name: string }) => typeof b.name === "string")).toBe(true);

    const latest = await server.request("GET", "/v2/model-bundles/latest?model_name=versions", {
      key: alice,
    });
    expect(latest.status).toBe(200);
    expect(latest.body.id).toBe(second);
    expect(latest.body.flavor.tag).toBe("2.0");
  });

  it("answers 404 for latest when the team has no bundle of that name", async () => {
    const res = await server.request("GET", "/v2/model-bundles/latest?model_name=nothing-here", {
      key: alice,
    });
    expect(res.status).toBe(404);
    expect(res.body.detail).toBe("The specified model bundle could not be found.");
  });

  it("clones with changes into a new bundle with a new id, created_at and app_config", async () => {
    const original = await createV2(alice, "cloneme", { ...cloudpickle, app_config: { a: 1 } });
    const before = await server.request("GET", `/v2/model-bundles/${original}`, { key: alice });
    const res = await server.request("POST", "/v2/model-bundles/clone-with-changes", {
      key: bob,
      body: { original_model_bundle_id: original, new_app_config: { a: 2 } },
    });
    expect(res.status).toBe(200);
    const cloneId = res.body.model_bundle_id as string;
    expect(cloneId).not.toBe(original);
    const clone = await server.request("GET", `/v2/model-bundles/${cloneId}`, { key: alice });
    expect(clone.body.name).toBe("cloneme");
    expect(clone.body.flavor).toEqual({ ...before.body.flavor, app_config: { a: 2 } });
    expect(clone.body.metadata).toEqual({ __cloned_from_bundle_id: original });
    expect(clone.body.created_at >= before.body.created_at).toBe(true);
    // The original is unchanged, and the clone is now the latest of its name.
    expect((await server.request("GET", `/v2/model-bundles/${original}`, { key: alice })).body).toEqual(
      before.body,
    );
    const latest = await server.request("GET", "/v2/model-bundles/latest?model_name=cloneme", { key: alice });
    expect(latest.body.id).toBe(cloneId);

    const same = await server.request("POST", "/v2/model-bundles/clone-with-changes", {
      key: alice,
      body: { original_model_bundle_id: original },
    });
    const kept = await server.request("GET", `/v2/model-bundles/${same.body.model_bundle_id}`, {
      key: alice,
    });
    expect(kept.body.flavor.app_config).toEqual({ a: 1 });
  });

  it("answers 404 for a bundle id that does not exist", async () => {
    const res = await server.request("GET", "/v2/model-bundles/bun_missing", { key: alice });
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ detail: "The specified model bundle could not be found.", code: "not_found" });
  });
});

describe("v1 bundles", () => {
  const v1Body = {
    name: "legacy",
    location: "s3://launch/uploads/ml/upl_legacy",
    requirements: ["torch"],
    env_params: { framework_type: "pytorch", pytorch_image_tag: "1.13" },
    packaging_type: "cloudpickle",
    metadata: { load_predict_fn: "def p(): ...", load_model_fn: "def m(): ..." },
    app_config: { k: "v" },
  };

  it("creates, gets, lists and finds the latest in the v1 shape", async () => {
    const created = await server.request("POST", "/v1/model-bundles", { key: alice, body: v1Body });
    expect(created.status).toBe(200);
    const id = created.body.model_bundle_id as string;
    const expected = {
      id,
      name: "legacy",
      location: v1Body.location,
      requirements: ["torch"],
      env_params: {
        framework_type: "pytorch",
        pytorch_image_tag: "1.13",
        tensorflow_version: null,
        ecr_repo: null,
        image_tag: null,
      },
      packaging_type: "cloudpickle",
      metadata: v1Body.metadata,
      app_config: { k: "v" },
      created_at: expect.stringMatching(ISO),
      model_artifact_ids: [],
      schema_location: null,
    };
    expect((await server.request("GET", `/v1/model-bundles/${id}`, { key: alice })).body).toEqual(expected);
    expect(
      (await server.request("GET", "/v1/model-bundles/latest?model_name=legacy", { key: bob })).body,
    ).toEqual(expected);
    const list = await server.request("GET", "/v1/model-bundles?model_name=legacy", { key: alice });
    expect(list.body).toEqual({ model_bundles: [expected] });
  });

  it("shows a v1 bundle through v2 with a derived flavor", async () => {
    const created = await server.request("POST", "/v1/model-bundles", {
      key: alice,
      body: { ...v1Body, name: "legacy-v2" },
    });
    const res = await server.request("GET", `/v2/model-bundles/${created.body.model_bundle_id}`, {
      key: alice,
    });
    expect(res.body.flavor).toEqual({
      flavor: "cloudpickle_artifact",
      requirements: ["torch"],
      framework: { framework_type: "pytorch", pytorch_image_tag: "1.13" },
      location: v1Body.location,
      load_predict_fn: "def p(): ...",
      load_model_fn: "def m(): ...",
      app_config: { k: "v" },
    });
  });

  it("shows v2 bundles through v1: artifact flavors and runnable images", async () => {
    const pickle = await createV2(alice, "v2-through-v1", {
      ...cloudpickle,
      framework: { framework_type: "custom_base_image", image_repository: "img", image_tag: "v3" },
      app_config: { x: 1 },
    });
    const v1 = await server.request("GET", `/v1/model-bundles/${pickle}`, { key: alice });
    expect(v1.body).toMatchObject({
      id: pickle,
      location: cloudpickle.location,
      requirements: ["numpy"],
      env_params: {
        framework_type: "custom_base_image",
        ecr_repo: "img",
        image_tag: "v3",
        pytorch_image_tag: null,
        tensorflow_version: null,
      },
      packaging_type: "cloudpickle",
      app_config: { x: 1 },
      schema_location: "s3://launch/uploads/ml/schema",
    });

    const image = await createV2(alice, "image-through-v1", runnable);
    const imageV1 = await server.request("GET", `/v1/model-bundles/${image}`, { key: alice });
    expect(imageV1.body).toMatchObject({
      location: "unused",
      requirements: [],
      env_params: { framework_type: "custom_base_image", ecr_repo: "repo", image_tag: "1.0" },
      packaging_type: "lira",
      app_config: null,
    });
  });

  it("clones through v1, replacing app_config", async () => {
    const created = await server.request("POST", "/v1/model-bundles", {
      key: alice,
      body: { ...v1Body, name: "v1clone" },
    });
    const res = await server.request("POST", "/v1/model-bundles/clone-with-changes", {
      key: alice,
      body: { original_model_bundle_id: created.body.model_bundle_id, new_app_config: { k: "w" } },
    });
    expect(res.status).toBe(200);
    const clone = await server.request("GET", `/v1/model-bundles/${res.body.model_bundle_id}`, {
      key: alice,
    });
    expect(clone.body.app_config).toEqual({ k: "w" });
    expect(clone.body.location).toBe(v1Body.location);
    const cloneV2 = await server.request("GET", `/v2/model-bundles/${res.body.model_bundle_id}`, {
      key: alice,
    });
    expect(cloneV2.body.flavor.app_config).toEqual({ k: "w" });
  });

  it("derives a runnable image for a lira bundle and echoes its v1 fields", async () => {
    const created = await server.request("POST", "/v1/model-bundles", {
      key: alice,
      body: {
        ...v1Body,
        name: "lira",
        packaging_type: "lira",
        env_params: { framework_type: "custom_base_image", ecr_repo: "img", image_tag: "t" },
      },
    });
    const id = created.body.model_bundle_id;
    const v1 = await server.request("GET", `/v1/model-bundles/${id}`, { key: alice });
    expect(v1.body).toMatchObject({
      packaging_type: "lira",
      env_params: { ecr_repo: "img", image_tag: "t" },
    });
    const v2 = await server.request("GET", `/v2/model-bundles/${id}`, { key: alice });
    expect(v2.body.flavor).toMatchObject({ flavor: "runnable_image", command: [], protocol: "http" });
  });

  it("rejects env_params without the field its framework needs", async () => {
    const res = await server.request("POST", "/v1/model-bundles", {
      key: alice,
      body: { ...v1Body, env_params: { framework_type: "tensorflow" } },
    });
    expect(res.status).toBe(422);
    expect(res.body.detail).toEqual([
      {
        loc: ["body", "env_params", "tensorflow_version"],
        msg: "Field required: env_params.tensorflow_version",
        type: "missing",
      },
    ]);
  });
});

describe("another team's bundles", () => {
  it("answer 404 on every route, exactly like missing ones", async () => {
    const id = await createV2(alice, "private", cloudpickle);
    const notFound = { detail: "The specified model bundle could not be found.", code: "not_found" };
    for (const path of [
      `/v2/model-bundles/${id}`,
      `/v1/model-bundles/${id}`,
      "/v2/model-bundles/latest?model_name=private",
      "/v1/model-bundles/latest?model_name=private",
    ]) {
      const res = await server.request("GET", path, { key: eve });
      expect(res.status, path).toBe(404);
      expect(res.body, path).toEqual(notFound);
    }
    for (const path of ["/v2/model-bundles/clone-with-changes", "/v1/model-bundles/clone-with-changes"]) {
      const res = await server.request("POST", path, { key: eve, body: { original_model_bundle_id: id } });
      expect(res.status, path).toBe(404);
      expect(res.body, path).toEqual(notFound);
    }
    for (const path of ["/v2/model-bundles?model_name=private", "/v1/model-bundles?model_name=private"]) {
      expect((await server.request("GET", path, { key: eve })).body, path).toEqual({ model_bundles: [] });
    }
  });
});
