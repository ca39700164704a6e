/**
 * `GET /metrics` on a real server: public, Prometheus text, with the task counters (counted at the queue
 * port) and the dispatcher's callback metrics after a real delivery to a real receiver. Each server has
 * its own registry, so the counts below are exact.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestReceiver } from "../../callbacks/testing-receiver.js";
import { startTestServer, type TestServer } from "../../testing/server.js";

let server: TestServer;
let receiver: TestReceiver;

beforeAll(async () => {
  receiver = await TestReceiver.http();
  server = await startTestServer({ overrides: { orchestration: "none" } });
});

afterAll(async () => {
  await server?.close();
  await receiver?.close();
});

async function scrape(): Promise<{ status: number; type: string | null; text: string }> {
  const response = await fetch(`${server.url}/metrics`);
  return { status: response.status, type: response.headers.get("content-type"), text: await response.text() };
}

/** The value of one sample line, e.g. `launch_tasks_finished_total{status="SUCCESS"}`; undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("GET /metrics", () => {
  it("needs no API key and answers the Prometheus text format", async () => {
    const res = await scrape();
    expect(res.status).toBe(200);
    expect(res.type).toBe("text/plain; version=0.0.4; charset=utf-8");
    expect(res.text).toContain("# TYPE launch_tasks_submitted_total counter");
  });

  it("counts submitted and finished tasks by status, and callback deliveries", async () => {
    const key = await server.createKey("alice", "ml");
    const bundle = await server.request("POST", "/v2/model-bundles", {
      key,
      body: {
        name: "doc-bundle",
        schema_location: "s3://launch/schemas/doc.json",
        flavor: { flavor: "runnable_image", repository: "example/model", tag: "1", command: ["serve"] },
      },
    });
    const created = await server.request("POST", "/v1/model-endpoints", {
      key,
      body: {
        name: "metrics-ep",
        model_bundle_id: bundle.body.model_bundle_id,
        endpoint_type: "async",
        metadata: {},
        cpus: 1,
        gpus: 0,
        memory: "1Gi",
        storage: "1Gi",
        min_workers: 1,
        max_workers: 1,
        per_worker: 1,
        labels: {},
        post_inference_hooks: ["callback"],
        default_callback_url: receiver.url("/metrics-hook"),
        task_expires_seconds: 60,
      },
    });
    expect(created.status).toBe(200);
    const endpointId = created.body.endpoint_creation_task_id;
    for (let i = 0; i < 3; i++) {
      const res = await server.request("POST", `/v1/async-tasks?model_endpoint_id=${endpointId}`, {
        key,
        body: { args: { x: 2, y: "hello" } },
      });
      expect(res.status).toBe(200);
    }
    const [first, second] = await server.queue.lease({
      queue: endpointId,
      workerId: "w",
      max: 2,
      leaseMs: 60_000,
    });
    expect(await server.queue.complete(first!.id, first!.leaseToken, { output: 7, statusCode: 200 })).toBe(
      true,
    );
    const error = { message: "boom", traceback: null, statusCode: null };
    expect(await server.queue.fail(second!.id, second!.leaseToken, error, { retry: false })).toBe("failed");
    // The third task is still queued; a sweep past its expiry records it UNDEFINED.
    expect((await server.queue.sweep(Date.now() + 120_000)).expired).toBe(1);

    const deadline = Date.now() + 20_000;
    let text = (await scrape()).text;
    while (
      sample(text, 'launch_callback_deliveries_total{outcome="delivered"}') !== 1 &&
      Date.now() < deadline
    ) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      text = (await scrape()).text;
    }
    expect(sample(text, "launch_tasks_submitted_total")).toBe(3);
    expect(sample(text, 'launch_tasks_finished_total{status="SUCCESS"}')).toBe(1);
    expect(sample(text, 'launch_tasks_finished_total{status="FAILURE"}')).toBe(1);
    expect(sample(text, 'launch_tasks_finished_total{status="UNDEFINED"}')).toBe(1);
    expect(sample(text, 'launch_callback_deliveries_total{outcome="delivered"}')).toBe(1);
    expect(sample(text, "launch_callback_delivery_latency_seconds_count")).toBe(1);
    expect(receiver.received).toHaveLength(1);
    // Counts only: no ids, URLs or keys.
    expect(text).not.toContain(endpointId);
    expect(text).not.toContain("127.0.0.1");
    expect(text).not.toContain(key);
  });
});
