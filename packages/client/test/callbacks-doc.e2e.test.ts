/**
 * The user's callbacks document (`shared/seed/callbacks-doc.txt`), step by step through the TypeScript
 * SDK, against a real server with real workers and real HTTPS receivers whose certificates come from a
 * test CA made with openssl. `https://example.com` becomes a local HTTPS receiver; "cert" and "key"
 * become a real client certificate and key signed by the test CA.
 */
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTestPki, type TestPki } from "../../server/src/callbacks/testing-pki.js";
import { type ReceivedCallback, TestReceiver } from "../../server/src/callbacks/testing-receiver.js";
import { startTestServer, type TestServer } from "../../server/src/testing/server.js";
import { workerBinPath } from "../../worker/src/process/fork.js";
import { EndpointRequest, LaunchClient, PostInferenceHooks } from "../src/index.js";

const built = existsSync(workerBinPath());
const docModel = fileURLToPath(new URL("../../worker/fixtures/doc-model", import.meta.url));
const CLIENT_CN = "launch-callback-client";

async function callbackFor(
  receiver: TestReceiver,
  taskId: string,
  timeoutMs = 15_000,
): Promise<ReceivedCallback> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const hit = receiver.received.find((r) => r.body.includes(`"${taskId}"`));
    if (hit) return hit;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(
    `no callback for ${taskId}; received: ${JSON.stringify(receiver.received.map((r) => r.body))}`,
  );
}

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

