import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { LaunchClient } from "@launch/client";
import { startTestServer, type TestServer } from "@launch/server";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  endpointView,
  startTaskRouteServer,
  type TaskRouteServer,
} from "../../../client/test/task-route-server.js";
import { selfSignedCertificate } from "../../../server/src/testing/certs.js";
import { runCli } from "../run.js";
import { memoryIo } from "../test-io.js";

const DOC_MODEL = fileURLToPath(new URL("../../../worker/fixtures/doc-model/", import.meta.url));

describe("launch bundles create-from-dir and launch endpoints create|edit against a real server", () => {
  let server: TestServer;
  let client: LaunchClient;
  let env: Record<string, string>;
  let certDir: string;

  beforeAll(async () => {
    server = await startTestServer({ overrides: { orchestration: "local" } });
    const key = await server.createKey("alice", "ml");
    env = { LAUNCH_API_KEY: key, LAUNCH_ENDPOINT: server.url };
    client = new LaunchClient({ apiKey: key, endpoint: server.url });
    certDir = await mkdtemp(join(tmpdir(), "launch-cli-certs-"));
  });
  afterAll(async () => {
    await server?.close();
    await rm(certDir, { recursive: true, force: true });
  });

  const run = async (args: string[]) => {
    const io = memoryIo(env);
    const code = await runCli(args, io);
    return { code, stdout: io.stdoutText(), stderr: io.stderrText() };
  };

  it("bundles create-from-dir packs the directory into a Node bundle", async () => {
    const result = await run([
      "bundles",
      "create-from-dir",
      DOC_MODEL,
      "--name",
      "test-bundle",
      "--load-model",
      "model.mjs#loadModel",
      "--load-predict",
      "model.mjs#loadPredictFn",
      "--app-config",
      '{"scale": 1}',
    ]);
    expect(result).toMatchObject({ code: 0, stderr: "" });
    expect(result.stdout).toMatch(/^Created bundle test-bundle \(bun_\w+\)\.\n$/);
    const bundle = await client.getLatestModelBundleV2("test-bundle");
    expect(bundle.flavor).toMatchObject({
      flavor: "zip_artifact",
      framework: { framework_type: "node" },
      load_model_fn_module_path: "model.mjs#loadModel",
      load_predict_fn_module_path: "model.mjs#loadPredictFn",
      app_config: { scale: 1 },
    });

    const typo = await run([
      "bundles",
      "create-from-dir",
      DOC_MODEL,
      "--name",
      "typo",
      "--load-model",
      "model.mjs#loadModel",
      "--load-predict",
      "nope.mjs#loadPredictFn",
    ]);
    expect(typo.code).toBe(1);
    expect(typo.stderr).toContain("loadPredictFnModulePath: nope.mjs is not among the bundled files");
  });

  it("endpoints create --wait follows the deployment on stderr until READY", async () => {
    const result = await run([
      "endpoints",
      "create",
      "doc-async",
      "--bundle",
      "test-bundle",
      "--type",
      "async",
      "--min-workers",
      "1",
      "--max-workers",
      "2",
      "--per-worker",
      "4",
      "--cpus",
      "500m",
      "--memory",
      "1Gi",
      "--label",
      "team=MY_TEAM",
      "--label",
      "product=MY_PRODUCT",
      "--hook",
      "callback",
      "--callback-url",
      "https://example.com/callback",
      "--callback-auth",
      "basic",
      "--callback-username",
      "user",
      "--callback-password",
      "hunter2-secret",
      "--wait",
      "--timeout",
      "60",
    ]);
    expect(result.code).toBe(0);
    const progress = result.stderr.trimEnd().split("\n");
    expect(progress.at(-1)).toMatch(/^READY\s+workers \d+\/1$/);
    expect(result.stdout).toMatch(/^Created endpoint doc-async \(end_\w+\): READY, workers \d+\/1\.\n$/);
    expect(`${result.stdout}${result.stderr}`).not.toContain("hunter2-secret");

    const view = (await client.getModelEndpoint("doc-async")).modelEndpoint;
    expect(view).toMatchObject({
      endpoint_type: "async",
      bundle_name: "test-bundle",
      labels: { team: "MY_TEAM", product: "MY_PRODUCT" },
      post_inference_hooks: ["callback"],
      default_callback_url: "https://example.com/callback",
      default_callback_auth: { kind: "basic", username: "user" },
      deployment_state: { min_workers: 1, max_workers: 2, per_worker: 4 },
      resource_state: { cpus: "500m", memory: "1Gi" },
    });
  });

  it("endpoints edit changes only the given fields, merges labels, and switches to mTLS from files", async () => {
    const { cert, key } = selfSignedCertificate("callback-client");
    const certFile = join(certDir, "client.cert.pem");
    const keyFile = join(certDir, "client.key.pem");
    await writeFile(certFile, cert);
    await writeFile(keyFile, key);
    const result = await run([
      "endpoints",
      "edit",
      "doc-async",
      "--max-workers",
      "3",
      "--cpus",
      "1",
      "--label",
      "stage=test",
      "--callback-auth",
      "mtls",
      "--callback-cert-file",
      certFile,
      "--callback-key-file",
      keyFile,
      "--wait",
      "--json",
    ]);
    expect(result.code).toBe(0);
    expect(result.stdout).not.toContain("PRIVATE KEY");
    const view = JSON.parse(result.stdout);
    expect(view).toMatchObject({
      status: "READY",
      labels: { team: "MY_TEAM", product: "MY_PRODUCT", stage: "test" },
      default_callback_auth: { kind: "mtls" },
      deployment_state: { min_workers: 1, max_workers: 3, per_worker: 4 },
      resource_state: { cpus: 1, memory: "1Gi" },
    });
  });

  it("usage mistakes name the flag", async () => {
    const missingBundle = await run(["endpoints", "create", "x"]);
    expect(missingBundle.code).toBe(2);
    expect(missingBundle.stderr).toContain("--bundle");

    const badCount = await run([
      "endpoints",
      "create",
      "x",
      "--bundle",
      "test-bundle",
      "--min-workers",
      "-1",
    ]);
    expect(badCount.code).toBe(2);
    expect(badCount.stderr).toContain("expected a whole number of at least 0");

    const badLabel = await run(["endpoints", "edit", "doc-async", "--label", "novalue"]);
    expect(badLabel.code).toBe(2);
    expect(badLabel.stderr).toContain("expected key=value");

    const noCert = await run([
      "endpoints",
      "edit",
      "doc-async",
      "--callback-auth",
      "mtls",
      "--callback-cert-file",
      "/nonexistent.pem",
    ]);
    expect(noCert.code).toBe(2);
    expect(noCert.stderr).toContain("--callback-cert-file: cannot read /nonexistent.pem (ENOENT)");

    const orphan = await run(["endpoints", "edit", "doc-async", "--callback-password", "p"]);
    expect(orphan.code).toBe(1);
    expect(orphan.stderr).toContain("defaultCallbackAuthPassword needs defaultCallbackAuthKind");
  });
});

