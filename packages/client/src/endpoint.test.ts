import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { endpointView, startTaskRouteServer, type TaskRouteServer } from "../test/task-route-server.js";
import { LaunchClient } from "./client.js";
import type { ModelEndpoint } from "./endpoint.js";
import { isLaunchClientError } from "./errors.js";

const ID = "end_01jdq9z6v4k3m8n2p5r7s9t1vw";

function progress(status: ModelEndpoint["status"], available: number, extra: Partial<ModelEndpoint> = {}) {
  const base = endpointView({ id: ID });
  return endpointView({
    id: ID,
    status,
    deployment_state: { ...base.deployment_state, min_workers: 2, available_workers: available },
    ...extra,
  });
}

describe("endpoint.waitUntilReady against a server whose endpoint deploys step by step", () => {
  let server: TaskRouteServer;
  let client: LaunchClient;

  beforeEach(async () => {
    server = await startTaskRouteServer();
    client = new LaunchClient({ apiKey: "lk_test", endpoint: server.url });
  });
  afterEach(async () => {
    await server.close();
  });

  it("polls until READY, showing every view to onProgress", async () => {
    server.endpoints.set(ID, [
      progress("UPDATE_PENDING", 0),
      progress("UPDATE_IN_PROGRESS", 0),
      progress("UPDATE_IN_PROGRESS", 1),
      progress("READY", 2),
    ]);
    const endpoint = await client.getModelEndpoint(ID);
    const seen: string[] = [];
    const view = await endpoint.waitUntilReady({
      intervalMs: 1,
      onProgress: (v) => seen.push(`${v.status} ${v.deployment_state.available_workers}`),
    });
    expect(view.status).toBe("READY");
    expect(endpoint.modelEndpoint.status).toBe("READY");
    expect(seen).toEqual(["UPDATE_IN_PROGRESS 0", "UPDATE_IN_PROGRESS 1", "READY 2"]);
  });

  it("throws EndpointFailedError with the status reason on UPDATE_FAILED", async () => {
    const reason = "the model exited with code 1; last stderr lines:\nError: Cannot find module 'missing'";
    server.endpoints.set(ID, [
      progress("UPDATE_PENDING", 0),
      progress("UPDATE_IN_PROGRESS", 0),
      progress("UPDATE_FAILED", 0, { status_reason: reason }),
    ]);
    const endpoint = await client.getModelEndpoint(ID);
    const error = await endpoint.waitUntilReady({ intervalMs: 1 }).then(
      () => undefined,
      (e: unknown) => e as Error & Record<string, unknown>,
    );
    expect(isLaunchClientError(error, "EndpointFailedError")).toBe(true);
    expect(error?.statusReason).toBe(reason);
    expect(error?.endpointStatus).toBe("UPDATE_FAILED");
    expect(error?.message).toContain("demo is UPDATE_FAILED: the model exited with code 1");
  });

  it("throws WaitTimeoutError naming the status and workers when time runs out", async () => {
    server.endpoints.set(ID, [progress("UPDATE_IN_PROGRESS", 1)]);
    const endpoint = await client.getModelEndpoint(ID);
    const error = await endpoint.waitUntilReady({ intervalMs: 5, timeoutMs: 30 }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(isLaunchClientError(error, "WaitTimeoutError")).toBe(true);
    expect(error?.message).toContain("still UPDATE_IN_PROGRESS");
    expect(error?.message).toContain("workers 1/2 ready");
  });

  it("logs() reads the endpoint's worker output", async () => {
    server.endpoints.set(ID, [progress("READY", 2)]);
    server.logs = [{ worker_id: "wrk_1", time: "2025-01-01T00:00:00.000Z", stream: "stdout", line: "hi" }];
    const endpoint = await client.getModelEndpoint(ID);
    expect(await endpoint.logs({ tail: 10 })).toEqual({ logs: server.logs });
  });
});
