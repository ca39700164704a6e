import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SecretsBox } from "../../domain/secrets-box.js";
import { openCallbackAuth } from "../../services/callback-auth.js";
import { selfSignedCertificate } from "../../testing/certs.js";
import { basicAuth, startTestServer, type TestServer } from "../../testing/server.js";

const PASSWORD = "s3cret-callback-password-7f1c";
const one = selfSignedCertificate("callback-client");
const two = selfSignedCertificate("someone-else");

let server: TestServer;
let teams = 0;

/** A fresh team (so every test sees only its own endpoints), with a key and a bundle named test-bundle. */
async function newTeam(): Promise<{ key: string; bundleId: string }> {
  teams += 1;
  const key = await server.createKey(`user${teams}`, `team${teams}`);
  const res = await server.request("POST", "/v2/model-bundles", {
    key,
    body: {
      name: "test-bundle",
      schema_location: "s3://launch/schemas/test.json",
      flavor: { flavor: "runnable_image", repository: "example/model", tag: "1", command: ["serve"] },
    },
  });
  expect(res.status).toBe(200);
  return { key, bundleId: res.body.model_bundle_id };
}

/**
 * The body the Python client sends for the callbacks document's `create_model_endpoint(...)` with basic
 * auth: its defaults (`memory="8Gi"`, `storage="16Gi"`, `gpus=0`, `max_workers=1`, `per_worker=10`)
 * plus the document's arguments.
 */
function docBody(bundleId: string, overrides: Record<string, unknown> = {}) {
  return {
    cpus: 1,
    endpoint_type: "async",
    gpus: 0,
    labels: { team: "MY_TEAM", product: "MY_PRODUCT" },
    max_workers: 1,
    memory: "8Gi",
    metadata: {},
    min_workers: 1,
    model_bundle_id: bundleId,
    name: "demo-endpoint-callback",
    per_worker: 10,
    high_priority: false,
    post_inference_hooks: ["callback"],
    default_callback_url: "https://example.com",
    default_callback_auth: { kind: "basic", username: "user", password: PASSWORD },
    storage: "16Gi",
    ...overrides,
  };
}

async function create(key: string, body: Record<string, unknown>): Promise<string> {
  const res = await server.request("POST", "/v1/model-endpoints", { key, body });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.endpoint_creation_task_id;
}

/** The raw response text, to look for secrets in exactly what a client receives. */
async function rawText(method: string, path: string, key: string, body?: unknown): Promise<string> {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: basicAuth(key), ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return response.text();
}

beforeAll(async () => {
  server = await startTestServer();
});

afterAll(async () => {
  await server?.close();
});

