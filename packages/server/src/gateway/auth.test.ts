import { afterEach, describe, expect, it } from "vitest";
import { basicAuth, startTestServer, type TestServer } from "../testing/server.js";

const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function start(options?: Parameters<typeof startTestServer>[0]): Promise<TestServer> {
  const server = await startTestServer(options);
  servers.push(server);
  return server;
}

describe("authentication (keys mode)", () => {
  it("answers 401 with the reference body and WWW-Authenticate when no credentials are sent", async () => {
    const server = await start();
    const res = await fetch(`${server.url}/v2/model-bundles`);
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBe("Basic");
    expect(await res.json()).toEqual({ detail: "No authentication was passed in", code: "unauthenticated" });
  });

  it("answers 401 'Could not authenticate user' for an unknown key", async () => {
    const server = await start();
    const res = await fetch(`${server.url}/v2/model-bundles`, {
      headers: { authorization: basicAuth("lk_nope") },
    });
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBe("Basic");
    expect(await res.json()).toEqual({ detail: "Could not authenticate user", code: "invalid_credentials" });
  });

  it("treats a malformed Authorization header as no credentials", async () => {
    const server = await start();
    const res = await fetch(`${server.url}/v2/model-bundles`, { headers: { authorization: "Digest abc" } });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { detail: unknown }).detail).toBe("No authentication was passed in");
  });

  it("accepts a key as Basic username with an empty password, and as a Bearer token", async () => {
    const server = await start();
    const key = await server.createKey("alice", "ml");
    const basic = await fetch(`${server.url}/v2/model-bundles`, {
      headers: { authorization: basicAuth(key) },
    });
    expect(basic.status).toBe(200);
    expect(await basic.json()).toEqual({ model_bundles: [] });
    const bearer = await fetch(`${server.url}/v2/model-bundles`, {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(bearer.status).toBe(200);
  });

  it("rejects a revoked key", async () => {
    const server = await start();
    const key = await server.createKey("alice", "ml");
    const { revokeKey, listKeys } = await import("../services/keys.js");
    const record = (await listKeys(server.store)).find((k) => k.userId === "alice");
    await revokeKey(server.store, record!.id);
    const res = await server.request("GET", "/v2/model-bundles", { key });
    expect(res.status).toBe(401);
    expect(res.body.detail).toBe("Could not authenticate user");
  });

  it("leaves health routes, the OpenAPI document and the docs public", async () => {
    const server = await start();
    for (const path of ["/healthz", "/readyz", "/healthcheck", "/v1/launch/healthz"]) {
      const res = await fetch(`${server.url}${path}`);
      expect(res.status, path).toBe(200);
    }
    expect((await fetch(`${server.url}/openapi.json`)).status).toBe(200);
    const docs = await fetch(`${server.url}/docs`);
    expect(docs.status).toBe(200);
    expect(await docs.text()).toContain("swagger");
  });

  it("answers unknown routes 404 without asking for credentials", async () => {
    const server = await start();
    const res = await fetch(`${server.url}/v1/no-such-route`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ detail: "Not Found", code: "not_found" });
  });
});

describe("authentication (open mode)", () => {
  it("accepts any key as its own user and team, so two keys see different bundles", async () => {
    const server = await start({ auth: "open" });
    const created = await server.request("POST", "/v2/model-bundles", {
      key: "fakeuser",
      body: {
        name: "b",
        schema_location: "s3://x/y",
        flavor: { flavor: "runnable_image", repository: "r", tag: "t", command: ["run"] },
      },
    });
    expect(created.status).toBe(200);
    const id = created.body.model_bundle_id as string;
    const mine = await server.request("GET", "/v2/model-bundles", { key: "fakeuser" });
    expect(mine.body.model_bundles.map((b: { id: string }) => b.id)).toEqual([id]);
    const theirs = await server.request("GET", "/v2/model-bundles", { key: "otheruser" });
    expect(theirs.body.model_bundles).toEqual([]);
    expect((await server.request("GET", `/v2/model-bundles/${id}`, { key: "otheruser" })).status).toBe(404);
  });

  it("still needs some key", async () => {
    const server = await start({ auth: "open" });
    const res = await fetch(`${server.url}/v2/model-bundles`);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { detail: unknown }).detail).toBe("No authentication was passed in");
  });

  it("creates no admin key", async () => {
    const server = await start({ auth: "open" });
    expect(server.adminKey).toBeUndefined();
    expect(await server.store.listKeys()).toEqual([]);
  });
});