describe("launch endpoints create --wait on a real server, for a bundle that cannot load", () => {
  let server: TestServer;
  let dir: string;

  beforeAll(async () => {
    // One failed start is enough to give up, so the test does not sit through restart backoff.
    server = await startTestServer({ overrides: { orchestration: "local", workerMaxRestarts: 0 } });
    dir = await mkdtemp(join(tmpdir(), "launch-cli-broken-"));
    await writeFile(
      join(dir, "model.mjs"),
      'import leftPad from "left-pad-not-installed";\nexport const loadModel = () => leftPad;\nexport const loadPredictFn = (m) => m;\n',
    );
  });
  afterAll(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("prints UPDATE_FAILED with the reason quoting the error, and exits 1", {
    timeout: 120_000,
  }, async () => {
    const io = memoryIo({
      LAUNCH_API_KEY: await server.createKey("alice", "ml"),
      LAUNCH_ENDPOINT: server.url,
    });
    const bundle = ["bundles", "create-from-dir", dir, "--name", "broken"];
    const modules = ["--load-model", "model.mjs#loadModel", "--load-predict", "model.mjs#loadPredictFn"];
    expect(await runCli([...bundle, ...modules], io)).toBe(0);
    const code = await runCli(
      ["endpoints", "create", "broken", "--bundle", "broken", "--type", "async", "--wait", "--timeout", "90"],
      io,
    );
    expect(code).toBe(1);
    const stderr = io.stderrText();
    expect(stderr).toMatch(/^UPDATE_FAILED\s+workers 0\/1$/m);
    expect(stderr).toMatch(/^UPDATE_FAILED: .*left-pad-not-installed/ms);
    expect(stderr).toContain("error: endpoint broken did not become READY (UPDATE_FAILED)");
  });
});

describe("launch endpoints edit --wait on a deployment that fails", () => {
  const ID = "end_01jdq9z6v4k3m8n2p5r7s9t1aa";
  let server: TaskRouteServer;

  beforeEach(async () => {
    server = await startTaskRouteServer();
  });
  afterEach(async () => {
    await server.close();
  });

  it("shows each change of status and workers, then the full reason, and exits 1", async () => {
    const base = endpointView({ id: ID, name: "doc-async" });
    const at = (status: typeof base.status, available: number, reason: string | null = null) =>
      endpointView({
        id: ID,
        name: "doc-async",
        status,
        status_reason: reason,
        deployment_state: { ...base.deployment_state, min_workers: 2, available_workers: available },
      });
    const reason = "worker exited with code 1; last stderr lines:\nError: Cannot find module 'left-pad'";
    server.endpoints.set(ID, [
      at("READY", 2), // the lookup before the edit
      at("UPDATE_PENDING", 0), // the view after the edit
      at("UPDATE_PENDING", 0),
      at("UPDATE_IN_PROGRESS", 0),
      at("UPDATE_IN_PROGRESS", 0),
      at("UPDATE_IN_PROGRESS", 1),
      at("UPDATE_FAILED", 1, reason),
    ]);
    const io = memoryIo({ LAUNCH_API_KEY: "lk_test", LAUNCH_ENDPOINT: server.url });
    const code = await runCli(["endpoints", "edit", ID, "--min-workers", "2", "--wait"], io);
    expect(code).toBe(1);
    expect(io.stdoutText()).toBe("");
    expect(io.stderrText().split("\n")).toEqual([
      "UPDATE_PENDING      workers 0/2",
      "UPDATE_IN_PROGRESS  workers 0/2",
      "UPDATE_IN_PROGRESS  workers 1/2",
      "UPDATE_FAILED       workers 1/2",
      "UPDATE_FAILED: worker exited with code 1; last stderr lines:",
      "Error: Cannot find module 'left-pad'",
      "error: endpoint doc-async did not become READY (UPDATE_FAILED)",
      "",
    ]);
    const put = server.requests.find((r) => r.method === "PUT");
    expect(put?.body).toEqual({ min_workers: 2 });
  });
});
