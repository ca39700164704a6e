/**
 * Wire compatibility with the Python client `scale-launch`: model endpoints. `create_model_endpoint`,
 * `edit_model_endpoint`, `get_model_endpoint`, `list_model_endpoints` and `delete_model_endpoint` send
 * exactly what the client sends, in its order (`python-client.ts`), and every view is checked with the
 * client's parsing rules (`python-models.ts`). No workers run (`orchestration: none`).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { selfSignedCertificate } from "../testing/certs.js";
import { basicAuth, startTestServer, type TestServer } from "../testing/server.js";
import { PythonClientWire } from "./python-client.js";
import { modelEndpointProblems } from "./python-models.js";

const PASSWORD = "cb-pa55word-7f3e";

let server: TestServer;
let teams = 0;

/** A Python client for a fresh, empty team, with one callable bundle named "test-bundle". */
async function newClient(options: { usePathWithCustomEndpoint?: boolean } = {}) {
  teams += 1;
  const key = await server.createKey(`py-user-${teams}`, `py-team-${teams}`);
  const client = new PythonClientWire(server.url, key, options);
  const bundle = await client.createModelBundleFromCallableV2({ model_bundle_name: "test-bundle" });
  client.calls.length = 0;
  return { key, client, bundleId: bundle.model_bundle_id };
}

/** The calls as `METHOD path`, to compare with the client's order. */
const trace = (client: PythonClientWire) => client.calls.map((c) => `${c.method} ${c.path}`);

beforeAll(async () => {
  server = await startTestServer({ overrides: { orchestration: "none" } });
});

afterAll(async () => {
  await server?.close();
});

describe("get_model_endpoint (GET /v1/model-endpoints?name=)", () => {
  it("answers 200 with an empty list for an unknown name, never 404", async () => {
    const { client } = await newClient();
    const answer = await client.apiRaw("GET", "/v1/model-endpoints?name=demo-endpoint");
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({ model_endpoints: [] });
    expect(await client.getModelEndpoint("demo-endpoint")).toBeNull();
  });
});