describe("POST /v1/model-endpoints", () => {
  it("creates the callbacks document's endpoint, READY at once, with every key of the view", async () => {
    const { key, bundleId } = await newTeam();
    const id = await create(key, docBody(bundleId));
    expect(id).toMatch(/^end_[0-9a-z]{26}$/);

    const res = await server.request("GET", `/v1/model-endpoints/${id}`, { key });
    expect(res.status).toBe(200);
    const view = res.body;
    expect(view).toEqual({
      id,
      name: "demo-endpoint-callback",
      endpoint_type: "async",
      destination: `launch-endpoint-id-${id}`,
      deployment_name: `launch-endpoint-id-${id}`,
      metadata: {},
      bundle_name: "test-bundle",
      model_bundle_id: bundleId,
      status: "READY",
      status_reason: null,
      post_inference_hooks: ["callback"],
      default_callback_url: "https://example.com",
      default_callback_auth: { kind: "basic", username: "user" },
      callback_events: ["succeeded"],
      labels: { team: "MY_TEAM", product: "MY_PRODUCT" },
      created_by: `user${teams}`,
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      last_updated_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      public_inference: false,
      num_queued_items: 0,
      deployment_state: {
        min_workers: 1,
        max_workers: 1,
        per_worker: 10,
        concurrent_requests_per_worker: 10,
        // No workers run until the execution issue lands; the count is honest.
        available_workers: 0,
        unavailable_workers: 0,
      },
      resource_state: {
        cpus: 1,
        gpus: 0,
        memory: "8Gi",
        gpu_type: null,
        storage: "16Gi",
        nodes_per_worker: 1,
      },
      high_priority: false,
      prewarm: null,
      billing_tags: null,
      optimize_costs: null,
      task_expires_seconds: null,
      queue_message_timeout_seconds: null,
      forwarder_max_concurrency: null,
    });

    // The Python client's `use_path_with_custom_endpoint=True` prefix answers the same.
    const alias = await server.request("GET", `/v1/launch/v1/model-endpoints/${id}`, { key });
    expect(alias.body).toEqual(view);
  });

  it("echoes quantities exactly as sent", async () => {
    const { key, bundleId } = await newTeam();
    const id = await create(key, docBody(bundleId, { cpus: "500m", memory: 1073741824, storage: "1G" }));
    const { body } = await server.request("GET", `/v1/model-endpoints/${id}`, { key });
    expect(body.resource_state).toMatchObject({ cpus: "500m", memory: 1073741824, storage: "1G" });
  });

  it("creates an endpoint with mTLS credentials and shows only their kind", async () => {
    const { key, bundleId } = await newTeam();
    const id = await create(
      key,
      docBody(bundleId, { default_callback_auth: { kind: "mtls", cert: one.cert, key: one.key } }),
    );
    const text = await rawText("GET", `/v1/model-endpoints/${id}`, key);
    expect(JSON.parse(text).default_callback_auth).toEqual({ kind: "mtls" });
    expect(text).not.toContain("PRIVATE KEY");
    expect(text).not.toContain(one.key.split("\n")[1]);
  });

  it("answers 422 naming the key when it does not match the certificate, and creates nothing", async () => {
    const { key, bundleId } = await newTeam();
    const res = await server.request("POST", "/v1/model-endpoints", {
      key,
      body: docBody(bundleId, { default_callback_auth: { kind: "mtls", cert: one.cert, key: two.key } }),
    });
    expect(res.status).toBe(422);
    expect(res.body.detail).toEqual([
      {
        loc: ["body", "default_callback_auth", "key"],
        msg: "default_callback_auth.key does not match default_callback_auth.cert (the key is not the certificate's key)",
        type: "value_error",
      },
    ]);
    expect((await server.request("GET", "/v1/model-endpoints", { key })).body).toEqual({
      model_endpoints: [],
    });
  });

  it("answers 422 for a certificate or key that is not PEM", async () => {
    const { key, bundleId } = await newTeam();
    const res = await server.request("POST", "/v1/model-endpoints", {
      key,
      body: docBody(bundleId, { default_callback_auth: { kind: "mtls", cert: "cert", key: "key" } }),
    });
    expect(res.status).toBe(422);
    expect(res.body.detail.map((d: { loc: string[]; msg: string }) => [d.loc.at(-1), d.msg])).toEqual([
      [
        "cert",
        "default_callback_auth.cert is not a PEM certificate (expected '-----BEGIN CERTIFICATE-----')",
      ],
      ["key", "default_callback_auth.key is not a PEM private key (expected '-----BEGIN PRIVATE KEY-----')"],
    ]);
  });

  it("answers 422 naming a missing password", async () => {
    const { key, bundleId } = await newTeam();
    const res = await server.request("POST", "/v1/model-endpoints", {
      key,
      body: docBody(bundleId, { default_callback_auth: { kind: "basic", username: "user" } }),
    });
    expect(res.status).toBe(422);
    expect(res.body.detail).toEqual([
      {
        loc: ["body", "default_callback_auth", "password"],
        msg: "default_callback_auth.password is required for kind 'basic'",
        type: "missing",
      },
    ]);
  });

  it("answers 422 in the reference shape for missing and mistyped fields", async () => {
    const { key, bundleId } = await newTeam();
    const { cpus: _cpus, ...withoutCpus } = docBody(bundleId);
    const res = await server.request("POST", "/v1/model-endpoints", {
      key,
      body: { ...withoutCpus, min_workers: "many", default_callback_url: "example.com" },
    });
    expect(res.status).toBe(422);
    const locs = res.body.detail.map((d: { loc: string[] }) => d.loc);
    expect(locs).toContainEqual(["body", "cpus"]);
    expect(locs).toContainEqual(["body", "min_workers"]);
    for (const d of res.body.detail) expect(Object.keys(d).sort()).toEqual(["loc", "msg", "type"]);

    const url = await server.request("POST", "/v1/model-endpoints", {
      key,
      body: docBody(bundleId, { default_callback_url: "ftp://example.com" }),
    });
    expect(url.status).toBe(422);
    expect(url.body.detail[0].loc).toEqual(["body", "default_callback_url"]);
  });

  it("answers 400 listing the allowed hooks for an unknown hook", async () => {
    const { key, bundleId } = await newTeam();
    const res = await server.request("POST", "/v1/model-endpoints", {
      key,
      body: docBody(bundleId, { post_inference_hooks: ["callback", "email"] }),
    });
    expect(res.status).toBe(400);
    expect(res.body.detail).toBe(
      'Unsupported post-inference hook "email". The supported hooks are: callback.',
    );
  });

  it("answers 400 for a sync endpoint without workers", async () => {
    const { key, bundleId } = await newTeam();
    const res = await server.request("POST", "/v1/model-endpoints", {
      key,
      body: docBody(bundleId, { endpoint_type: "sync", min_workers: 0 }),
    });
    expect(res.status).toBe(400);
    expect(res.body.detail).toMatch(/needs min_workers ≥ 1/);
  });

  it("answers 400 with the reference body for a duplicate name in the same team only", async () => {
    const { key, bundleId } = await newTeam();
    await create(key, docBody(bundleId));
    const res = await server.request("POST", "/v1/model-endpoints", { key, body: docBody(bundleId) });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      detail: "The specified model endpoint already exists.",
      code: "already_exists",
    });

    const other = await newTeam();
    await create(other.key, docBody(other.bundleId));
  });

  it("answers 404 for an unknown bundle or another team's bundle", async () => {
    const { key } = await newTeam();
    const other = await newTeam();
    for (const bundleId of ["bun_doesnotexist", other.bundleId]) {
      const res = await server.request("POST", "/v1/model-endpoints", { key, body: docBody(bundleId) });
      expect(res.status).toBe(404);
      expect(res.body.detail).toBe(`Model bundle ${bundleId} was not found.`);
    }
  });

  it("needs an API key", async () => {
    const res = await server.request("POST", "/v1/model-endpoints", { body: docBody("bun_x") });
    expect(res.status).toBe(401);
  });
});

