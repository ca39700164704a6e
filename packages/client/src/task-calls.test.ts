import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startTaskRouteServer, type TaskRouteServer } from "../test/task-route-server.js";
import { LaunchClient } from "./client.js";
import { isLaunchClientError } from "./errors.js";
import type { EndpointResponse } from "./tasks.js";

const ENDPOINT_ID = "end_01jdq9z6v4k3m8n2p5r7s9t1vw";

describe("sync, streaming and log calls against a server speaking the task routes", () => {
  let server: TaskRouteServer;
  let client: LaunchClient;

  beforeEach(async () => {
    server = await startTaskRouteServer();
    client = new LaunchClient({ apiKey: "lk_test", endpoint: server.url });
  });
  afterEach(async () => {
    await server.close();
  });

  it("predictSync sends timeout_seconds and num_retries and reads result.result", async () => {
    server.onSync = (body) => ({
      status: "SUCCESS",
      result: { result: (body.args as { x: number }).x + 5 },
      traceback: null,
      status_code: 200,
    });
    const response = await client.predictSync(
      ENDPOINT_ID,
      { args: { x: 2, y: "hello" } },
      { timeoutSeconds: 30, numRetries: 2 },
    );
    expect(response).toMatchObject({ status: "SUCCESS", result: 7, statusCode: 200, traceback: null });
    expect(response.taskId).toBeUndefined();
    const [post] = server.requests;
    expect(post).toMatchObject({ method: "POST", path: "/v1/sync-tasks" });
    expect(post!.query.get("model_endpoint_id")).toBe(ENDPOINT_ID);
    expect(post!.body).toEqual({
      args: { x: 2, y: "hello" },
      return_pickled: false,
      timeout_seconds: 30,
      num_retries: 2,
    });
  });

  it("a model error in a sync task is a FAILURE response, not an exception", async () => {
    server.onSync = () => ({ status: "FAILURE", result: null, traceback: "Error: boom", status_code: 500 });
    const response = await client.predictSync(ENDPOINT_ID, { args: {} });
    expect(response).toMatchObject({
      status: "FAILURE",
      result: null,
      traceback: "Error: boom",
      statusCode: 500,
    });
  });

  it("predictStreaming yields each event as it arrives, before the stream ends", async () => {
    let sendNext: () => void = () => {};
    const nextRequested = new Promise<void>((resolve) => {
      sendNext = resolve;
    });
    server.onStream = async (_body, response) => {
      response.writeHead(200, { "content-type": "text/event-stream" });
      const event = (value: unknown) =>
        `data: ${JSON.stringify({ status: "SUCCESS", result: { result: value }, traceback: null, status_code: 200 })}\n\n`;
      response.write(event("h"));
      // The second event is sent only once the client has seen the first: a client that buffered the
      // whole body would never get here.
      await nextRequested;
      response.write(event("i"));
      response.end(event(7));
    };
    const results: unknown[] = [];
    for await (const event of client.predictStreaming(
      ENDPOINT_ID,
      { args: { x: 5, y: "hi" } },
      { timeoutSeconds: 10 },
    )) {
      results.push(event.result);
      if (results.length === 1) sendNext();
    }
    expect(results).toEqual(["h", "i", 7]);
    const [post] = server.requests;
    expect(post).toMatchObject({ path: "/v1/streaming-tasks" });
    expect(post!.headers.accept).toBe("text/event-stream");
    expect(post!.body).toMatchObject({ args: { x: 5, y: "hi" }, timeout_seconds: 10 });
  });

  it("a streaming failure event comes through with its status and traceback", async () => {
    server.onStream = (_body, response) => {
      response.writeHead(200, { "content-type": "text/event-stream" });
      response.end(
        `data: ${JSON.stringify({ status: "FAILURE", result: null, traceback: "Error: bad", status_code: 500 })}\n\n`,
      );
    };
    const events: EndpointResponse[] = [];
    for await (const event of client.predictStreaming(ENDPOINT_ID, { args: {} })) events.push(event);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ status: "FAILURE", traceback: "Error: bad", statusCode: 500 });
  });

  it("an error answer to a streaming task throws the typed error", async () => {
    server.onStream = (_body, response) => {
      response.writeHead(400, { "content-type": "application/json" });
      response.end(
        JSON.stringify({ detail: "Endpoint demo is async; send async tasks.", code: "bad_request" }),
      );
    };
    const iterate = async () => {
      for await (const _ of client.predictStreaming(ENDPOINT_ID, { args: {} })) {
        // nothing
      }
    };
    const error = await iterate().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isLaunchClientError(error, "BadRequestError")).toBe(true);
    expect((error as Error).message).toContain("send async tasks");
  });

  it("an event that is not JSON is a ServerError quoting it", async () => {
    server.onStream = (_body, response) => {
      response.writeHead(200, { "content-type": "text/event-stream" });
      response.end("data: not json\n\n");
    };
    const error = await (async () => {
      for await (const _ of client.predictStreaming(ENDPOINT_ID, { args: {} })) {
        // nothing
      }
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isLaunchClientError(error, "ServerError")).toBe(true);
    expect((error as Error).message).toContain("not json");
  });

  it("getEndpointLogs passes tail and returns the wire logs", async () => {
    server.logs = [
      { worker_id: "wrk_1", time: "2025-01-01T00:00:00.000Z", stream: "stdout", line: "loading" },
      { worker_id: "wrk_1", time: "2025-01-01T00:00:01.000Z", stream: "stderr", line: "warning" },
    ];
    const { logs } = await client.getEndpointLogs(ENDPOINT_ID, { tail: 1 });
    expect(logs).toEqual([server.logs[1]]);
    const get = server.requests.find((r) => r.path === `/v1/model-endpoints/${ENDPOINT_ID}/logs`);
    expect(get?.query.get("tail")).toBe("1");
  });
});
