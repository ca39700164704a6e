import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../testing/server.js";

let server: TestServer;
let key: string;

beforeAll(async () => {
  server = await startTestServer({ overrides: { bodyLimitBytes: 2048 } });
  key = await server.createKey("alice", "ml");
});
afterAll(() => server.close());

const create = (body: unknown) => server.request("POST", "/v2/model-bundles", { key, body });

describe("validation errors (422)", () => {
  it("name every missing top-level field", async () => {
    const res = await create({});
    expect(res.status).toBe(422);
    expect(res.body).toEqual({
      detail: [
        { loc: ["body", "name"], msg: "Field required: name", type: "missing" },
        { loc: ["body", "schema_location"], msg: "Field required: schema_location", type: "missing" },
        { loc: ["body", "flavor"], msg: "Field required: flavor", type: "missing" },
      ],
      code: "validation_failed",
    });
  });

  it("name the fields of the chosen flavor only", async () => {
    const res = await create({
      name: "b",
      schema_location: "s",
      flavor: { flavor: "runnable_image", load_predict_fn: "x" },
    });
    expect(res.status).toBe(422);
    expect(res.body.detail).toEqual([
      { loc: ["body", "flavor", "repository"], msg: "Field required: flavor.repository", type: "missing" },
      { loc: ["body", "flavor", "tag"], msg: "Field required: flavor.tag", type: "missing" },
      { loc: ["body", "flavor", "command"], msg: "Field required: flavor.command", type: "missing" },
    ]);
  });

  it("list the known flavors when the flavor is unknown, and report a missing tag once", async () => {
    const unknown = await create({ name: "b", schema_location: "s", flavor: { flavor: "docker" } });
    expect(unknown.status).toBe(422);
    expect(unknown.body.detail).toEqual([
      {
        loc: ["body", "flavor", "flavor"],
        msg:
          'flavor.flavor is "docker"; expected one of: runnable_image, streaming_enhanced_runnable_image, ' +
          "triton_enhanced_runnable_image, cloudpickle_artifact, zip_artifact",
        type: "union_tag_invalid",
      },
    ]);
    const missing = await create({ name: "b", schema_location: "s", flavor: {} });
    expect(missing.body.detail).toEqual([
      { loc: ["body", "flavor", "flavor"], msg: "Field required: flavor.flavor", type: "missing" },
    ]);
  });

  it("reach into nested unions and report wrong types", async () => {
    const res = await create({
      name: "b",
      schema_location: "s",
      flavor: {
        flavor: "cloudpickle_artifact",
        requirements: "numpy",
        location: "s3://a/b",
        load_predict_fn: "",
        load_model_fn: "",
        framework: { framework_type: "pytorch" },
        app_config: 7,
      },
    });
    expect(res.status).toBe(422);
    expect(res.body.detail).toEqual(
      expect.arrayContaining([
        {
          loc: ["body", "flavor", "framework", "pytorch_image_tag"],
          msg: "Field required: flavor.framework.pytorch_image_tag",
          type: "missing",
        },
        {
          loc: ["body", "flavor", "app_config"],
          msg: "flavor.app_config must be object or null",
          type: "type_error",
        },
      ]),
    );
  });

  it("name query parameters with loc 'query'", async () => {
    const res = await server.request("GET", "/v2/model-bundles?order_by=sideways", { key });
    expect(res.status).toBe(422);
    expect(res.body.detail).toEqual([
      { loc: ["query", "order_by"], msg: 'order_by must be one of: "newest", "oldest"', type: "enum" },
    ]);
  });

  it("answer invalid JSON with 422 json_invalid", async () => {
    const res = await server.request("POST", "/v2/model-bundles", {
      key,
      body: '{"name": ',
      headers: { "content-type": "application/json" },
    });
    expect(res.status).toBe(422);
    expect(res.body.detail).toHaveLength(1);
    expect(res.body.detail[0]).toMatchObject({ loc: ["body"], type: "json_invalid" });
    expect(res.body.detail[0].msg).toMatch(/^Request body is not valid JSON: .*JSON/);
    const poisoned = await server.request("POST", "/v2/model-bundles", {
      key,
      body: '{"__proto__": {"admin": true}}',
      headers: { "content-type": "application/json" },
    });
    expect(poisoned.status).toBe(422);
    expect(poisoned.body.detail[0].msg).toContain("forbidden key");
  });

  it("treat an empty JSON body as a missing body", async () => {
    const res = await server.request("POST", "/v2/model-bundles", {
      key,
      body: "",
      headers: { "content-type": "application/json" },
    });
    expect(res.status).toBe(422);
    expect(res.body.detail).toEqual([{ loc: ["body"], msg: "body must be object", type: "type_error" }]);
  });
});

describe("other errors", () => {
  it("answer a body over the limit with 413 naming the limit", async () => {
    const res = await create({ name: "x".repeat(4096) });
    expect(res.status).toBe(413);
    expect(res.body).toEqual({
      detail: "Request body is larger than the limit of 2048 bytes (LAUNCH_BODY_LIMIT_BYTES).",
      code: "payload_too_large",
    });
  });

  it("answer unknown routes 404 Not Found, with or without credentials", async () => {
    for (const init of [{}, { key }]) {
      const res = await server.request("GET", "/v9/nothing", init);
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ detail: "Not Found", code: "not_found" });
    }
  });
});

describe("the /v1/launch prefix", () => {
  it("serves every route under it too", async () => {
    const created = await server.request("POST", "/v1/launch/v2/model-bundles", {
      key,
      body: {
        name: "aliased",
        schema_location: "s",
        flavor: { flavor: "runnable_image", repository: "r", tag: "t", command: [] },
      },
    });
    expect(created.status).toBe(200);
    const id = created.body.model_bundle_id;
    const direct = await server.request("GET", `/v2/model-bundles/${id}`, { key });
    const aliased = await server.request("GET", `/v1/launch/v2/model-bundles/${id}`, { key });
    expect(aliased.status).toBe(200);
    expect(aliased.body).toEqual(direct.body);
    const v1 = await server.request("GET", "/v1/launch/v1/model-bundles/latest?model_name=aliased", { key });
    expect(v1.body.id).toBe(id);
    expect((await server.request("GET", "/v1/launch/readyz")).status).toBe(200);
    const unauthenticated = await server.request("GET", `/v1/launch/v2/model-bundles/${id}`);
    expect(unauthenticated.status).toBe(401);
  });
});

describe("the OpenAPI document", () => {
  it("lists the bundle routes with summaries and tags", async () => {
    const res = await server.request("GET", "/openapi.json");
    expect(res.status).toBe(200);
    const paths = res.body.paths as Record<string, Record<string, { summary?: string; tags?: string[] }>>;
    for (const [path, method] of [
      ["/v2/model-bundles", "post"],
      ["/v2/model-bundles", "get"],
      ["/v2/model-bundles/latest", "get"],
      ["/v2/model-bundles/{model_bundle_id}", "get"],
      ["/v2/model-bundles/clone-with-changes", "post"],
      ["/v1/model-bundles", "post"],
      ["/v1/model-bundles/{model_bundle_id}", "get"],
      ["/v1/hosted_inference/model_bundle_upload", "post"],
    ] as const) {
      const operation = paths[path]?.[method];
      expect(operation, `${method} ${path}`).toBeDefined();
      expect(operation?.summary, `${method} ${path}`).toBeTruthy();
      expect(operation?.tags?.length, `${method} ${path}`).toBeGreaterThan(0);
    }
    expect(paths["/openapi.json"]).toBeUndefined();
  });
});