describe("GET /v1/model-endpoints", () => {
  it("filters by exact name and orders newest, oldest or alphabetically", async () => {
    const { key, bundleId } = await newTeam();
    for (const name of ["bravo", "alpha", "charlie"]) await create(key, docBody(bundleId, { name }));
    const names = async (query: string) =>
      (await server.request("GET", `/v1/model-endpoints${query}`, { key })).body.model_endpoints.map(
        (e: { name: string }) => e.name,
      );
    expect(await names("")).toEqual(["bravo", "alpha", "charlie"]);
    expect(await names("?order_by=oldest")).toEqual(["bravo", "alpha", "charlie"]);
    expect(await names("?order_by=newest")).toEqual(["charlie", "alpha", "bravo"]);
    expect(await names("?order_by=alphabetical")).toEqual(["alpha", "bravo", "charlie"]);
    expect(await names("?name=alpha")).toEqual(["alpha"]);
    expect(await names("?name=alph")).toEqual([]);

    const bad = await server.request("GET", "/v1/model-endpoints?order_by=sideways", { key });
    expect(bad.status).toBe(422);
    expect(bad.body.detail[0].loc).toEqual(["query", "order_by"]);
  });

  it("answers an empty list, never 404, when there are none", async () => {
    const { key } = await newTeam();
    const res = await server.request("GET", "/v1/model-endpoints?name=nothing", { key });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ model_endpoints: [] });
  });
});

