import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../../server/src/testing/server.js";
import { LaunchClient } from "./client.js";
import { errorFromResponse, isLaunchClientError, retryAfterMs } from "./errors.js";

/** The error a promise rejects with (fails the test when it resolves). */
async function rejection(promise: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await promise;
  } catch (error) {
    return error as Error & Record<string, unknown>;
  }
  throw new Error("expected the promise to reject");
}

describe("typed errors against a real server", () => {
  let server: TestServer;
  let client: LaunchClient;

  beforeAll(async () => {
    server = await startTestServer();
    client = new LaunchClient({ apiKey: await server.createKey("alice", "ml"), endpoint: server.url });
  });
  afterAll(async () => {
    await server.close();
  });

  it("401 with an unknown key is an AuthenticationError with the server's detail", async () => {
    const stranger = new LaunchClient({ apiKey: "lk_not-a-key", endpoint: server.url });
    const error = await rejection(stranger.listModelBundlesV2());
    expect(error.name).toBe("AuthenticationError");
    expect(error.status).toBe(401);
    expect(error.code).toBe("invalid_credentials");
    expect(error.detail).toBe("Could not authenticate user");
    expect(error.message).toContain("Could not authenticate user");
    expect(isLaunchClientError(error, "AuthenticationError")).toBe(true);
    expect(isLaunchClientError(error, "NotFoundError")).toBe(false);
  });

  it("a client without an API key fails before sending anything", () => {
    expect(() => new LaunchClient({ apiKey: "", endpoint: server.url })).toThrowError(/apiKey is required/);
  });

  it("404 is a NotFoundError", async () => {
    const error = await rejection(client.getModelBundleV2("bun_00000000000000000000000000"));
    expect(error.name).toBe("NotFoundError");
    expect(error.status).toBe(404);
    expect(error.code).toBe("not_found");
    expect(error.request).toBe("GET /v2/model-bundles/bun_00000000000000000000000000");
  });

  it("422 is a ValidationError whose fields name the missing callback password", async () => {
    await client.createModelBundleV2({
      modelBundleName: "errors-bundle",
      flavor: { flavor: "runnable_image", repository: "python", tag: "3.12", command: ["python"] },
    });
    const error = await rejection(
      client.createModelEndpoint({
        endpointName: "errors-endpoint",
        modelBundle: "errors-bundle",
        endpointType: "async",
        defaultCallbackUrl: "https://example.com",
        defaultCallbackAuthKind: "basic",
        defaultCallbackAuthUsername: "user",
      }),
    );
    expect(error.name).toBe("ValidationError");
    expect(error.status).toBe(422);
    const fields = error.fields as { loc: (string | number)[]; msg: string }[];
    expect(fields.some((f) => f.loc.join(".") === "body.default_callback_auth.password")).toBe(true);
    expect(error.message).toContain("default_callback_auth.password");
    // Nothing was half-created.
    expect(await client.listModelEndpoints()).toEqual([]);
  });

  it("callback credentials without a kind are rejected before sending, naming the option", async () => {
    const error = await rejection(
      client.createModelEndpoint({
        endpointName: "errors-stray-password",
        modelBundle: "errors-bundle",
        defaultCallbackAuthPassword: "secret",
      }),
    );
    expect(error.name).toBe("ValidationError");
    expect(error.message).toContain("defaultCallbackAuthPassword needs defaultCallbackAuthKind");
    expect(error.message).not.toContain("secret");
  });

  it("an unknown hook is a BadRequestError listing the allowed ones", async () => {
    const error = await rejection(
      client.createModelEndpoint({
        endpointName: "errors-hook",
        modelBundle: "errors-bundle",
        postInferenceHooks: ["carrier-pigeon"],
      }),
    );
    expect(error.name).toBe("BadRequestError");
    expect(error.status).toBe(400);
    expect(error.message).toContain("callback");
  });

  it("a duplicate endpoint name is a ConflictError (the server answers 400 already_exists)", async () => {
    await client.createModelEndpoint({ endpointName: "errors-twice", modelBundle: "errors-bundle" });
    const error = await rejection(
      client.createModelEndpoint({ endpointName: "errors-twice", modelBundle: "errors-bundle" }),
    );
    expect(error.name).toBe("ConflictError");
    expect(error.status).toBe(400);
    expect(error.message).toContain("already exists");
  });

  it("a closed port is a ConnectionError with status 0", async () => {
    const port = await closedPort();
    const offline = new LaunchClient({ apiKey: "k", endpoint: `http://127.0.0.1:${port}` });
    const error = await rejection(offline.listModelEndpoints());
    expect(error.name).toBe("ConnectionError");
    expect(error.status).toBe(0);
    expect(error.code).toBe("connection_failed");
    expect(error.message).toContain(`127.0.0.1:${port}`);
    expect(error.message).toContain("ECONNREFUSED");
  });

  it("a server that never answers is a ConnectionError once the timeout passes", async () => {
    const silent: Server = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = silent.address() as AddressInfo;
      const slow = new LaunchClient({ apiKey: "k", endpoint: `http://127.0.0.1:${port}`, timeoutMs: 100 });
      const error = await rejection(slow.listModelEndpoints());
      expect(error.name).toBe("ConnectionError");
      expect(error.code).toBe("request_timed_out");
    } finally {
      silent.closeAllConnections();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });
});

describe("errorFromResponse", () => {
  it("maps 429 to a RateLimitError with the Retry-After delay", () => {
    const error = errorFromResponse(
      429,
      { detail: "Slow down.", code: "rate_limited" },
      new Headers({ "retry-after": "3" }),
      "POST /v1/async-tasks",
    );
    expect(error.name).toBe("RateLimitError");
    expect((error as { retryAfterMs?: number }).retryAfterMs).toBe(3000);
    expect(error.message).toBe("Slow down. (429 POST /v1/async-tasks)");
  });

  it("maps 5xx to a ServerError and keeps a non-JSON body as the detail", () => {
    const error = errorFromResponse(
      502,
      "<html>bad gateway</html>",
      new Headers(),
      "GET /v1/model-endpoints",
    );
    expect(error.name).toBe("ServerError");
    expect(error.code).toBe("internal");
    expect(error.detail).toBe("<html>bad gateway</html>");
  });

  it("maps 409 to a ConflictError and 403 to an AuthenticationError", () => {
    expect(errorFromResponse(409, { detail: "deleting" }, new Headers(), "PUT /x").name).toBe(
      "ConflictError",
    );
    expect(errorFromResponse(403, { detail: "admins only" }, new Headers(), "GET /x").name).toBe(
      "AuthenticationError",
    );
  });

  it("reads Retry-After as seconds or as an HTTP date", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(retryAfterMs("1.5", now)).toBe(1500);
    expect(retryAfterMs("Thu, 01 Jan 2026 00:00:10 GMT", now)).toBe(10_000);
    expect(retryAfterMs("soon", now)).toBeUndefined();
    expect(retryAfterMs(null, now)).toBeUndefined();
  });
});

/** A port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}
