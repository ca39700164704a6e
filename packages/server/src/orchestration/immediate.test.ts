import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { EndpointStatus } from "@launch/protocol";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openStore } from "../store/open.js";
import type { EndpointRecord, Store } from "../store/port.js";
import { ImmediateOrchestrator } from "./immediate.js";

let dataDir: string;
let store: Store;
let orchestrator: ImmediateOrchestrator;
const now = () => new Date("2026-03-01T12:00:00.000Z");

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "launch-orchestrator-"));
  store = await openStore({ databaseUrl: "", dataDir });
  orchestrator = new ImmediateOrchestrator({ store, now });
});

afterEach(async () => {
  await orchestrator.close();
  await store.close();
  await rm(dataDir, { recursive: true, force: true });
});

function endpoint(id: string, status: EndpointStatus): EndpointRecord {
  return {
    id,
    owner: "team",
    createdBy: "user",
    name: id.replace("_", "-"),
    endpointType: "async",
    status,
    statusReason: null,
    spec: {
      modelBundleId: "bun_1",
      metadata: {},
      cpus: 1,
      gpus: 0,
      memory: "1Gi",
      storage: "1Gi",
      gpuType: null,
      minWorkers: 1,
      maxWorkers: 1,
      perWorker: 1,
      concurrentRequestsPerWorker: null,
      labels: {},
      postInferenceHooks: null,
      defaultCallbackUrl: null,
      defaultCallbackAuth: null,
      callbackEvents: null,
      publicInference: false,
      highPriority: null,
      prewarm: null,
      billingTags: null,
      optimizeCosts: null,
      forwarderMaxConcurrency: null,
      taskExpiresSeconds: null,
      queueMessageTimeoutSeconds: null,
      nodesPerWorker: 1,
    },
    version: 1,
    createdAt: "2026-03-01T11:00:00.000Z",
    lastUpdatedAt: "2026-03-01T11:00:00.000Z",
  };
}

describe("ImmediateOrchestrator", () => {
  it("drives a pending endpoint to READY through UPDATE_IN_PROGRESS", async () => {
    await store.insertEndpoint(endpoint("end_a", "UPDATE_PENDING"));
    await orchestrator.reconcile("end_a", "created");
    const after = await store.getEndpoint("end_a");
    expect(after?.status).toBe("READY");
    // Two writes: pending → in progress, in progress → ready.
    expect(after?.version).toBe(3);
    expect(after?.lastUpdatedAt).toBe(now().toISOString());
  });

  it("leaves endpoints that are not in a rollout alone", async () => {
    await store.insertEndpoint(endpoint("end_b", "UPDATE_FAILED"));
    await orchestrator.reconcile("end_b", "edited");
    expect((await store.getEndpoint("end_b"))?.version).toBe(1);
    await expect(orchestrator.reconcile("end_missing", "edited")).resolves.toBeUndefined();
  });

  it("finishes what a previous process left halfway when it starts", async () => {
    await store.insertEndpoint(endpoint("end_p", "UPDATE_PENDING"));
    await store.insertEndpoint(endpoint("end_i", "UPDATE_IN_PROGRESS"));
    await store.insertEndpoint(endpoint("end_d", "DELETE_IN_PROGRESS"));
    await store.insertEndpoint(endpoint("end_r", "READY"));
    await orchestrator.ready();
    expect((await store.getEndpoint("end_p"))?.status).toBe("READY");
    expect((await store.getEndpoint("end_i"))?.status).toBe("READY");
    expect(await store.getEndpoint("end_d")).toBeUndefined();
    expect((await store.getEndpoint("end_r"))?.version).toBe(1);
  });

  it("removes an endpoint's record", async () => {
    await store.insertEndpoint(endpoint("end_x", "DELETE_IN_PROGRESS"));
    await orchestrator.remove("end_x");
    expect(await store.getEndpoint("end_x")).toBeUndefined();
    await expect(orchestrator.remove("end_x")).resolves.toBeUndefined();
  });

  it("reports no workers, because it runs none", async () => {
    expect(orchestrator.capabilities.runsWorkers).toBe(false);
    expect(await orchestrator.workerCounts("end_a")).toEqual({ available: 0, unavailable: 0 });
  });
});