describe("PUT /v1/model-endpoints/{id}", () => {
  it("keeps absent and null fields, merges labels, and replaces hooks and URL", async () => {
    const { key, bundleId } = await newTeam();
    const id = await create(key, docBody(bundleId));
    const before = (await server.request("GET", `/v1/model-endpoints/${id}`, { key })).body;

    const res = await server.request("PUT", `/v1/model-endpoints/${id}`, {
      key,
      body: {
        cpus: null,
        memory: null,
        min_workers: null,
        default_callback_auth: null,
        labels: { product: "NEW_PRODUCT", stage: "prod" },
        max_workers: 3,
        default_callback_url: "https://example.com/custom",
      },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toEqual({ endpoint_creation_task_id: id });

    const after = (await server.request("GET", `/v1/model-endpoints/${id}`, { key })).body;
    expect(after).toEqual({
      ...before,
      status: "READY",
      last_updated_at: after.last_updated_at,
      labels: { team: "MY_TEAM", product: "NEW_PRODUCT", stage: "prod" },
      default_callback_url: "https://example.com/custom",
      deployment_state: { ...before.deployment_state, max_workers: 3 },
    });

    // An empty body changes nothing but still goes through the state machine.
    const empty = await server.request("PUT", `/v1/model-endpoints/${id}`, { key, body: {} });
    expect(empty.status).toBe(200);
    const hooks = await server.request("PUT", `/v1/model-endpoints/${id}`, {
      key,
      body: { post_inference_hooks: [] },
    });
    expect(hooks.status).toBe(200);
    expect(
      (await server.request("GET", `/v1/model-endpoints/${id}`, { key })).body.post_inference_hooks,
    ).toEqual([]);
  });

  it("changes the default credentials from basic to mTLS", async () => {
    const { key, bundleId } = await newTeam();
    const id = await create(key, docBody(bundleId));
    const res = await server.request("PUT", `/v1/model-endpoints/${id}`, {
      key,
      body: { default_callback_auth: { kind: "mtls", cert: one.cert, key: one.key } },
    });
    expect(res.status).toBe(200);
    const view = (await server.request("GET", `/v1/model-endpoints/${id}`, { key })).body;
    expect(view.default_callback_auth).toEqual({ kind: "mtls" });
    const stored = await server.store.getEndpoint(id);
    const box = SecretsBox.fromConfig({ secretsKey: "", dataDir: server.dataDir });
    expect(openCallbackAuth(stored!.spec.defaultCallbackAuth!, box)).toEqual({
      kind: "mtls",
      cert: one.cert,
      key: one.key,
    });
  });

  it("rejects a bad update whole, leaving the endpoint as it was", async () => {
    const { key, bundleId } = await newTeam();
    const id = await create(key, docBody(bundleId));
    const before = await server.store.getEndpoint(id);
    const res = await server.request("PUT", `/v1/model-endpoints/${id}`, {
      key,
      body: {
        labels: { stage: "x" },
        min_workers: 4,
        default_callback_auth: { kind: "mtls", cert: one.cert },
      },
    });
    expect(res.status).toBe(422);
    expect(res.body.detail.map((d: { loc: string[] }) => d.loc)).toEqual([
      ["body", "default_callback_auth", "key"],
    ]);
    const bounds = await server.request("PUT", `/v1/model-endpoints/${id}`, {
      key,
      body: { min_workers: 4 },
    });
    expect(bounds.status).toBe(422);
    expect(bounds.body.detail[0].msg).toBe("min_workers (4) must be ≤ max_workers (1)");
    const name = await server.request("PUT", `/v1/model-endpoints/${id}`, { key, body: { name: "renamed" } });
    expect(name.status).toBe(422);
    expect(name.body.detail[0].loc).toEqual(["body", "name"]);
    expect(await server.store.getEndpoint(id)).toEqual(before);
  });

  it("answers 409 while the endpoint is being deleted", async () => {
    const { key, bundleId } = await newTeam();
    const id = await create(key, docBody(bundleId));
    const current = await server.store.getEndpoint(id);
    // Freeze it halfway through a delete, as a crash between the two steps would leave it.
    await server.store.updateEndpoint(
      id,
      current!.version,
      { status: "DELETE_IN_PROGRESS" },
      current!.createdAt,
    );
    const res = await server.request("PUT", `/v1/model-endpoints/${id}`, { key, body: { max_workers: 2 } });
    expect(res.status).toBe(409);
    expect(res.body.detail).toBe("Cannot edit a model endpoint that is being deleted.");
    const restart = await server.request("POST", `/v1/model-endpoints/${id}/restart`, { key });
    expect(restart.status).toBe(409);
    // A repeated delete finishes the job.
    expect((await server.request("DELETE", `/v1/model-endpoints/${id}`, { key })).body).toEqual({
      deleted: true,
    });
    expect((await server.request("GET", `/v1/model-endpoints/${id}`, { key })).status).toBe(404);
  });
});

describe("delete and restart", () => {
  it("deletes: then get, put and a second delete answer 404", async () => {
    const { key, bundleId } = await newTeam();
    const id = await create(key, docBody(bundleId));
    const res = await server.request("DELETE", `/v1/model-endpoints/${id}`, { key });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ deleted: true });
    expect((await server.request("GET", `/v1/model-endpoints/${id}`, { key })).status).toBe(404);
    expect((await server.request("PUT", `/v1/model-endpoints/${id}`, { key, body: {} })).status).toBe(404);
    expect((await server.request("DELETE", `/v1/model-endpoints/${id}`, { key })).status).toBe(404);
    expect((await server.request("GET", "/v1/model-endpoints", { key })).body.model_endpoints).toEqual([]);
    // The name is free again.
    await create(key, docBody(bundleId));
  });

  it("restarts through the state machine back to READY", async () => {
    const { key, bundleId } = await newTeam();
    const id = await create(key, docBody(bundleId));
    const before = await server.store.getEndpoint(id);
    const res = await server.request("POST", `/v1/model-endpoints/${id}/restart`, { key });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ restarted: true });
    const after = await server.store.getEndpoint(id);
    expect(after?.status).toBe("READY");
    // restart → UPDATE_PENDING, rollout started, rollout succeeded: three writes.
    expect(after?.version).toBe(before!.version + 3);
  });
});

