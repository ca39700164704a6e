import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { fixturePath } from "../fixtures.js";
import { NodeRuntime } from "../runtimes/node.js";
import { RunnableImageRuntime } from "../runtimes/runnable-image.js";
import { parseRequest, SyncServer } from "./sync-server.js";
import { imageFlavor, memoryLog, nodeFlavor } from "./testing.js";

let dir: string;
const cleanups: (() => Promise<void>)[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "launch-sync-server-"));
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  rmSync(dir, { recursive: true, force: true });
});

const MODEL = `
export const loadModel = () => (x) => x;
export const loadPredictFn = (model) => async (args) => {
  if (args.fail) throw new Error("the model failed: " + args.fail);
  if (args.wait) await new Promise((resolve) => setTimeout(resolve, args.wait));
  return model(args.x) + args.y.length;
};
export const loadStreamingPredictFn = () => async function* (args) {
  for (const char of args.y) yield char;
  if (args.fail) throw new Error("stream broke");
  yield args.x + args.y.length;
};
`;

async function serve(loadPredictFn = "model.mjs#loadPredictFn") {
  writeFileSync(join(dir, "model.mjs"), MODEL);
  const runtime = new NodeRuntime({
    directory: dir,
    flavor: nodeFlavor("model.mjs#loadModel", loadPredictFn),
  });
  await runtime.start();
  const log = memoryLog();
  const server = new SyncServer({ runtime, log });
  const port = await server.listen(0);
  cleanups.push(async () => {
    await server.close();
    await runtime.stop();
  });
  return { server, log, base: `http://127.0.0.1:${port}` };
}

async function post(
  url: string,
  body: string,
): Promise<{ status: number; text: string; type: string | null }> {
  const response = await fetch(url, {
    method: "POST",
    body,
    headers: { "content-type": "application/json" },
  });
  return { status: response.status, text: await response.text(), type: response.headers.get("content-type") };
}

describe("POST /predict", () => {
  it("answers the sync response shape", async () => {
    const { base } = await serve();
    expect(await post(`${base}/predict`, '{"args":{"x":2,"y":"hello"}}')).toEqual({
      status: 200,
      type: "application/json",
      text: '{"status":"SUCCESS","result":{"result":7},"traceback":null,"status_code":200}',
    });
  });

  it("answers a model error as FAILURE with its traceback and message", async () => {
    const { base, log } = await serve();
    const { status, text } = await post(`${base}/predict`, '{"args":{"fail":"secret-arg-value"}}');
    expect(status).toBe(200);
    const body = JSON.parse(text) as Record<string, unknown>;
    expect(Object.keys(body)).toEqual(["status", "result", "traceback", "status_code", "error"]);
    expect(body).toMatchObject({
      status: "FAILURE",
      result: null,
      status_code: 500,
      error: "the model failed: secret-arg-value",
    });
    expect(body.traceback).toContain("Error: the model failed");
    expect(log.lines).toContainEqual({
      kind: "error",
      text: "sync request failed: the model failed: secret-arg-value",
    });
  });

  it("puts the message in the traceback of a failure that has none", async () => {
    const { base } = await serve();
    const body = JSON.parse((await post(`${base}/predict`, "{}")).text) as Record<string, unknown>;
    expect(body).toEqual({
      status: "FAILURE",
      result: null,
      traceback: "Input needs either url or args.",
      status_code: null,
      error: "Input needs either url or args.",
    });
  });

  it("answers 400 with a detail for a body that is not a JSON object", async () => {
    const { base } = await serve();
    const bad = await post(`${base}/predict`, "{not json");
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.text).detail).toMatch(/^The request body is not valid JSON: /);
    const list = await post(`${base}/predict`, "[1,2]");
    expect(list.status).toBe(400);
    expect(JSON.parse(list.text)).toEqual({
      detail: 'The request body must be a JSON object like {"args": {...}}; got an array.',
    });
  });

  it("counts a request in flight until it is answered", async () => {
    const { base, server } = await serve();
    const pending = post(`${base}/predict`, '{"args":{"x":1,"y":"a","wait":200}}');
    for (let i = 0; i < 100 && server.inFlight === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(server.inFlight).toBe(1);
    expect(JSON.parse((await pending).text).result).toEqual({ result: 2 });
    expect(server.inFlight).toBe(0);
  });

  it("keeps connections alive between requests", async () => {
    const { base } = await serve();
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    cleanups.push(async () => agent.destroy());
    const send = () =>
      new Promise<{ reused: boolean; body: string }>((resolve, reject) => {
        const req = request(`${base}/predict`, { method: "POST", agent }, (res) => {
          let body = "";
          res.setEncoding("utf8").on("data", (chunk: string) => {
            body += chunk;
          });
          res.on("end", () => resolve({ reused: req.reusedSocket, body }));
        });
        req.on("error", reject);
        req.end('{"args":{"x":2,"y":"hello"}}');
      });
    expect((await send()).reused).toBe(false);
    const second = await send();
    expect(second.reused).toBe(true);
    expect(second.body).toContain('"result":{"result":7}');
  });
});