describe("create_model_endpoint", () => {
  it("with the client's defaults: looks the name up, resolves the bundle through v1, creates", async () => {
    const { client, bundleId } = await newClient();
    const { created } = await client.createModelEndpoint({
      endpoint_name: "demo-endpoint",
      model_bundle: "test-bundle",
    });
    expect(trace(client)).toEqual([
      "GET /v1/model-endpoints?name=demo-endpoint",
      "GET /v1/model-bundles/latest?model_name=test-bundle",
      "POST /v1/model-endpoints",
    ]);
    // Exactly the client's body: no storage (its default is None), high_priority false, labels {}.
    expect(client.calls.at(-1)?.body).toEqual({
      cpus: 3,
      endpoint_type: "sync",
      gpus: 0,
      labels: {},
      max_workers: 1,
      memory: "8Gi",
      metadata: {},
      min_workers: 1,
      model_bundle_id: bundleId,
      name: "demo-endpoint",
      per_worker: 10,
      high_priority: false,
    });
    expect(Object.keys(created ?? {})).toEqual(["endpoint_creation_task_id"]);

    const view = await client.getModelEndpoint("demo-endpoint");
    expect(modelEndpointProblems(view)).toEqual([]);
    expect(view).toMatchObject({
      id: created?.endpoint_creation_task_id,
      name: "demo-endpoint",
      endpoint_type: "sync",
      bundle_name: "test-bundle",
      metadata: {},
      labels: {},
      post_inference_hooks: null,
      default_callback_url: null,
      default_callback_auth: null,
      public_inference: false,
      deployment_state: { min_workers: 1, max_workers: 1, per_worker: 10 },
      resource_state: { cpus: 3, gpus: 0, memory: "8Gi", gpu_type: null, storage: null },
    });
  });

  it("echoes cpus, memory and storage exactly as sent, string or number", async () => {
    const { client } = await newClient();
    const cases: { cpus: number | string; memory: string; storage: string }[] = [
      { cpus: "0.5", memory: "500Mi", storage: "1Gi" },
      { cpus: 1.5, memory: "8Gi", storage: "16Gi" },
      { cpus: "500m", memory: "1G", storage: "2048Mi" },
    ];
    for (const [i, resources] of cases.entries()) {
      await client.createModelEndpoint({
        endpoint_name: `sized-${i}`,
        model_bundle: "test-bundle",
        endpoint_type: "async",
        ...resources,
      });
      const view = await client.getModelEndpoint(`sized-${i}`);
      expect(modelEndpointProblems(view)).toEqual([]);
      expect(view.resource_state).toMatchObject(resources);
    }
  });

  it("takes gpus with a gpu_type, public_inference and high_priority, and echoes them", async () => {
    const { client } = await newClient();
    await client.createModelEndpoint({
      endpoint_name: "gpu-endpoint",
      model_bundle: "test-bundle",
      endpoint_type: "async",
      gpus: 1,
      gpu_type: "nvidia-tesla-t4",
      public_inference: true,
      high_priority: true,
    });
    expect(client.calls.at(-1)?.body).toMatchObject({
      gpus: 1,
      gpu_type: "nvidia-tesla-t4",
      public_inference: true,
      high_priority: true,
    });
    const view = await client.getModelEndpoint("gpu-endpoint");
    expect(modelEndpointProblems(view)).toEqual([]);
    expect(view).toMatchObject({
      public_inference: true,
      resource_state: { gpus: 1, gpu_type: "nvidia-tesla-t4" },
    });
  });

  it("the callbacks document's flow: hooks, default URL and basic auth; the password never comes back", async () => {
    const { client } = await newClient();
    await client.createModelEndpoint({
      endpoint_name: "demo-endpoint-callback",
      model_bundle: "test-bundle",
      cpus: 1,
      min_workers: 1,
      endpoint_type: "async",
      update_if_exists: true,
      labels: { team: "MY_TEAM", product: "MY_PRODUCT" },
      post_inference_hooks: ["callback"],
      default_callback_url: "https://example.com",
      default_callback_auth_kind: "basic",
      default_callback_auth_username: "user",
      default_callback_auth_password: PASSWORD,
    });
    expect(client.calls.at(-1)?.body).toMatchObject({
      post_inference_hooks: ["callback"],
      default_callback_url: "https://example.com",
      default_callback_auth: { kind: "basic", username: "user", password: PASSWORD },
    });
    const answer = await client.api("GET", "/v1/model-endpoints?name=demo-endpoint-callback");
    expect(answer.text).not.toContain(PASSWORD);
    const view = answer.json.model_endpoints[0];
    expect(modelEndpointProblems(view)).toEqual([]);
    expect(view).toMatchObject({
      endpoint_type: "async",
      labels: { team: "MY_TEAM", product: "MY_PRODUCT" },
      post_inference_hooks: ["callback"],
      default_callback_url: "https://example.com",
      default_callback_auth: { kind: "basic", username: "user" },
    });
    expect("password" in view.default_callback_auth).toBe(false);
  });

  it("update_if_exists on an existing name edits it: PUT without labels and hooks, which are kept", async () => {
    const { client } = await newClient();
    await client.createModelEndpoint({
      endpoint_name: "demo-endpoint",
      model_bundle: "test-bundle",
      endpoint_type: "async",
      min_workers: 0,
      labels: { team: "infra" },
      post_inference_hooks: ["callback"],
      default_callback_url: "https://example.com/first",
      storage: "4Gi",
    });
    const first = await client.getModelEndpoint("demo-endpoint");
    client.calls.length = 0;

    const again = await client.createModelEndpoint({
      endpoint_name: "demo-endpoint",
      model_bundle: "test-bundle",
      endpoint_type: "async",
      cpus: 2,
      min_workers: 0,
      max_workers: 3,
      update_if_exists: true,
      labels: { team: "other" },
      post_inference_hooks: [],
    });
    expect(again.existing).toMatchObject({ id: first.id, name: "demo-endpoint" });
    expect(trace(client)).toEqual([
      "GET /v1/model-endpoints?name=demo-endpoint",
      "GET /v1/model-bundles/latest?model_name=test-bundle",
      "GET /v1/model-endpoints?name=demo-endpoint",
      `PUT /v1/model-endpoints/${first.id}`,
    ]);
    expect(client.calls.at(-1)?.body).toEqual({
      cpus: 2,
      gpus: 0,
      max_workers: 3,
      memory: "8Gi",
      min_workers: 0,
      model_bundle_id: first.model_bundle_id,
      per_worker: 10,
      high_priority: false,
    });

    const view = await client.getModelEndpoint("demo-endpoint");
    expect(modelEndpointProblems(view)).toEqual([]);
    expect(view).toMatchObject({
      id: first.id,
      labels: { team: "infra" },
      post_inference_hooks: ["callback"],
      default_callback_url: "https://example.com/first",
      deployment_state: { min_workers: 0, max_workers: 3, per_worker: 10 },
      resource_state: { cpus: 2, memory: "8Gi", storage: "4Gi" },
    });
  });

  it("a second create of the same name without update_if_exists is the reference's 400", async () => {
    const { client } = await newClient();
    await client.createModelEndpoint({ endpoint_name: "twice", model_bundle: "test-bundle" });
    const second = client.createModelEndpoint({ endpoint_name: "twice", model_bundle: "test-bundle" });
    await expect(second).rejects.toMatchObject({
      status: 400,
      body: { detail: "The specified model endpoint already exists." },
    });
  });

  it("answers under /v1/launch too (use_path_with_custom_endpoint=True)", async () => {
    const { client } = await newClient({ usePathWithCustomEndpoint: true });
    await client.createModelEndpoint({ endpoint_name: "aliased", model_bundle: "test-bundle" });
    expect(trace(client).at(-1)).toBe("POST /v1/launch/v1/model-endpoints");
    expect(modelEndpointProblems(await client.getModelEndpoint("aliased"))).toEqual([]);
  });
});