describe("other teams", () => {
  it("get 404 on get, put, delete and restart, exactly like a missing endpoint", async () => {
    const owner = await newTeam();
    const id = await create(owner.key, docBody(owner.bundleId));
    const stranger = await newTeam();
    const missing = "end_00000000000000000000000000";
    const calls: [string, string, unknown][] = [
      ["GET", "", undefined],
      ["PUT", "", { max_workers: 2 }],
      ["DELETE", "", undefined],
      ["POST", "/restart", undefined],
    ];
    for (const [method, suffix, body] of calls) {
      const theirs = await server.request(method, `/v1/model-endpoints/${id}${suffix}`, {
        key: stranger.key,
        body,
      });
      const none = await server.request(method, `/v1/model-endpoints/${missing}${suffix}`, {
        key: stranger.key,
        body,
      });
      expect(theirs.status).toBe(404);
      expect(none.status).toBe(404);
      expect(theirs.body).toEqual({ ...none.body, detail: none.body.detail.replace(missing, id) });
    }
    expect(
      (await server.request("GET", "/v1/model-endpoints", { key: stranger.key })).body.model_endpoints,
    ).toEqual([]);
    const still = await server.request("GET", `/v1/model-endpoints/${id}`, { key: owner.key });
    expect(still.body).toMatchObject({ status: "READY", deployment_state: { max_workers: 1 } });
  });
});

