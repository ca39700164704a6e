/**
 * Sync and streaming tasks through the service: endpoints from a real server's store, a real HTTP server
 * standing in for a worker's port, and a lender in place of the orchestrator (which runs no workers here).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SecretsBox } from "../domain/secrets-box.js";
import type { WorkerLoan } from "../orchestration/port.js";
import { startTestServer, type TestServer } from "../testing/server.js";
import { outputsAsStrings, type SyncTaskFinished, SyncTaskService } from "./sync-tasks.js";
import { WorkerPools } from "./worker-pools.js";

let server: TestServer;
let worker: Server;
let workerUrl: string;
let pools: WorkerPools;
let key: string;
const caller = { userId: "alice", teamId: "ml" };
/** What the worker answers to /predict, and the bodies it received. */
let answer = "";
const received: string[] = [];

async function endpoint(body: Record<string, unknown>): Promise<string> {
  const bundle = await server.request("POST", "/v2/model-bundles", {
    key,
    body: {
      name: "b",
      schema_location: "s3://x/y.json",
      flavor: { flavor: "runnable_image", repository: "r", tag: "1", command: ["serve"] },
    },
  });
  const res = await server.request("POST", "/v1/model-endpoints", {
    key,
    body: {
      name: `ep-${Math.random().toString(36).slice(2, 10)}`,
      model_bundle_id: bundle.body.model_bundle_id,
      endpoint_type: "sync",
      metadata: {},
      cpus: 1,
      gpus: 0,
      memory: "1Gi",
      storage: "1Gi",
      min_workers: 1,
      max_workers: 1,
      per_worker: 1,
      labels: {},
      ...body,
    },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.endpoint_creation_task_id;
}

function service(options: { resultsAsString?: boolean; afterSyncTask?: (f: SyncTaskFinished) => void } = {}) {
  const lend = async (): Promise<WorkerLoan> => ({ workerId: "w1", url: workerUrl, release: () => {} });
  return new SyncTaskService({
    store: server.store,
    orchestrator: { acquireWorker: lend },
    pools,
    secrets: SecretsBox.fromConfig({ secretsKey: server.config.secretsKey, dataDir: server.dataDir }),
    config: { resultsAsString: options.resultsAsString ?? false },
    afterSyncTask: options.afterSyncTask,
  });
}

beforeAll(async () => {
  server = await startTestServer({ overrides: { orchestration: "none" } });
  key = await server.createKey(caller.userId, caller.teamId);
  worker = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => {
      body += chunk.toString("utf8");
    });
    req.on("end", () => {
      received.push(body);
      res.writeHead(200, { "content-type": "application/json" });
      res.end(answer);
    });
  });
  await new Promise<void>((resolve) => worker.listen(0, "127.0.0.1", resolve));
  workerUrl = `http://127.0.0.1:${(worker.address() as AddressInfo).port}`;
  pools = new WorkerPools();
});

afterAll(async () => {
  await pools?.close();
  worker?.closeAllConnections();
  await new Promise<void>((resolve) => (worker ? worker.close(() => resolve()) : resolve()));
  await server?.close();
});

describe("SyncTaskService.predict", () => {
  it("sends the worker only the input, and answers its bytes untouched", async () => {
    const id = await endpoint({});
    answer = '{"status":"SUCCESS","result":{"result":7},"traceback":null,"status_code":200}';
    const json = await service().predict(caller, id, {
      args: { x: 2, y: "hello" },
      callback_url: "https://example.com/cb",
      timeout_seconds: 5,
    });
    expect(json).toBe(answer);
    expect(received.at(-1)).toBe('{"args":{"x":2,"y":"hello"}}');
  });

  it("with results_as_string, answers result.result as Python JSON text and leaves failures alone", async () => {
    const id = await endpoint({});
    answer = '{"status":"SUCCESS","result":{"result":{"y":1,"z":"é"}},"traceback":null,"status_code":200}';
    const json = await service({ resultsAsString: true }).predict(caller, id, { args: 1 });
    expect(JSON.parse(json)).toEqual({
      status: "SUCCESS",
      result: { result: '{"y": 1, "z": "\\u00e9"}' },
      traceback: null,
      status_code: 200,
    });
    answer = '{"status":"FAILURE","result":null,"traceback":"boom","status_code":500,"error":"boom"}';
    expect(await service({ resultsAsString: true }).predict(caller, id, { args: 1 })).toBe(answer);
  });

  it("hands answered tasks of endpoints with hooks to the post-inference seam, credentials sealed", async () => {
    const seen: SyncTaskFinished[] = [];
    const withHooks = await endpoint({
      post_inference_hooks: ["callback"],
      default_callback_url: "https://e.com",
    });
    const without = await endpoint({});
    answer = '{"status":"SUCCESS","result":{"result":1},"traceback":null,"status_code":200}';
    const sync = service({ afterSyncTask: (finished) => seen.push(finished) });
    await sync.predict(caller, without, { args: 1 });
    expect(seen).toHaveLength(0);
    await sync.predict(caller, withHooks, {
      args: 1,
      callback_auth: { kind: "basic", username: "u", password: "hidden-pass" },
    });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({
      endpoint: { id: withHooks },
      caller,
      response: answer,
      payload: { args: 1, callback: { url: null, auth: { kind: "basic", username: "u" } } },
    });
    expect(JSON.stringify(seen[0]?.payload)).not.toContain("hidden-pass");
  });
});

describe("outputsAsStrings", () => {
  it("turns only a SUCCESS answer's result.result into text, keeping other keys", () => {
    expect(
      outputsAsStrings(
        '{"status":"SUCCESS","result":{"result":[1,2]},"traceback":null,"status_code":200,"x":1}',
      ),
    ).toBe('{"status":"SUCCESS","result":{"result":"[1, 2]"},"traceback":null,"status_code":200,"x":1}');
    const pickled =
      '{"status":"SUCCESS","result":{"result_url":"s3://b/k"},"traceback":null,"status_code":200}';
    expect(outputsAsStrings(pickled)).toBe(pickled);
    const failure = '{"status":"FAILURE","result":null,"traceback":"t","status_code":500}';
    expect(outputsAsStrings(failure)).toBe(failure);
  });
});
