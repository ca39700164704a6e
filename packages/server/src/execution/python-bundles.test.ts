/**
 * Python bundles end to end, the way the Launch Python client makes them: the document's bundle is
 * pickled by the host's python3 as `create_model_bundle_from_callable_v2` does (a dict of
 * `load_model_fn` and `load_predict_fn`), uploaded through the upload route, registered as a v2
 * `cloudpickle_artifact` bundle, and served by a real `launch-worker` running the Python harness. The
 * async endpoint has the `callback` hook, so 7 arrives both in the task and at the receiver.
 */

import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Endpoint } from "@launch/protocol";
import { type BundleVariant, hostPythonMinor, otherPython, pickleBundle } from "@launch/worker";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestReceiver } from "../callbacks/testing-receiver.js";
import {
  createEndpoint,
  type RouteCaller,
  readyWith,
  submitTask,
  uploadBytes,
  waitForEndpoint,
  waitForTask,
} from "../testing/bundles.js";
import { basicAuth, startTestServer, type TestServer } from "../testing/server.js";
import { workerBinPath } from "./worker-bin.js";

const built = (() => {
  try {
    return existsSync(workerBinPath());
  } catch {
    return false;
  }
})();

const scratch = mkdtempSync(join(tmpdir(), "launch-py-e2e-"));

/** The request/response schema the client uploads first (any JSON will do for the server). */
const SCHEMA = JSON.stringify({ request_schema: { type: "object" }, response_schema: { type: "integer" } });

