import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startTaskRouteServer, type TaskRouteServer } from "../test/task-route-server.js";
import { LaunchClient } from "./client.js";
import { isLaunchClientError } from "./errors.js";
import { EndpointRequest } from "./tasks.js";

/** The error a promise rejects with (fails the test when it resolves). */
async function rejection(promise: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await promise;
  } catch (error) {
    return error as Error & Record<string, unknown>;
  }
  throw new Error("expected the promise to reject");
}

describe("EndpointResponseFuture against a server speaking the task routes", () => {
  let server: TaskRouteServer;
  let client: LaunchClient;

  beforeEach(async () => {
    server = await startTaskRouteServer();
    client = new LaunchClient({ apiKey: "lk_test", endpoint: server.url });
  });
  afterEach(async () => {
    await server.close();
  });

  const taskGets = () =>
    server.requests.filter((r) => r.method === "GET" && r.path.startsWith("/v1/async-tasks/"));

  it("predictAsync posts the wire PredictRequest and returns the task id", async () => {
    const request = new EndpointRequest({
      args: { x: 2, y: "hello" },
      callbackUrl: "https://example.com/cb",
    });
    const future = await client.predictAsync("end_01jdq9z6v4k3m8n2p5r7s9t1vw", request);
    expect(future.taskId).toMatch(/^tsk_/);
    const [post] = server.requests;
    expect(post).toMatchObject({ method: "POST", path: "/v1/async-tasks" });
    expect(post!.query.get("model_endpoint_id")).toBe("end_01jdq9z6v4k3m8n2p5r7s9t1vw");
    expect(post!.body).toEqual({
      args: { x: 2, y: "hello" },
      callback_url: "https://example.com/cb",
      return_pickled: false,
    });
    expect(post!.headers.authorization).toBe(`Basic ${Buffer.from("lk_test:").toString("base64")}`);
  });

  it("get() long-polls with ?wait= and resolves as soon as the task finishes, in one request", async () => {
    const taskId = server.addTask();
    const response = client.asyncTaskFuture(taskId).get({ timeoutMs: 120_000 });
    // The client is now waiting inside a held long-poll: finish the task while it waits.
    const held = await server.nextRequest((r) => r.path === `/v1/async-tasks/${taskId}`);
    expect(Number(held.query.get("wait"))).toBe(60);
    server.finish(taskId, { status: "SUCCESS", result: { result: 7 }, traceback: null, status_code: 200 });

    const outcome = await response;
    expect(outcome).toMatchObject({ status: "SUCCESS", result: 7, statusCode: 200, traceback: null, taskId });
    expect(outcome.raw).toEqual({
      task_id: taskId,
      status: "SUCCESS",
      result: { result: 7 },
      traceback: null,
      status_code: 200,
    });
    // No polling loop: the one held request carried the result.
    expect(taskGets()).toHaveLength(1);
  });

  it("get() asks for no more than the time left (whole seconds) and throws WaitTimeoutError when it runs out", async () => {
    const taskId = server.addTask();
    const error = await rejection(client.asyncTaskFuture(taskId).get({ timeoutMs: 300 }));
    expect(isLaunchClientError(error, "WaitTimeoutError")).toBe(true);
    expect(error.message).toContain(taskId);
    expect(error.message).toContain("PENDING");
    const gets = taskGets();
    expect(gets.length).toBeGreaterThanOrEqual(1);
    expect(gets[0]!.query.get("wait")).toBe("1");
  });

  it("wait() returns the unfinished state instead of throwing", async () => {
    const taskId = server.addTask();
    server.finish(taskId, { status: "STARTED", result: null, traceback: null, status_code: null });
    const task = await client.asyncTaskFuture(taskId).wait({ timeoutMs: 200 });
    expect(task).toMatchObject({ task_id: taskId, status: "STARTED" });
  });

  it("a failed task resolves with its error message and traceback", async () => {
    const taskId = server.addTask();
    server.finish(taskId, {
      status: "FAILURE",
      result: "y is not a string",
      traceback: "TypeError: y is not a string\n    at predict (model.mjs:3)",
      status_code: 500,
    });
    const outcome = await client.asyncTaskFuture(taskId).get();
    expect(outcome).toMatchObject({
      status: "FAILURE",
      result: null,
      error: "y is not a string",
      statusCode: 500,
    });
    expect(outcome.traceback).toContain("model.mjs:3");
  });

  it("an expired task (UNDEFINED) throws TaskExpiredError", async () => {
    const taskId = server.addTask();
    server.finish(taskId, { status: "UNDEFINED", result: null, traceback: null, status_code: null });
    const error = await rejection(client.asyncTaskFuture(taskId).get());
    expect(isLaunchClientError(error, "TaskExpiredError")).toBe(true);
    expect(error.taskId).toBe(taskId);
    expect(error.message).toContain("expired");
  });

  it("an unknown task id is a NotFoundError", async () => {
    const error = await rejection(client.asyncTaskFuture("tsk_missing").get({ timeoutMs: 5000 }));
    expect(isLaunchClientError(error, "NotFoundError")).toBe(true);
  });

  it("falls back to short polls against a server that ignores ?wait=", async () => {
    server.honourWait = false;
    const taskId = server.addTask();
    const response = client.asyncTaskFuture(taskId).get({ timeoutMs: 120_000 });
    // Let it poll a few times, then finish the task.
    await server.nextRequest((r) => r.path === `/v1/async-tasks/${taskId}` && taskGets().length >= 3);
    server.finish(taskId, {
      status: "SUCCESS",
      result: { result: [1, 2] },
      traceback: null,
      status_code: 200,
    });
    expect((await response).result).toEqual([1, 2]);
  });

  it("an abort signal stops the wait with the signal's reason", async () => {
    const taskId = server.addTask();
    const controller = new AbortController();
    const waiting = client.asyncTaskFuture(taskId).get({ signal: controller.signal });
    await server.nextRequest((r) => r.path === `/v1/async-tasks/${taskId}`);
    controller.abort(new Error("stopped by the test"));
    const error = await rejection(waiting);
    expect(error.message).toBe("stopped by the test");
  });

  it("getAsyncTask returns the wire object and passes waitSeconds as ?wait= (at most 60)", async () => {
    const taskId = server.addTask();
    server.finish(taskId, { status: "SUCCESS", result: { result: "ok" }, traceback: null, status_code: 200 });
    expect(await client.getAsyncTask(taskId, { waitSeconds: 600 })).toEqual({
      task_id: taskId,
      status: "SUCCESS",
      result: { result: "ok" },
      traceback: null,
      status_code: 200,
    });
    expect(taskGets()[0]!.query.get("wait")).toBe("60");
    await client.getAsyncTask(taskId);
    expect(taskGets()[1]!.query.has("wait")).toBe(false);
  });
});
