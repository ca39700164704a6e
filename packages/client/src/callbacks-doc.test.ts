/**
 * The user's document (`shared/seed/callbacks-doc.txt`), step by step through the SDK: a runnable-image
 * bundle `test-bundle`, an async endpoint with exactly the document's arguments and basic callback auth,
 * polling `status()` until READY, the same create again (`updateIfExists`: no duplicate), then an edit
 * of the default callback auth to mTLS with a real certificate and key.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../../server/src/testing/server.js";
import { LaunchClient } from "./client.js";
import type { AnyEndpoint } from "./endpoint.js";
import { PostInferenceHooks } from "./hooks.js";

/** A self-signed certificate and its private key, made by the openssl CLI. */
function makeCertificate(dir: string, name: string): { cert: string; key: string } {
  const keyFile = join(dir, `${name}.key.pem`);
  const certFile = join(dir, `${name}.cert.pem`);
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      keyFile,
      "-out",
      certFile,
      "-days",
      "2",
      "-subj",
      `/CN=${name}`,
    ],
    { stdio: "ignore" },
  );
  return { cert: readFileSync(certFile, "utf8"), key: readFileSync(keyFile, "utf8") };
}

/** Polls `status()` as the document does, until READY (the test timeout bounds it). */
async function waitUntilReady(endpoint: AnyEndpoint): Promise<void> {
  for (;;) {
    const status = await endpoint.status();
    if (status === "READY") return;
    if (status === "UPDATE_FAILED")
      throw new Error(`endpoint failed: ${endpoint.modelEndpoint.status_reason}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("the callbacks document, through the SDK", () => {
  let server: TestServer;
  let client: LaunchClient;
  let certDir: string;

  beforeAll(async () => {
    server = await startTestServer();
    client = new LaunchClient({
      apiKey: await server.createKey("doc-user", "doc-team"),
      endpoint: server.url,
    });
    certDir = mkdtempSync(join(tmpdir(), "launch-doc-certs-"));
  });
  afterAll(async () => {
    await server.close();
    rmSync(certDir, { recursive: true, force: true });
  });

  it("creates the endpoint with basic auth, re-runs the create, then switches to mTLS", async () => {
    await client.createModelBundleFromRunnableImageV2({
      modelBundleName: "test-bundle",
      requestSchema: { type: "object", properties: { x: { type: "integer" }, y: { type: "string" } } },
      responseSchema: { type: "integer" },
      repository: "python",
      tag: "3.12",
      command: ["python", "-m", "model_server"],
    });

    const create = () =>
      client.createModelEndpoint({
        endpointName: "demo-endpoint-callback",
        modelBundle: "test-bundle",
        cpus: 1,
        minWorkers: 1,
        endpointType: "async",
        updateIfExists: true,
        labels: { team: "MY_TEAM", product: "MY_PRODUCT" },
        postInferenceHooks: [PostInferenceHooks.CALLBACK],
        defaultCallbackUrl: "https://example.com",
        defaultCallbackAuthKind: "basic",
        defaultCallbackAuthUsername: "user",
        defaultCallbackAuthPassword: "password",
      });

    const endpoint = await create();
    expect(endpoint.endpointType).toBe("async");
    await waitUntilReady(endpoint);
    expect(endpoint.modelEndpoint).toMatchObject({
      name: "demo-endpoint-callback",
      endpoint_type: "async",
      bundle_name: "test-bundle",
      status: "READY",
      labels: { team: "MY_TEAM", product: "MY_PRODUCT" },
      post_inference_hooks: ["callback"],
      default_callback_url: "https://example.com",
      default_callback_auth: { kind: "basic", username: "user" },
      resource_state: { cpus: 1 },
      deployment_state: { min_workers: 1 },
    });
    expect(JSON.stringify(endpoint.modelEndpoint)).not.toContain('"password"');

    // The document runs the same create again: update_if_exists edits instead of duplicating.
    const again = await create();
    expect(again.id).toBe(endpoint.id);
    await waitUntilReady(again);
    expect((await client.listModelEndpoints()).map((e) => e.name)).toEqual(["demo-endpoint-callback"]);

    // Then it edits the default callback auth to mTLS, passing `endpoint.model_endpoint`.
    const { cert, key } = makeCertificate(certDir, "callback-client");
    const edited = await client.editModelEndpoint({
      modelEndpoint: endpoint.modelEndpoint,
      defaultCallbackAuthKind: "mtls",
      defaultCallbackAuthCert: cert,
      defaultCallbackAuthKey: key,
    });
    expect(edited.id).toBe(endpoint.id);
    await waitUntilReady(endpoint);
    expect(endpoint.modelEndpoint.default_callback_auth).toEqual({ kind: "mtls" });
    expect(endpoint.modelEndpoint).toMatchObject({
      labels: { team: "MY_TEAM", product: "MY_PRODUCT" },
      post_inference_hooks: ["callback"],
      default_callback_url: "https://example.com",
    });

    // The key is never shown again, in any view.
    const keyBody = key.split("\n").find((line) => line.length > 20 && !line.startsWith("-----"))!;
    for (const view of [
      endpoint.modelEndpoint,
      (await client.getModelEndpoint("demo-endpoint-callback")).modelEndpoint,
      ...(await client.listModelEndpoints()).map((e) => e.modelEndpoint),
    ]) {
      const text = JSON.stringify(view);
      expect(text).not.toContain(keyBody);
      expect(text).not.toContain("PRIVATE KEY");
    }
  });

  it("rejects an mTLS key that does not belong to the certificate, naming the field", async () => {
    const first = makeCertificate(certDir, "first");
    const second = makeCertificate(certDir, "second");
    const error = await client
      .editModelEndpoint({
        modelEndpoint: "demo-endpoint-callback",
        defaultCallbackAuthKind: "mtls",
        defaultCallbackAuthCert: first.cert,
        defaultCallbackAuthKey: second.key,
      })
      .then(
        () => undefined,
        (e: unknown) => e as { name: string; fields: { loc: (string | number)[] }[]; message: string },
      );
    expect(error?.name).toBe("ValidationError");
    expect(error?.fields.some((f) => f.loc.includes("default_callback_auth"))).toBe(true);
    expect(error?.message).not.toContain("PRIVATE KEY");
    // The endpoint keeps its previous mTLS credentials.
    const view = (await client.getModelEndpoint("demo-endpoint-callback")).modelEndpoint;
    expect(view.default_callback_auth).toEqual({ kind: "mtls" });
  });
});