/** Pickles `variant`, uploads it and the schema as the client does, and creates the v2 bundle. */
async function createCloudpickleBundle(
  server: RouteCaller,
  key: string,
  name: string,
  pickle: string,
): Promise<string> {
  const schemaLocation = await uploadBytes(server, key, Buffer.from(SCHEMA));
  const location = await uploadBytes(server, key, readFileSync(pickle));
  const res = await server.request("POST", "/v2/model-bundles", {
    key,
    body: {
      name,
      schema_location: schemaLocation,
      metadata: {},
      flavor: {
        flavor: "cloudpickle_artifact",
        requirements: [],
        framework: { framework_type: "pytorch", pytorch_image_tag: "1.7.1-cuda11.0-cudnn8-runtime" },
        location,
        load_predict_fn: "def load_predict_fn(model): ...",
        load_model_fn: "def load_model_fn(): ...",
        app_config: null,
      },
    },
  });
  if (res.status !== 200) throw new Error(`bundle create failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.model_bundle_id as string;
}

/** Downloads a result_url through the artifacts route and unpickles it with python3 (printed with str()). */
async function downloadUnpickled(server: TestServer, key: string, resultUrl: string): Promise<string> {
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(resultUrl);
  if (!match) throw new Error(`not an s3 location: ${resultUrl}`);
  const download = await fetch(`${server.url}/v1/artifacts/${match[1]}/${match[2]}`, {
    headers: { authorization: basicAuth(key) },
  });
  if (download.status !== 200) throw new Error(`download failed: ${download.status}`);
  return execFileSync(
    "python3",
    ["-c", "import sys, cloudpickle; print(cloudpickle.loads(sys.stdin.buffer.read()))"],
    { input: Buffer.from(await download.arrayBuffer()), encoding: "utf8" },
  ).trim();
}

function pickled(variant: BundleVariant): string {
  return pickleBundle(join(scratch, `${variant}.pkl`), variant);
}

describe.skipIf(!built && !process.env.CI)("Python bundles made like the Python client's", () => {
  let server: TestServer;
  let key: string;
  let receiver: TestReceiver;
  let docBundle: string;

  beforeAll(async () => {
    server = await startTestServer({ overrides: { orchestration: "local", workerDrainSeconds: 2 } });
    key = await server.createKey("alice", "ml");
    receiver = await TestReceiver.http();
    docBundle = await createCloudpickleBundle(server, key, "test-bundle", pickled("doc"));
  });

  afterAll(async () => {
    await server?.close();
    await receiver?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  it("answers async tasks with the document's values, in the task and in the callback", async () => {
    const endpointId = await createEndpoint(server, key, {
      name: "py-async",
      bundleId: docBundle,
      post_inference_hooks: ["callback"],
      default_callback_url: receiver.url("/py"),
    });
    await waitForEndpoint(server, key, endpointId, readyWith(1), 60_000);
    const first = await submitTask(server, key, endpointId, { args: { x: 2, y: "hello" } });
    const second = await submitTask(server, key, endpointId, { args: { x: 3, y: "hello" } });
    expect(await waitForTask(server, key, first)).toEqual({
      task_id: first,
      status: "SUCCESS",
      result: { result: 7 },
      traceback: null,
      status_code: 200,
    });
    expect((await waitForTask(server, key, second)).result).toEqual({ result: 8 });
    const deadline = Date.now() + 10_000;
    while (receiver.received.filter((r) => r.path === "/py").length < 2 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const bodies = receiver.received.filter((r) => r.path === "/py").map((r) => JSON.parse(r.body));
    expect(bodies).toEqual(
      expect.arrayContaining([
        { task_id: first, result: 7 },
        { task_id: second, result: 8 },
      ]),
    );
  }, 90_000);

  it("answers sync tasks with the reference's wrapping", async () => {
    const endpointId = await createEndpoint(server, key, {
      name: "py-sync",
      bundleId: docBundle,
      type: "sync",
    });
    await waitForEndpoint(server, key, endpointId, readyWith(1), 60_000);
    const res = await fetch(`${server.url}/v1/sync-tasks?model_endpoint_id=${endpointId}`, {
      method: "POST",
      headers: { authorization: basicAuth(key), "content-type": "application/json" },
      body: JSON.stringify({ args: { x: 3, y: "hello" } }),
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(
      '{"status":"SUCCESS","result":{"result":8},"traceback":null,"status_code":200}',
    );
    const pickled = await fetch(`${server.url}/v1/sync-tasks?model_endpoint_id=${endpointId}`, {
      method: "POST",
      headers: { authorization: basicAuth(key), "content-type": "application/json" },
      body: JSON.stringify({ args: { x: 3, y: "hello" }, return_pickled: true }),
    });
    const body = (await pickled.json()) as { status: string; result: { result_url: string } };
    expect(body.status).toBe("SUCCESS");
    expect(Object.keys(body.result)).toEqual(["result_url"]);
    expect(await downloadUnpickled(server, key, body.result.result_url)).toBe("8");
  }, 90_000);

  it("stores a return_pickled output and answers its result_url, which the owner can download", async () => {
    const endpointId = await createEndpoint(server, key, { name: "py-pickled", bundleId: docBundle });
    await waitForEndpoint(server, key, endpointId, readyWith(1), 60_000);
    const taskId = await submitTask(server, key, endpointId, {
      args: { x: 2, y: "hello" },
      return_pickled: true,
    });
    const task = await waitForTask(server, key, taskId);
    expect(task.status).toBe("SUCCESS");
    expect(Object.keys(task.result)).toEqual(["result_url"]);
    expect(await downloadUnpickled(server, key, task.result.result_url)).toBe("7");
    const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(task.result.result_url as string);
    const other = await server.createKey("mallory", "other-team");
    const stolen = await fetch(`${server.url}/v1/artifacts/${match![1]}/${match![2]}`, {
      headers: { authorization: basicAuth(other) },
    });
    expect(stolen.status).toBe(404);
  }, 90_000);

  it("fails a task whose predict raises with FAILURE and the Python traceback", async () => {
    const bundleId = await createCloudpickleBundle(server, key, "raises", pickled("raises"));
    const endpointId = await createEndpoint(server, key, { name: "py-raises", bundleId });
    await waitForEndpoint(server, key, endpointId, readyWith(1), 60_000);
    const taskId = await submitTask(server, key, endpointId, { args: { x: 2, y: "hello" } });
    const task = await waitForTask(server, key, taskId, 60_000);
    expect(task.status).toBe("FAILURE");
    expect(task.result).toBe("division by zero");
    expect(task.traceback).toMatch(/^Traceback \(most recent call last\):/);
    expect(task.traceback).toContain("ZeroDivisionError: division by zero");
  }, 120_000);

  it("fails the endpoint with a status_reason naming the version mismatch for a bundle pickled by another Python", async () => {
    const other = otherPython(scratch, ["3.12", "3.10"]);
    if (!other) {
      if (process.env.CI) throw new Error("CI needs a second Python minor version (pyenv) for this test");
      console.warn("skipped: no other Python minor version on this host (install one with pyenv)");
      return;
    }
    const pickle = pickleBundle(join(scratch, `doc-${other.minor}.pkl`), "doc", other.python, other.env);
    const bundleId = await createCloudpickleBundle(server, key, "other-python", pickle);
    const endpointId = await createEndpoint(server, key, { name: "py-other-version", bundleId });
    const endpoint: Endpoint = await waitForEndpoint(
      server,
      key,
      endpointId,
      (e) => e.status === "UPDATE_FAILED",
      90_000,
    );
    expect(endpoint.status_reason).toMatch(/pickled under another Python minor version/);
    expect(endpoint.status_reason).toContain(`Python ${hostPythonMinor()}`);
  }, 120_000);
});