describe("POST /stream", () => {
  it("writes one event per value the model yields", async () => {
    const { base } = await serve("model.mjs#loadStreamingPredictFn");
    const { status, type, text } = await post(`${base}/stream`, '{"args":{"x":2,"y":"hi"}}');
    expect(status).toBe(200);
    expect(type).toBe("text/event-stream");
    const event = (value: string) =>
      `data: {"status":"SUCCESS","result":{"result":${value}},"traceback":null,"status_code":200}\n\n`;
    expect(text).toBe(event('"h"') + event('"i"') + event("4"));
  });

  it("ends with a FAILURE event when the model throws mid-stream", async () => {
    const { base } = await serve("model.mjs#loadStreamingPredictFn");
    const { text } = await post(`${base}/stream`, '{"args":{"x":2,"y":"a","fail":true}}');
    const events = text
      .split("\n\n")
      .filter(Boolean)
      .map((e) => JSON.parse(e.replace(/^data: /, "")) as Record<string, unknown>);
    expect(events).toHaveLength(2);
    expect(events[1]).toMatchObject({
      status: "FAILURE",
      result: null,
      status_code: 500,
      error: "stream broke",
    });
  });

  it("answers 400 when the bundle does not stream", async () => {
    const runtime = new RunnableImageRuntime({
      flavor: imageFlavor([process.execPath, fixturePath("echo-server.mjs")]),
      healthPollMs: 50,
    });
    await runtime.start();
    const server = new SyncServer({ runtime, log: memoryLog() });
    const port = await server.listen(0);
    cleanups.push(async () => {
      await server.close();
      await runtime.stop(500);
    });
    const { status, text } = await post(`http://127.0.0.1:${port}/stream`, '{"args":{"x":1}}');
    expect(status).toBe(400);
    expect(JSON.parse(text).detail).toContain("does not stream");
  });
});

describe("health and draining", () => {
  it("answers healthz and readyz, and lets running requests finish while draining", async () => {
    const { base, server } = await serve();
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    cleanups.push(async () => agent.destroy());
    expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ status: "ok" });
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    expect((await fetch(`${base}/nothing`)).status).toBe(404);
    const slow = new Promise<{ status: number; connection: string | undefined }>((resolve, reject) => {
      const req = request(`${base}/predict`, { method: "POST", agent }, (res) => {
        res.resume();
        res.on("end", () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
      });
      req.on("error", reject);
      req.end('{"args":{"x":1,"y":"a","wait":150}}');
    });
    for (let i = 0; i < 100 && server.inFlight === 0; i++) await new Promise((r) => setTimeout(r, 10));
    server.startDraining();
    // The running request is answered, and its connection is not kept; new connections are refused.
    expect(await slow).toEqual({ status: 200, connection: "close" });
    await server.whenIdle();
    await expect(fetch(`${base}/readyz`)).rejects.toThrow();
  });
});

describe("parseRequest", () => {
  it("names the field of a wrong type", () => {
    expect(parseRequest('{"url": 3}')).toEqual({
      ok: false,
      detail: "url must be a string or null; got a number.",
    });
    expect(parseRequest('{"args": 1, "return_pickled": "yes"}')).toEqual({
      ok: false,
      detail: "return_pickled must be a boolean; got a string.",
    });
    expect(parseRequest("")).toMatchObject({ ok: false, detail: expect.stringContaining("empty") });
    expect(parseRequest('{"args":{"a":1},"callback_url":"https://x"}')).toEqual({
      ok: true,
      input: { args: { a: 1 }, url: null, returnPickled: false },
    });
  });
});