describe("edit_model_endpoint", () => {
  it("switches the default callback auth to mTLS, as the callbacks document does; no key or cert comes back", async () => {
    const { client } = await newClient();
    await client.createModelEndpoint({
      endpoint_name: "demo-endpoint-callback",
      model_bundle: "test-bundle",
      endpoint_type: "async",
      post_inference_hooks: ["callback"],
      default_callback_url: "https://example.com",
      default_callback_auth_kind: "basic",
      default_callback_auth_username: "user",
      default_callback_auth_password: PASSWORD,
    });
    const { cert, key } = selfSignedCertificate("python-client-compat");
    client.calls.length = 0;
    const answer = await client.editModelEndpoint({
      model_endpoint: "demo-endpoint-callback",
      default_callback_auth_kind: "mtls",
      default_callback_auth_cert: cert,
      default_callback_auth_key: key,
    });
    expect(Object.keys(answer)).toEqual(["endpoint_creation_task_id"]);
    expect(trace(client)).toEqual([
      "GET /v1/model-endpoints?name=demo-endpoint-callback",
      `PUT /v1/model-endpoints/${answer.endpoint_creation_task_id}`,
    ]);
    expect(client.calls.at(-1)?.body).toEqual({ default_callback_auth: { kind: "mtls", cert, key } });

    const list = await client.api("GET", "/v1/model-endpoints?name=demo-endpoint-callback");
    expect(list.text).not.toContain("PRIVATE KEY");
    expect(list.text).not.toContain("BEGIN CERTIFICATE");
    expect(list.text).not.toContain(PASSWORD);
    const view = list.json.model_endpoints[0];
    expect(modelEndpointProblems(view)).toEqual([]);
    expect(view.default_callback_auth).toEqual({ kind: "mtls" });
    expect(view.post_inference_hooks).toEqual(["callback"]);
  });

  it("changes the bundle by name and the resources; every other setting is kept", async () => {
    const { client } = await newClient();
    await client.createModelEndpoint({
      endpoint_name: "edited",
      model_bundle: "test-bundle",
      endpoint_type: "async",
      labels: { a: "1" },
    });
    const next = await client.createModelBundleFromCallableV2({
      model_bundle_name: "next-bundle",
      app_config: { v: 2 },
    });
    await client.editModelEndpoint({
      model_endpoint: "edited",
      model_bundle: "next-bundle",
      cpus: 4,
      memory: "16Gi",
      storage: "32Gi",
    });
    const view = await client.getModelEndpoint("edited");
    expect(modelEndpointProblems(view)).toEqual([]);
    expect(view).toMatchObject({
      bundle_name: "next-bundle",
      model_bundle_id: next.model_bundle_id,
      labels: { a: "1" },
      resource_state: { cpus: 4, memory: "16Gi", storage: "32Gi" },
    });
  });
});

describe("list_model_endpoints and delete_model_endpoint", () => {
  it("lists every type with views that parse; delete answers {deleted: true} and the name is gone", async () => {
    const { client } = await newClient();
    for (const endpoint_type of ["async", "sync", "streaming"] as const) {
      await client.createModelEndpoint({
        endpoint_name: `kind-${endpoint_type}`,
        model_bundle: "test-bundle",
        endpoint_type,
      });
    }
    const list = (await client.listModelEndpoints()).json.model_endpoints;
    expect(list.map((e: { endpoint_type: string }) => e.endpoint_type)).toEqual([
      "async",
      "sync",
      "streaming",
    ]);
    list.forEach((view: unknown, i: number) => {
      expect(modelEndpointProblems(view, `model_endpoints[${i}]`)).toEqual([]);
    });

    client.calls.length = 0;
    expect(await client.deleteModelEndpoint("kind-sync")).toBe(true);
    expect(trace(client)).toEqual([
      "GET /v1/model-endpoints?name=kind-sync",
      `DELETE /v1/model-endpoints/${list[1].id}`,
    ]);
    expect(await client.getModelEndpoint("kind-sync")).toBeNull();
  });
});

describe("requests-style calls that send Content-Type: application/json without a body", () => {
  it("GET ?name= and DELETE answer as without the header (the reference's own tests send it)", async () => {
    const { key, client } = await newClient();
    await client.createModelEndpoint({ endpoint_name: "bodiless", model_bundle: "test-bundle" });
    const headers = { authorization: basicAuth(key), "content-type": "application/json" };
    const list = await fetch(`${server.url}/v1/model-endpoints?name=bodiless`, { headers });
    expect(list.status).toBe(200);
    const [view] = ((await list.json()) as { model_endpoints: { id: string }[] }).model_endpoints;
    const deleted = await fetch(`${server.url}/v1/model-endpoints/${view?.id}`, {
      method: "DELETE",
      headers,
    });
    expect(deleted.status).toBe(200);
    expect(await deleted.json()).toEqual({ deleted: true });
  });
});
