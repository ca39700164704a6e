/**
 * Helpers for tests that run real workers: bundles made from the worker package's fixtures, endpoints,
 * and waiting for an endpoint or a task to reach a state.
 */
import { readdir, readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import type { Endpoint, EndpointType } from "@launch/protocol";
import { zipFiles } from "@launch/protocol";
import { fixturePath } from "@launch/worker";
import type { TestServer } from "./server.js";

/** What these helpers need of a server: a way to call its routes. */
export type RouteCaller = Pick<TestServer, "request">;

/** Uploads bytes through the upload route (as the Python client does) and returns the `s3://` location. */
export async function uploadBytes(server: RouteCaller, key: string, bytes: Uint8Array): Promise<string> {
  const grant = await server.request("POST", "/v1/hosted_inference/model_bundle_upload", { key, body: {} });
  if (grant.status !== 200)
    throw new Error(`upload grant failed: ${grant.status} ${JSON.stringify(grant.body)}`);
  const put = await fetch(grant.body.signedUrl, { method: "PUT", body: bytes });
  if (!put.ok) throw new Error(`upload PUT failed: ${put.status}`);
  return `s3://${grant.body.bucket}/${grant.body.key}`;
}

async function zipDirectory(dir: string): Promise<Uint8Array> {
  const entries: { path: string; data: Uint8Array }[] = [];
  const walk = async (at: string): Promise<void> => {
    for (const entry of await readdir(at, { withFileTypes: true })) {
      const full = join(at, entry.name);
      if (entry.isDirectory()) await walk(full);
      else entries.push({ path: relative(dir, full), data: await readFile(full) });
    }
  };
  await walk(dir);
  return zipFiles(entries);
}

async function createBundle(server: RouteCaller, key: string, body: unknown): Promise<string> {
  const res = await server.request("POST", "/v2/model-bundles", { key, body });
  if (res.status !== 200) throw new Error(`bundle create failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.model_bundle_id as string;
}

/** The document's model (`x + len(y)`) as a Node bundle; `streaming` picks its streaming predict. */
export async function createNodeDocBundle(
  server: RouteCaller,
  key: string,
  options: { name?: string; streaming?: boolean } = {},
): Promise<string> {
  const location = await uploadBytes(server, key, await zipDirectory(fixturePath("doc-model")));
  return createBundle(server, key, {
    name: options.name ?? "test-bundle",
    schema_location: location,
    flavor: {
      flavor: "zip_artifact",
      requirements: [],
      framework: { framework_type: "node" },
      location,
      load_model_fn_module_path: "model.mjs#loadModel",
      load_predict_fn_module_path: options.streaming
        ? "model.mjs#loadStreamingPredictFn"
        : "model.mjs#loadPredictFn",
      app_config: null,
    },
  });
}

/** A runnable-image bundle whose command runs one of the worker fixtures with this Node. */
export async function createFixtureImageBundle(
  server: RouteCaller,
  key: string,
  fixture: "doc-model-server.mjs" | "echo-server.mjs" | "crash.mjs" | "never-healthy.mjs",
  options: { name?: string; streaming?: boolean; readinessSeconds?: number } = {},
): Promise<string> {
  const command = [process.execPath, fixturePath(fixture)];
  const flavor = options.streaming
    ? { flavor: "streaming_enhanced_runnable_image", command: [], streaming_command: command }
    : { flavor: "runnable_image", command };
  return createBundle(server, key, {
    name: options.name ?? fixture.replace(/\W/g, "-"),
    schema_location: "s3://launch/none",
    flavor: {
      repository: "local",
      tag: "test",
      readiness_initial_delay_seconds: options.readinessSeconds ?? 10,
      ...flavor,
    },
  });
}

/** Creates an endpoint with small defaults and returns its id. */
export async function createEndpoint(
  server: RouteCaller,
  key: string,
  body: {
    name: string;
    bundleId: string;
    type?: EndpointType;
    min?: number;
    max?: number;
    perWorker?: number;
  } & Record<string, unknown>,
): Promise<string> {
  const { name, bundleId, type, min, max, perWorker, ...rest } = body;
  const res = await server.request("POST", "/v1/model-endpoints", {
    key,
    body: {
      name,
      model_bundle_id: bundleId,
      endpoint_type: type ?? "async",
      metadata: {},
      cpus: 1,
      gpus: 0,
      memory: "1Gi",
      storage: "1Gi",
      min_workers: min ?? 1,
      max_workers: max ?? Math.max(1, min ?? 1),
      per_worker: perWorker ?? 1,
      labels: {},
      ...rest,
    },
  });
  if (res.status !== 200)
    throw new Error(`endpoint create failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.endpoint_creation_task_id as string;
}

/** Polls the endpoint until `until` holds (or throws with its last view after `timeoutMs`). */
export async function waitForEndpoint(
  server: RouteCaller,
  key: string,
  id: string,
  until: (endpoint: Endpoint) => boolean,
  timeoutMs = 20_000,
): Promise<Endpoint> {
  const deadline = Date.now() + timeoutMs;
  let last: Endpoint | undefined;
  while (Date.now() < deadline) {
    const res = await server.request("GET", `/v1/model-endpoints/${id}`, { key });
    last = res.body as Endpoint;
    if (res.status === 200 && until(last)) return last;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`endpoint ${id} did not reach the expected state; last view: ${JSON.stringify(last)}`);
}

/** READY with at least `workers` available. */
export const readyWith =
  (workers = 1) =>
  (endpoint: Endpoint): boolean =>
    endpoint.status === "READY" && endpoint.deployment_state.available_workers >= workers;

/** Submits an async task and returns its id. */
export async function submitTask(
  server: RouteCaller,
  key: string,
  endpointId: string,
  body: unknown,
): Promise<string> {
  const res = await server.request("POST", `/v1/async-tasks?model_endpoint_id=${endpointId}`, { key, body });
  if (res.status !== 200) throw new Error(`task submit failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.task_id as string;
}

/** A task's response body (`result` is left loose: tests check its shape). */
export interface TaskBody {
  task_id: string;
  status: string;
  // biome-ignore lint/suspicious/noExplicitAny: results are whatever the model returned; tests assert them.
  result: any;
  traceback: string | null;
  status_code: number | null;
}

/** Waits (long-polling) until the task is finished and returns its response body. */
export async function waitForTask(
  server: RouteCaller,
  key: string,
  taskId: string,
  timeoutMs = 20_000,
): Promise<TaskBody> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await server.request("GET", `/v1/async-tasks/${taskId}?wait=5`, { key });
    if (res.status !== 200) throw new Error(`task get failed: ${res.status} ${JSON.stringify(res.body)}`);
    if (!["PENDING", "STARTED"].includes(res.body.status) || Date.now() > deadline) return res.body;
  }
}
