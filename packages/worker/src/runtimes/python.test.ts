import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CloudpickleArtifactFlavor, ZipArtifactFlavor } from "@launch/protocol";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { NO_INPUT_ERROR } from "./port.js";
import { PythonRuntime, type PythonRuntimeOptions } from "./python.js";
import {
  hostPythonMinor,
  otherPython,
  pickleBundle,
  unpickleBase64,
  writeTestWheel,
  zipModelDir,
} from "./python-testing.js";

const scratch = mkdtempSync(join(tmpdir(), "launch-python-"));
const started: PythonRuntime[] = [];

afterEach(async () => {
  await Promise.all(started.splice(0).map((r) => r.stop(500)));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function cloudpickleFlavor(overrides: Partial<CloudpickleArtifactFlavor> = {}): CloudpickleArtifactFlavor {
  return {
    flavor: "cloudpickle_artifact",
    requirements: [],
    framework: { framework_type: "pytorch", pytorch_image_tag: "1.7.1-cuda11.0-cudnn8-runtime" },
    location: "s3://launch/uploads/t/upl_1",
    load_predict_fn: "def load_predict_fn(model): ...",
    load_model_fn: "def load_model_fn(): ...",
    app_config: null,
    ...overrides,
  };
}

function zipFlavor(overrides: Partial<ZipArtifactFlavor> = {}): ZipArtifactFlavor {
  return {
    flavor: "zip_artifact",
    requirements: [],
    framework: { framework_type: "pytorch", pytorch_image_tag: "1.7.1-cuda11.0-cudnn8-runtime" },
    location: "s3://launch/uploads/t/upl_2",
    load_predict_fn_module_path: "doc_model.model.load_predict_fn",
    load_model_fn_module_path: "doc_model.model.load_model_fn",
    app_config: { offset: 10 },
    ...overrides,
  };
}

function runtime(options: PythonRuntimeOptions): PythonRuntime {
  const created = new PythonRuntime({ ...options, process: { healthPollMs: 50, readinessMarginMs: 20_000 } });
  started.push(created);
  return created;
}

let counter = 0;
function pickled(variant: Parameters<typeof pickleBundle>[1]): string {
  counter += 1;
  return pickleBundle(join(scratch, `${variant}-${counter}.pkl`), variant);
}

describe("PythonRuntime (the harness run by the host's python3)", () => {
  it("runs the document's cloudpickle bundle: 7 and 8, status 200", async () => {
    const model = runtime({ flavor: cloudpickleFlavor(), artifact: pickled("doc") });
    await model.start();
    expect(model.kind).toBe("python");
    expect(model.pid).toBeGreaterThan(0);
    expect(await model.predict({ args: { x: 2, y: "hello" } })).toEqual({
      ok: true,
      output: 7,
      statusCode: 200,
    });
    expect(await model.predict({ args: { x: 3, y: "hello" } })).toEqual({
      ok: true,
      output: 8,
      statusCode: 200,
    });
  });

  it("fails a task whose predict raises with the message and the Python traceback", async () => {
    const model = runtime({ flavor: cloudpickleFlavor(), artifact: pickled("raises") });
    await model.start();
    const outcome = await model.predict({ args: { x: 2, y: "hello" } });
    expect(outcome).toMatchObject({ ok: false, error: "division by zero", statusCode: 500 });
    if (outcome.ok) throw new Error("expected a failure");
    expect(outcome.traceback).toMatch(/^Traceback \(most recent call last\):/);
    expect(outcome.traceback).toContain("ZeroDivisionError: division by zero");
  });

  it("applies the input rules: args as keywords, a non-object args fails, neither fails", async () => {
    const model = runtime({ flavor: cloudpickleFlavor(), artifact: pickled("doc") });
    await model.start();
    expect(await model.predict({ args: [2, "hello"] })).toMatchObject({
      ok: false,
      error: "args must be a JSON object, passed to predict as keyword arguments (got an array)",
    });
    expect(await model.predict({})).toMatchObject({ ok: false, error: NO_INPUT_ERROR });
    const wrong = await model.predict({ args: { x: 2 } });
    expect(wrong).toMatchObject({ ok: false });
    if (!wrong.ok) expect(wrong.error).toContain("missing 1 required positional argument: 'y'");
  });

  it("passes the app_config first to both loaders when there is one", async () => {
    const model = runtime({
      flavor: cloudpickleFlavor({ app_config: { offset: 100 } }),
      artifact: pickled("app_config"),
    });
    await model.start();
    expect(await model.predict({ args: { x: 2, y: "hello" } })).toMatchObject({ ok: true, output: 107 });
  });

  it("runs a pickle that is the predict callable itself", async () => {
    const model = runtime({ flavor: cloudpickleFlavor(), artifact: pickled("callable") });
    await model.start();
    expect(await model.predict({ args: { x: 3, y: "hello" } })).toMatchObject({ ok: true, output: 8 });
  });

  it("fetches a url input and calls predict with its raw bytes", async () => {
    const server: Server = createServer((_req, res) => res.end("héllo"));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const model = runtime({ flavor: cloudpickleFlavor(), artifact: pickled("bytes") });
      await model.start();
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/input`;
      expect(await model.predict({ url })).toMatchObject({ ok: true, output: { length: 6, text: "héllo" } });
      // Only the web: a file: URL would read this host's files.
      expect(await model.predict({ url: "file:///etc/passwd" })).toMatchObject({
        ok: false,
        error: "url must be an http or https URL",
      });
    } finally {
      server.close();
    }
  });

  it("fails an output that is not JSON with its type name, and pickles it on return_pickled", async () => {
    const model = runtime({ flavor: cloudpickleFlavor(), artifact: pickled("output") });
    await model.start();
    const outcome = await model.predict({ args: { kind: "set" } });
    expect(outcome).toMatchObject({ ok: false });
    if (!outcome.ok) expect(outcome.error).toMatch(/^the model's output is not JSON-serialisable: set/);
    const asPickle = await model.predict({ args: { kind: "dict" }, returnPickled: true });
    expect(asPickle).toMatchObject({ ok: true, output: null, statusCode: 200 });
    if (!asPickle.ok || asPickle.pickled === undefined) throw new Error("expected a pickled output");
    expect(unpickleBase64(asPickle.pickled)).toEqual({ kind: "dict" });
  });

  it("runs a zip bundle from its unpacked directory, giving both loaders the app_config", async () => {
    const model = runtime({ flavor: zipFlavor(), artifact: zipModelDir() });
    await model.start();
    expect(await model.predict({ args: { x: 2, y: "hello" } })).toMatchObject({ ok: true, output: 17 });
  });

  it("fails to start when a zip loader path does not import, saying which", async () => {
    const model = runtime({
      flavor: zipFlavor({ load_model_fn_module_path: "doc_model.nowhere.load_model_fn" }),
      artifact: zipModelDir(),
    });
    await expect(model.start()).rejects.toThrow(
      /The Python bundle could not start: load_model_fn_module_path: could not import module doc_model\.nowhere/,
    );
  });

  it("fails to start with the missing requirements listed when no package index is reachable", async () => {
    const model = runtime({
      flavor: cloudpickleFlavor({ requirements: ["launch-surely-not-a-package==1.2.3", "cloudpickle"] }),
      artifact: pickled("doc"),
      venvDir: join(scratch, "venv-missing"),
      installTimeoutSeconds: 60,
    });
    const error = await model.start().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error?.message).toMatch(
      /The Python bundle could not start: the bundle requires packages that are not installed on this host and could not be installed \(is a package index reachable\?\): launch-surely-not-a-package==1\.2\.3\./,
    );
    expect(error?.message).not.toContain("cloudpickle,");
  }, 90_000);

  it("installs missing requirements into the bundle's virtualenv, once for all its workers", async () => {
    const wheels = join(scratch, "wheels");
    mkdirSync(wheels, { recursive: true });
    writeTestWheel(wheels);
    // pip's own settings reach the harness: here, a local wheel directory instead of an index.
    process.env.PIP_FIND_LINKS = wheels;
    process.env.PIP_NO_INDEX = "1";
    try {
      const venvDir = join(scratch, "venvs", "bun_requires");
      const flavor = cloudpickleFlavor({ requirements: ["launch-test-pkg==1.0.0"] });
      const artifact = pickled("requires_pkg");
      const [a, b] = [runtime({ flavor, artifact, venvDir }), runtime({ flavor, artifact, venvDir })];
      await Promise.all([a.start(), b.start()]);
      expect(await a.predict({ args: { x: 1 } })).toMatchObject({ ok: true, output: 43 });
      expect(await b.predict({ args: { x: 2 } })).toMatchObject({ ok: true, output: 44 });
      // Both run in the virtualenv; only the first to take its lock installed into it.
      const lines = [...a.logs(), ...b.logs()];
      expect(lines.filter((line) => line.includes("restarting under"))).toHaveLength(2);
      expect(lines.filter((line) => line.includes("installing launch-test-pkg==1.0.0"))).toHaveLength(1);
    } finally {
      delete process.env.PIP_FIND_LINKS;
      delete process.env.PIP_NO_INDEX;
    }
  }, 120_000);

  it("starts without installing when the requirements are already importable", async () => {
    const model = runtime({
      flavor: cloudpickleFlavor({ requirements: ["cloudpickle>=1.0", "requests"] }),
      artifact: pickled("doc"),
      venvDir: null,
    });
    await model.start();
    expect(await model.predict({ args: { x: 2, y: "hello" } })).toMatchObject({ ok: true, output: 7 });
  });

  it("says when the interpreter is missing", async () => {
    const model = runtime({
      flavor: cloudpickleFlavor(),
      artifact: pickled("doc"),
      python: "/nonexistent/python3",
    });
    await expect(model.start()).rejects.toThrow(
      /The Python interpreter "\/nonexistent\/python3" was not found/,
    );
  });

  describe("a bundle pickled under another Python minor version", () => {
    const host = hostPythonMinor();
    for (const minor of ["3.10", "3.12"]) {
      it(`fails to start with a reason naming the version mismatch (pickled by ${minor})`, async () => {
        const other = otherPython(scratch, [minor]);
        if (!other) {
          if (process.env.CI) throw new Error(`CI needs a Python ${minor} interpreter (pyenv) for this test`);
          console.warn(`skipped: no Python ${minor} interpreter on this host (install one with pyenv)`);
          return;
        }
        const artifact = pickleBundle(join(scratch, `doc-${minor}.pkl`), "doc", other.python, other.env);
        const model = runtime({ flavor: cloudpickleFlavor(), artifact });
        const error = await model.start().then(
          () => undefined,
          (e: unknown) => e as Error,
        );
        expect(error?.message).toMatch(/pickled under another Python minor version/);
        expect(error?.message).toContain(`Python ${host}.`);
      }, 30_000);
    }
  });
});