describe.skipIf(!built && !process.env.CI)("the callbacks document through the SDK", () => {
  let dir: string;
  let pki: TestPki;
  let server: TestServer;
  let receiver: TestReceiver;
  let client: LaunchClient;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "launch-callbacks-doc-"));
    pki = makeTestPki(dir, CLIENT_CN);
    // Like https://example.com: accepts callbacks with or without a client certificate and records which.
    receiver = await TestReceiver.https({
      cert: pki.server.cert,
      key: pki.server.key,
      clientCa: pki.ca,
      requireClientCert: false,
    });
    server = await startTestServer({ overrides: { orchestration: "local", callbackCaFile: pki.caFile } });
    client = new LaunchClient({ apiKey: await server.createKey("me", "MY_TEAM"), endpoint: server.url });
    await client.createModelBundleFromDirsV2({
      modelBundleName: "test-bundle",
      baseDir: docModel,
      loadModelFnModulePath: "model.mjs#loadModel",
      loadPredictFnModulePath: "model.mjs#loadPredictFn",
    });
  });
  afterAll(async () => {
    await server?.close();
    await receiver?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("example 1: a default callback URL, then a per-task URL", async () => {
    const endpoint = await client.createModelEndpoint({
      endpointName: "demo-endpoint-callback",
      modelBundle: "test-bundle",
      cpus: 1,
      minWorkers: 1,
      endpointType: "async",
      updateIfExists: true,
      labels: { team: "MY_TEAM", product: "MY_PRODUCT" },
      postInferenceHooks: [PostInferenceHooks.CALLBACK],
      defaultCallbackUrl: receiver.url("/"),
    });
    await endpoint.waitUntilReady({ timeoutMs: 30_000 });

    const futureDefault = await endpoint.predict({
      request: new EndpointRequest({ args: { x: 2, y: "hello" } }),
    });
    expect((await futureDefault.get({ timeoutMs: 20_000 })).result).toBe(7);
    const first = await callbackFor(receiver, futureDefault.taskId);
    expect(first.path).toBe("/");
    expect(JSON.parse(first.body)).toEqual({ task_id: futureDefault.taskId, result: 7 });
    expect(first.headers["content-type"]).toBe("application/json");

    const futureCustom = await endpoint.predict({
      request: new EndpointRequest({ args: { x: 3, y: "hello" }, callbackUrl: receiver.url("/custom") }),
    });
    const second = await callbackFor(receiver, futureCustom.taskId);
    expect(second.path).toBe("/custom");
    expect(JSON.parse(second.body)).toEqual({ task_id: futureCustom.taskId, result: 8 });
  });

  it("example 2: basic default, per-task mTLS, an edit to an mTLS default, then per-task basic", async () => {
    const endpoint = await client.createModelEndpoint({
      endpointName: "demo-endpoint-callback",
      modelBundle: "test-bundle",
      cpus: 1,
      minWorkers: 1,
      endpointType: "async",
      updateIfExists: true,
      labels: { team: "MY_TEAM", product: "MY_PRODUCT" },
      postInferenceHooks: [PostInferenceHooks.CALLBACK],
      defaultCallbackUrl: receiver.url("/"),
      defaultCallbackAuthKind: "basic",
      defaultCallbackAuthUsername: "user",
      defaultCallbackAuthPassword: "password",
    });
    await endpoint.waitUntilReady({ timeoutMs: 30_000 });

    // A callback is sent with ("user", "password") as the basic auth.
    const a = await endpoint.predict({ request: new EndpointRequest({ args: { x: 2, y: "hello" } }) });
    const gotA = await callbackFor(receiver, a.taskId);
    expect(JSON.parse(gotA.body)).toEqual({ task_id: a.taskId, result: 7 });
    expect(gotA.headers.authorization).toBe(basic("user", "password"));
    expect(gotA.clientCn).toBeNull();

    // A callback is sent with mTLS authentication (the per-task override beats the basic default).
    const b = await endpoint.predict({
      request: new EndpointRequest({
        args: { x: 3, y: "hello" },
        callbackAuthKind: "mtls",
        callbackAuthCert: pki.client.cert,
        callbackAuthKey: pki.client.key,
      }),
    });
    const gotB = await callbackFor(receiver, b.taskId);
    expect(JSON.parse(gotB.body)).toEqual({ task_id: b.taskId, result: 8 });
    expect(gotB.clientCn).toBe(CLIENT_CN);
    expect(gotB.headers.authorization).toBeUndefined();

    await client.editModelEndpoint({
      modelEndpoint: endpoint.modelEndpoint.name,
      defaultCallbackAuthKind: "mtls",
      defaultCallbackAuthCert: pki.client.cert,
      defaultCallbackAuthKey: pki.client.key,
    });
    await endpoint.waitUntilReady({ timeoutMs: 30_000 });

    // A callback is sent with mTLS auth.
    const c = await endpoint.predict({ request: new EndpointRequest({ args: { x: 2, y: "hello" } }) });
    const gotC = await callbackFor(receiver, c.taskId);
    expect(JSON.parse(gotC.body)).toEqual({ task_id: c.taskId, result: 7 });
    expect(gotC.clientCn).toBe(CLIENT_CN);
    expect(gotC.headers.authorization).toBeUndefined();

    // A callback is sent with ("user", "pass") as the basic auth.
    const d = await endpoint.predict({
      request: new EndpointRequest({
        args: { x: 3, y: "hello" },
        callbackAuthKind: "basic",
        callbackAuthUsername: "user",
        callbackAuthPassword: "pass",
      }),
    });
    const gotD = await callbackFor(receiver, d.taskId);
    expect(JSON.parse(gotD.body)).toEqual({ task_id: d.taskId, result: 8 });
    expect(gotD.headers.authorization).toBe(basic("user", "pass"));
    expect(gotD.clientCn).toBeNull();

    // The view never shows the credentials.
    const view = JSON.stringify((await client.getModelEndpoint("demo-endpoint-callback")).modelEndpoint);
    expect(view).not.toContain("PRIVATE KEY");
    expect(view).not.toContain("password");
  });

  it("an mTLS receiver refuses a callback without a client certificate from its CA, and takes one with it", async () => {
    const strict = await TestReceiver.https({ cert: pki.server.cert, key: pki.server.key, clientCa: pki.ca });
    try {
      const endpoint = await client.createModelEndpoint({
        endpointName: "strict-mtls",
        modelBundle: "test-bundle",
        minWorkers: 1,
        endpointType: "async",
        postInferenceHooks: [PostInferenceHooks.CALLBACK],
        defaultCallbackUrl: strict.url("/"),
        defaultCallbackAuthKind: "basic",
        defaultCallbackAuthUsername: "user",
        defaultCallbackAuthPassword: "password",
      });
      await endpoint.waitUntilReady({ timeoutMs: 30_000 });
      const refused = await endpoint.predict({
        request: new EndpointRequest({ args: { x: 2, y: "hello" } }),
      });
      await refused.get({ timeoutMs: 20_000 });
      const deadline = Date.now() + 15_000;
      let attempts: { error_class: string | null }[] = [];
      while (Date.now() < deadline && attempts.length === 0) {
        const [delivery] = await client.getTaskCallbacks(refused.taskId);
        attempts = delivery?.attempts ?? [];
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(attempts[0]?.error_class).toBeTruthy();
      expect(strict.received).toHaveLength(0);
      expect(strict.tlsClientErrors).toBeGreaterThan(0);

      const accepted = await endpoint.predict({
        request: new EndpointRequest({
          args: { x: 3, y: "hello" },
          callbackAuthKind: "mtls",
          callbackAuthCert: pki.client.cert,
          callbackAuthKey: pki.client.key,
        }),
      });
      const got = await callbackFor(strict, accepted.taskId);
      expect(got.clientCn).toBe(CLIENT_CN);
      expect(JSON.parse(got.body)).toEqual({ task_id: accepted.taskId, result: 8 });
    } finally {
      await strict.close();
    }
  });

  it("sends nothing without the callback hook, even with both URLs", async () => {
    const endpoint = await client.createModelEndpoint({
      endpointName: "no-hook",
      modelBundle: "test-bundle",
      minWorkers: 1,
      endpointType: "async",
      defaultCallbackUrl: receiver.url("/no-hook"),
    });
    await endpoint.waitUntilReady({ timeoutMs: 30_000 });
    const future = await endpoint.predict({
      request: new EndpointRequest({
        args: { x: 2, y: "hello" },
        callbackUrl: receiver.url("/no-hook-task"),
      }),
    });
    expect((await future.get({ timeoutMs: 20_000 })).result).toBe(7);
    expect(await client.getTaskCallbacks(future.taskId)).toEqual([]);
    await new Promise((r) => setTimeout(r, 300));
    expect(receiver.received.some((r) => r.body.includes(future.taskId))).toBe(false);
  });
});
