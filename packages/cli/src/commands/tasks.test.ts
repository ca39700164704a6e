import { fileURLToPath } from "node:url";
import { LaunchClient } from "@launch/client";
import { startTestServer, type TestServer } from "@launch/server";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  endpointView,
  startTaskRouteServer,
  type TaskRouteServer,
} from "../../../client/test/task-route-server.js";
import { runCli } from "../run.js";
import { memoryIo } from "../test-io.js";

const DOC_MODEL = fileURLToPath(new URL("../../../worker/fixtures/doc-model/", import.meta.url));
const ASYNC_ID = "end_01jdq9z6v4k3m8n2p5r7s9t1aa";
const SYNC_ID = "end_01jdq9z6v4k3m8n2p5r7s9t1bb";
const STREAM_ID = "end_01jdq9z6v4k3m8n2p5r7s9t1cc";

describe("launch tasks, against a server speaking the task routes", () => {
  let server: TaskRouteServer;

  beforeEach(async () => {
    server = await startTaskRouteServer();
    server.endpoints.set(ASYNC_ID, [
      endpointView({ id: ASYNC_ID, name: "doc-async", endpoint_type: "async" }),
    ]);
    server.endpoints.set(SYNC_ID, [endpointView({ id: SYNC_ID, name: "doc-sync", endpoint_type: "sync" })]);
    server.endpoints.set(STREAM_ID, [
      endpointView({ id: STREAM_ID, name: "doc-stream", endpoint_type: "streaming" }),
    ]);
    // The document's model: x + len(y).
    server.onSync = (body) => {
      const { x, y } = body.args as { x: number; y: string };
      return { status: "SUCCESS", result: { result: x + y.length }, traceback: null, status_code: 200 };
    };
    server.onStream = (body, response) => {
      const { x, y } = body.args as { x: number; y: string };
      response.writeHead(200, { "content-type": "text/event-stream" });
      for (const value of [...y, x + y.length]) {
        const event = { status: "SUCCESS", result: { result: value }, traceback: null, status_code: 200 };
        response.write(`data: ${JSON.stringify(event)}\n\n`);
      }
      response.end();
    };
  });
  afterEach(async () => {
    await server.close();
  });

  const run = async (args: string[]) => {
    const io = memoryIo({ LAUNCH_API_KEY: "lk_test", LAUNCH_ENDPOINT: server.url });
    const code = await runCli(args, io);
    return { code, stdout: io.stdoutText(), stderr: io.stderrText() };
  };
  const args = ["--args", '{"x": 2, "y": "hello"}'];

  it("send to an async endpoint prints the task id; --json prints {task_id}", async () => {
    const plain = await run(["tasks", "send", "doc-async", ...args]);
    expect(plain).toMatchObject({ code: 0, stderr: "" });
    expect(plain.stdout).toMatch(/^tsk_\w+\n$/);
    const post = server.requests.find((r) => r.path === "/v1/async-tasks");
    expect(post?.query.get("model_endpoint_id")).toBe(ASYNC_ID);
    expect(post?.body).toEqual({ args: { x: 2, y: "hello" }, return_pickled: false });

    const json = await run(["tasks", "send", ASYNC_ID, ...args, "--json"]);
    expect(JSON.parse(json.stdout)).toEqual({ task_id: expect.stringMatching(/^tsk_/) });
  });

  it("send --wait prints the result once the task finishes (long-polling)", async () => {
    const running = run([
      "tasks",
      "send",
      "doc-async",
      ...args,
      "--wait",
      "--callback-url",
      "https://example.com",
    ]);
    const poll = await server.nextRequest((r) => r.method === "GET" && r.path.startsWith("/v1/async-tasks/"));
    expect(poll.query.get("wait")).toBe("60");
    const taskId = poll.path.split("/").pop()!;
    server.finish(taskId, { status: "SUCCESS", result: { result: 7 }, traceback: null, status_code: 200 });
    expect(await running).toEqual({ code: 0, stdout: "7\n", stderr: "" });
    const post = server.requests.find((r) => r.path === "/v1/async-tasks");
    expect(post?.body).toMatchObject({ callback_url: "https://example.com" });
  });

  it("send --wait on a failing task prints the traceback and the message, and exits 1", async () => {
    const running = run(["tasks", "send", "doc-async", ...args, "--wait"]);
    const poll = await server.nextRequest((r) => r.method === "GET" && r.path.startsWith("/v1/async-tasks/"));
    const taskId = poll.path.split("/").pop()!;
    server.finish(taskId, {
      status: "FAILURE",
      result: "y.length is not a function",
      traceback: "TypeError: y.length is not a function\n    at predict (model.mjs:13:40)",
      status_code: 500,
    });
    const result = await running;
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain("at predict (model.mjs:13:40)");
    expect(result.stderr).toContain(
      `error: task ${taskId} ended FAILURE (status_code 500): y.length is not a function`,
    );
  });

  it("send --wait --timeout gives up with a clear error while the task is still pending", async () => {
    const result = await run(["tasks", "send", "doc-async", ...args, "--wait", "--timeout", "0.2"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/error: Task tsk_\w+ is still PENDING after 200 ms/);
  });

  it("send to a sync endpoint prints the result; --json prints the wire response", async () => {
    expect(await run(["tasks", "send", "doc-sync", ...args, "--timeout", "30"])).toEqual({
      code: 0,
      stdout: "7\n",
      stderr: "",
    });
    const post = server.requests.find((r) => r.path === "/v1/sync-tasks");
    expect(post?.query.get("model_endpoint_id")).toBe(SYNC_ID);
    expect(post?.body).toMatchObject({ timeout_seconds: 30 });

    const json = await run(["tasks", "send", SYNC_ID, "--sync", ...args, "--json"]);
    expect(JSON.parse(json.stdout)).toEqual({
      status: "SUCCESS",
      result: { result: 7 },
      traceback: null,
      status_code: 200,
    });
  });

  it("send to a streaming endpoint prints one event per line as they come", async () => {
    const result = await run(["tasks", "send", "doc-stream", "--args", '{"x": 2, "y": "hi"}']);
    expect(result).toEqual({ code: 0, stdout: '"h"\n"i"\n4\n', stderr: "" });
    const json = await run([
      "tasks",
      "send",
      STREAM_ID,
      "--stream",
      "--args",
      '{"x": 2, "y": "hi"}',
      "--json",
    ]);
    const events = json.stdout
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(events.map((e) => e.result.result)).toEqual(["h", "i", 4]);
  });

  it("usage mistakes exit 2 and say what to do", async () => {
    const noInput = await run(["tasks", "send", "doc-async"]);
    expect(noInput.code).toBe(2);
    expect(noInput.stderr).toContain("--args '<json>' or --url <url>");

    const badJson = await run(["tasks", "send", "doc-async", "--args", "{x: 2}"]);
    expect(badJson.code).toBe(2);
    expect(badJson.stderr).toContain("expected JSON");

    const both = await run(["tasks", "send", "doc-sync", ...args, "--sync", "--stream"]);
    expect(both.code).toBe(2);

    const callback = await run([
      "tasks",
      "send",
      "doc-sync",
      ...args,
      "--callback-url",
      "https://example.com",
    ]);
    expect(callback.code).toBe(2);
    expect(callback.stderr).toContain("--callback-url applies to async tasks only");
  });

  it("get shows a task; --wait waits for it; --json prints the wire object; unknown ids fail", async () => {
    const taskId = server.addTask();
    const pending = await run(["tasks", "get", taskId, "--wait", "0.1"]);
    expect(pending.code).toBe(0);
    expect(pending.stdout).toMatch(/^task_id\s+tsk_\w+\nstatus\s+PENDING\nstatus_code\s+-\n$/);

    server.finish(taskId, {
      status: "SUCCESS",
      result: { result: { answer: 7 } },
      traceback: null,
      status_code: 200,
    });
    const done = await run(["tasks", "get", taskId]);
    expect(done.stdout).toContain("SUCCESS");
    expect(done.stdout).toMatch(/result\s+\{"answer":7\}/);
    const json = await run(["tasks", "get", taskId, "--json"]);
    expect(JSON.parse(json.stdout)).toEqual({
      task_id: taskId,
      status: "SUCCESS",
      result: { result: { answer: 7 } },
      traceback: null,
      status_code: 200,
    });

    const missing = await run(["tasks", "get", "tsk_missing"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("error: Task tsk_missing was not found.");
  });
});

describe("launch tasks against a real server with workers: the document's model", () => {
  let server: TestServer;
  let env: Record<string, string>;

  beforeAll(async () => {
    server = await startTestServer({ overrides: { orchestration: "local" } });
    const key = await server.createKey("alice", "ml");
    env = { LAUNCH_API_KEY: key, LAUNCH_ENDPOINT: server.url };
    const client = new LaunchClient({ apiKey: key, endpoint: server.url });
    for (const [name, predict] of [
      ["test-bundle", "model.mjs#loadPredictFn"],
      ["test-bundle-streaming", "model.mjs#loadStreamingPredictFn"],
    ] as const) {
      await client.createModelBundleFromDirsV2({
        modelBundleName: name,
        baseDir: DOC_MODEL,
        loadModelFnModulePath: "model.mjs#loadModel",
        loadPredictFnModulePath: predict,
      });
    }
  }, 60_000);
  afterAll(async () => {
    await server?.close();
  });

  const run = async (args: string[]) => {
    const io = memoryIo(env);
    const code = await runCli(args, io);
    return { code, stdout: io.stdoutText(), stderr: io.stderrText() };
  };
  const deploy = async (name: string, bundle: string, type: string) => {
    const created = await run([
      "endpoints",
      "create",
      name,
      "--bundle",
      bundle,
      "--type",
      type,
      "--cpus",
      "1",
      "--memory",
      "1Gi",
      "--wait",
      "--timeout",
      "60",
    ]);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stderr.trimEnd().split("\n").at(-1)).toMatch(/^READY\s+workers 1\/1$/);
  };

  it("tasks send --wait on an async endpoint prints 7", { timeout: 120_000 }, async () => {
    await deploy("doc-async", "test-bundle", "async");
    expect(await run(["tasks", "send", "doc-async", "--args", '{"x": 2, "y": "hello"}', "--wait"])).toEqual({
      code: 0,
      stdout: "7\n",
      stderr: "",
    });
    const sent = await run(["tasks", "send", "doc-async", "--args", '{"x": 3, "y": "hello"}']);
    const taskId = sent.stdout.trim();
    const got = await run(["tasks", "get", taskId, "--wait", "30", "--json"]);
    expect(JSON.parse(got.stdout)).toMatchObject({
      task_id: taskId,
      status: "SUCCESS",
      result: { result: 8 },
    });
  });

  it("tasks send on sync and streaming endpoints prints 7 and the events", { timeout: 120_000 }, async () => {
    await deploy("doc-sync", "test-bundle", "sync");
    expect(await run(["tasks", "send", "doc-sync", "--args", '{"x": 2, "y": "hello"}'])).toEqual({
      code: 0,
      stdout: "7\n",
      stderr: "",
    });
    await deploy("doc-stream", "test-bundle-streaming", "streaming");
    expect(await run(["tasks", "send", "doc-stream", "--args", '{"x": 2, "y": "hi"}'])).toEqual({
      code: 0,
      stdout: '"h"\n"i"\n4\n',
      stderr: "",
    });
  });
});
