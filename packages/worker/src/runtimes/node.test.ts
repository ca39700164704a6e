import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ZipArtifactFlavor } from "@launch/protocol";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { fixturePath } from "../fixtures.js";
import { NodeRuntime, parseModuleRef } from "./node.js";
import type { StreamEvent } from "./port.js";

function nodeFlavor(
  loadModel: string,
  loadPredictFn: string,
  appConfig: Record<string, unknown> | null = null,
): ZipArtifactFlavor {
  return {
    flavor: "zip_artifact",
    requirements: [],
    framework: { framework_type: "node" },
    location: "s3://bundles/test.zip",
    load_model_fn_module_path: loadModel,
    load_predict_fn_module_path: loadPredictFn,
    app_config: appConfig,
  };
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "launch-node-runtime-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A bundle directory with one module, `model.mjs`. */
function bundle(source: string): string {
  writeFileSync(join(dir, "model.mjs"), source);
  return dir;
}

async function started(directory: string, flavor: ZipArtifactFlavor): Promise<NodeRuntime> {
  const runtime = new NodeRuntime({ directory, flavor });
  await runtime.start();
  return runtime;
}

async function startError(directory: string, flavor: ZipArtifactFlavor): Promise<Error> {
  const error = await new NodeRuntime({ directory, flavor }).start().then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  if (!error) throw new Error("start() succeeded but should have failed");
  expect(error.name).toBe("RuntimeStartError");
  return error;
}

async function collect(events: AsyncIterable<StreamEvent>): Promise<StreamEvent[]> {
  const out: StreamEvent[] = [];
  for await (const event of events) out.push(event);
  return out;
}

describe("NodeRuntime with the documentation model", () => {
  it("gives 7 and 8 with status 200", async () => {
    const runtime = await started(
      fixturePath("doc-model"),
      nodeFlavor("model.mjs#loadModel", "model.mjs#loadPredictFn"),
    );
    expect(await runtime.predict({ args: { x: 2, y: "hello" } })).toEqual({
      ok: true,
      output: 7,
      statusCode: 200,
    });
    expect(await runtime.predict({ args: { x: 3, y: "hello" } })).toEqual({
      ok: true,
      output: 8,
      statusCode: 200,
    });
    expect(runtime.logs().some((line) => /model loaded in \d+ ms/.test(line))).toBe(true);
  });

  it("streams one event per yielded value, and collects them for a plain predict", async () => {
    const runtime = await started(
      fixturePath("doc-model"),
      nodeFlavor("model.mjs#loadModel", "model.mjs#loadStreamingPredictFn"),
    );
    const events = await collect(runtime.stream({ args: { x: 2, y: "hey" } }));
    expect(events).toEqual(["h", "e", "y", 5].map((output) => ({ ok: true, output, statusCode: 200 })));
    expect(await runtime.predict({ args: { x: 2, y: "hey" } })).toEqual({
      ok: true,
      output: ["h", "e", "y", 5],
      statusCode: 200,
    });
  });

  it("streams a plain result as a single event", async () => {
    const runtime = await started(
      fixturePath("doc-model"),
      nodeFlavor("model.mjs#loadModel", "model.mjs#loadPredictFn"),
    );
    expect(await collect(runtime.stream({ args: { x: 1, y: "ab" } }))).toEqual([
      { ok: true, output: 3, statusCode: 200 },
    ]);
  });
});

describe("NodeRuntime loading", () => {
  it("uses loadModel and loadPredictFn when the path has no #export, and passes app_config to both", async () => {
    const directory = bundle(`
      export async function loadModel(config) { return { factor: config.factor }; }
      export function loadPredictFn(model, config) { return async ({ n }) => n * model.factor + config.offset; }
    `);
    const runtime = await started(directory, nodeFlavor("model.mjs", "model.mjs", { factor: 10, offset: 1 }));
    expect(await runtime.predict({ args: { n: 4 } })).toEqual({ ok: true, output: 41, statusCode: 200 });
  });

  it("accepts #default and CommonJS modules", async () => {
    writeFileSync(join(dir, "load.mjs"), "export default () => 'model';");
    writeFileSync(join(dir, "predict.cjs"), "exports.make = (model) => (args) => model + ':' + args.q;");
    const runtime = await started(dir, nodeFlavor("load.mjs#default", "predict.cjs#make"));
    expect(await runtime.predict({ args: { q: "x" } })).toMatchObject({ ok: true, output: "model:x" });
  });

  it("parses module references", () => {
    expect(parseModuleRef("lib/model.mjs#load", "loadModel")).toEqual({
      modulePath: "lib/model.mjs",
      exportName: "load",
    });
    expect(parseModuleRef("model.mjs", "loadPredictFn")).toEqual({
      modulePath: "model.mjs",
      exportName: "loadPredictFn",
    });
  });

  it("explains a missing file, a missing export, a syntax error and a loader that throws", async () => {
    const ok =
      "export const loadModel = () => 1; export const loadPredictFn = () => () => 1; export const two = 2;";
    bundle(ok);
    expect((await startError(dir, nodeFlavor("missing.mjs#loadModel", "model.mjs"))).message).toBe(
      'load_model_fn_module_path "missing.mjs#loadModel": the bundle has no file "missing.mjs".',
    );
    expect((await startError(dir, nodeFlavor("model.mjs#nope", "model.mjs"))).message).toBe(
      'load_model_fn_module_path "model.mjs#nope": the module has no export "nope"; expected a function (it exports: loadModel, loadPredictFn, two).',
    );
    expect((await startError(dir, nodeFlavor("model.mjs", "model.mjs#two"))).message).toMatch(
      /exports "two" as a number; expected a function/,
    );

    writeFileSync(join(dir, "broken.mjs"), "export const = ;");
    expect((await startError(dir, nodeFlavor("broken.mjs#loadModel", "model.mjs"))).message).toMatch(
      /^load_model_fn_module_path "broken.mjs#loadModel": the module failed to load: .*(Unexpected|SyntaxError)/s,
    );

    writeFileSync(
      join(dir, "throws.mjs"),
      "export const loadModel = () => { throw new Error('weights missing'); };",
    );
    expect((await startError(dir, nodeFlavor("throws.mjs#loadModel", "model.mjs"))).message).toBe(
      'load_model_fn_module_path "throws.mjs#loadModel" threw: weights missing',
    );

    writeFileSync(join(dir, "notfn.mjs"), "export const loadPredictFn = () => 42;");
    expect((await startError(dir, nodeFlavor("model.mjs", "notfn.mjs"))).message).toMatch(
      /returned a number; it must return the predict function/,
    );
  });

  it("refuses module paths outside the bundle", async () => {
    bundle("export const loadModel = () => 1;");
    expect((await startError(dir, nodeFlavor("../outside.mjs#loadModel", "model.mjs"))).message).toMatch(
      /must name a module inside the bundle/,
    );
    expect((await startError(dir, nodeFlavor("/etc/passwd#x", "model.mjs"))).message).toMatch(
      /must name a module inside the bundle/,
    );
  });
});

describe("NodeRuntime tasks", () => {
  const source = `
    export const loadModel = () => null;
    export const loadPredictFn = () => (args) => {
      switch (args.kind) {
        case "throw": throw new Error("bad input: " + args.why);
        case "throw-string": throw "plain string";
        case "map": return new Map([["a", 1]]);
        case "nested-fn": return { ok: [1, { f() {} }] };
        case "bigint": return 1n;
        case "undefined": return undefined;
        case "date": return { at: new Date(0) };
        case "slow": return new Promise((r) => setTimeout(() => r("late"), 1000));
        case "stream-then-throw": return (async function* () { yield 1; throw new Error("mid-stream"); })();
        default: return args;
      }
    };
  `;

  it("fails a task whose predict throws, with the message and stack", async () => {
    const runtime = await started(bundle(source), nodeFlavor("model.mjs", "model.mjs"));
    const outcome = await runtime.predict({ args: { kind: "throw", why: "y is missing" } });
    expect(outcome).toMatchObject({ ok: false, error: "bad input: y is missing", statusCode: 500 });
    expect(outcome.ok === false && outcome.traceback).toMatch(
      /^Error: bad input: y is missing\n\s+at .*model\.mjs/,
    );
    expect(await runtime.predict({ args: { kind: "throw-string" } })).toEqual({
      ok: false,
      error: "plain string",
      traceback: null,
      statusCode: 500,
    });
  });

  it("fails outputs that are not JSON-serialisable, naming the type", async () => {
    const runtime = await started(bundle(source), nodeFlavor("model.mjs", "model.mjs"));
    const errorOf = async (kind: string) => {
      const outcome = await runtime.predict({ args: { kind } });
      return outcome.ok ? undefined : outcome.error;
    };
    expect(await errorOf("map")).toBe(
      "The model's output is not JSON-serialisable: output is a Map (return plain objects and arrays).",
    );
    expect(await errorOf("nested-fn")).toMatch(/output\.ok\[1\]\.f is a function/);
    expect(await errorOf("bigint")).toMatch(/output is a bigint/);
    expect(await errorOf("undefined")).toMatch(/output is undefined/);
    expect(await runtime.predict({ args: { kind: "date" } })).toMatchObject({ ok: true });
  });

  it("fails a task with neither args nor url", async () => {
    const runtime = await started(bundle(source), nodeFlavor("model.mjs", "model.mjs"));
    expect(await runtime.predict({})).toEqual({
      ok: false,
      error: "Input needs either url or args.",
      traceback: null,
      statusCode: null,
    });
  });

  it("stops waiting for a task whose signal aborts", async () => {
    const runtime = await started(bundle(source), nodeFlavor("model.mjs", "model.mjs"));
    const controller = new AbortController();
    const pending = runtime.predict({ args: { kind: "slow" } }, controller.signal);
    controller.abort(new Error("sync timeout"));
    expect(await pending).toMatchObject({ ok: false, error: "The task was cancelled: sync timeout" });
  });

  it("ends a stream with a failure event when the model throws mid-stream", async () => {
    const runtime = await started(bundle(source), nodeFlavor("model.mjs", "model.mjs"));
    const events = await collect(runtime.stream({ args: { kind: "stream-then-throw" } }));
    expect(events).toHaveLength(2);
    expect(events[0]).toEqual({ ok: true, output: 1, statusCode: 200 });
    expect(events[1]).toMatchObject({ ok: false, error: "mid-stream", statusCode: 500 });
  });

  it("answers not loaded before start and after stop", async () => {
    const runtime = new NodeRuntime({
      directory: bundle(source),
      flavor: nodeFlavor("model.mjs", "model.mjs"),
    });
    expect(await runtime.predict({ args: {} })).toMatchObject({
      ok: false,
      error: expect.stringMatching(/not loaded/),
    });
    await runtime.start();
    await runtime.stop();
    expect(await runtime.predict({ args: {} })).toMatchObject({
      ok: false,
      error: expect.stringMatching(/stopped/),
    });
  });
});

describe("NodeRuntime url inputs", () => {
  let server: Server;
  let base: string;
  beforeEach(async () => {
    server = createServer((req, res) => {
      if (req.url === "/input.json")
        res.writeHead(200, { "content-type": "application/json" }).end('{"x":2,"y":"hello"}');
      else if (req.url === "/image.bin") res.writeHead(200).end(Buffer.from([0xff, 0x00, 0x01]));
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it("passes the fetched JSON, or the raw bytes, and fails on an HTTP error naming the url without its query", async () => {
    const runtime = await started(
      bundle(`
        export const loadModel = () => null;
        export const loadPredictFn = () => (input) =>
          input instanceof Uint8Array ? { bytes: [...input] } : input.x + input.y.length;
      `),
      nodeFlavor("model.mjs", "model.mjs"),
    );
    expect(await runtime.predict({ url: `${base}/input.json` })).toEqual({
      ok: true,
      output: 7,
      statusCode: 200,
    });
    expect(await runtime.predict({ url: `${base}/image.bin` })).toMatchObject({
      ok: true,
      output: { bytes: [255, 0, 1] },
    });
    expect(await runtime.predict({ url: `${base}/missing?signature=secret` })).toEqual({
      ok: false,
      error: `Fetching the input url ${base}/missing failed: HTTP 404.`,
      traceback: null,
      statusCode: null,
    });
    expect(await runtime.predict({ url: "file:///etc/passwd" })).toMatchObject({
      ok: false,
      error: expect.stringMatching(/must be an http or https URL/),
    });
  });
});