describe("secrets", () => {
  it("never appear in any response", async () => {
    const { key, bundleId } = await newTeam();
    const texts: string[] = [];
    texts.push(await rawText("POST", "/v1/model-endpoints", key, docBody(bundleId)));
    const id = JSON.parse(texts[0]!).endpoint_creation_task_id;
    texts.push(await rawText("GET", `/v1/model-endpoints/${id}`, key));
    texts.push(await rawText("GET", "/v1/model-endpoints", key));
    texts.push(
      await rawText("PUT", `/v1/model-endpoints/${id}`, key, {
        default_callback_auth: { kind: "mtls", cert: one.cert, key: one.key },
      }),
    );
    texts.push(await rawText("GET", `/v1/model-endpoints/${id}`, key));
    texts.push(await rawText("GET", "/v1/model-endpoints", key));
    // Error responses too: a rejected body must not be echoed back.
    texts.push(
      await rawText("PUT", `/v1/model-endpoints/${id}`, key, {
        default_callback_auth: { kind: "mtls", cert: one.cert, key: two.key },
      }),
    );
    texts.push(
      await rawText("POST", "/v1/model-endpoints", key, docBody(bundleId, { name: "other", cpus: "x" })),
    );
    const keyBody = one.key.split("\n")[1]!;
    for (const text of texts) {
      expect(text).not.toContain(PASSWORD);
      expect(text).not.toContain("PRIVATE KEY");
      expect(text).not.toContain(keyBody);
    }
    expect(texts[1]).toContain('"default_callback_auth":{"kind":"basic","username":"user"}');
  });

  it("are not stored in clear", async () => {
    const { key, bundleId } = await newTeam();
    const id = await create(key, docBody(bundleId, { name: "sealed" }));
    const stored = await server.store.getEndpoint(id);
    expect(JSON.stringify(stored)).not.toContain(PASSWORD);
    // The sealed value opens back to the password with the server's key, so it was stored.
    const box = SecretsBox.fromConfig({ secretsKey: "", dataDir: server.dataDir });
    expect(openCallbackAuth(stored!.spec.defaultCallbackAuth!, box)).toMatchObject({ password: PASSWORD });
    // Nor anywhere in the SQLite files (database and write-ahead log).
    const files = readdirSync(server.dataDir).filter((f) => f.startsWith("launch.db"));
    expect(files).toContain("launch.db");
    for (const file of files) {
      expect(readFileSync(join(server.dataDir, file)).includes(Buffer.from(PASSWORD))).toBe(false);
    }
  });
});

describe("a server restart", () => {
  it("keeps endpoints and their sealed credentials", async () => {
    const { key, bundleId } = await newTeam();
    const id = await create(key, docBody(bundleId, { name: "survivor", labels: { keep: "me" } }));
    const before = (await server.request("GET", `/v1/model-endpoints/${id}`, { key })).body;
    await server.restart();
    const after = await server.request("GET", `/v1/model-endpoints/${id}`, { key });
    expect(after.status).toBe(200);
    expect(after.body).toEqual(before);
    const stored = await server.store.getEndpoint(id);
    const box = SecretsBox.fromConfig({ secretsKey: "", dataDir: server.dataDir });
    expect(openCallbackAuth(stored!.spec.defaultCallbackAuth!, box)).toMatchObject({ password: PASSWORD });
  });
});

describe("logs", () => {
  it("never carry callback credentials, even at debug level and on errors", async () => {
    const logged = await startTestServer({ captureLogs: true, overrides: { logLevel: "trace" } });
    try {
      const key = await logged.createKey("logger", "logs");
      const bundle = await logged.request("POST", "/v2/model-bundles", {
        key,
        body: {
          name: "test-bundle",
          schema_location: "s3://launch/schemas/test.json",
          flavor: { flavor: "runnable_image", repository: "example/model", tag: "1", command: ["serve"] },
        },
      });
      const created = await logged.request("POST", "/v1/model-endpoints", {
        key,
        body: docBody(bundle.body.model_bundle_id),
      });
      expect(created.status).toBe(200);
      const id = created.body.endpoint_creation_task_id;
      for (const auth of [
        { kind: "mtls", cert: one.cert, key: one.key },
        { kind: "mtls", cert: one.cert, key: two.key },
        { kind: "basic", username: "user", password: PASSWORD, extra: { nested: PASSWORD } },
      ]) {
        await logged.request("PUT", `/v1/model-endpoints/${id}`, {
          key,
          body: { default_callback_auth: auth },
        });
      }
      expect(logged.logs.length).toBeGreaterThan(0);
      const all = logged.logs.join("\n");
      expect(all).not.toContain(PASSWORD);
      expect(all).not.toContain("PRIVATE KEY");
    } finally {
      await logged.close();
    }
  });
});
