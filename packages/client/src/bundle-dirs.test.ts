import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { unzip, type ZipArtifactFlavor } from "@launch/protocol";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../../server/src/testing/server.js";
import { startTaskRouteServer } from "../test/task-route-server.js";
import { collectBundleFiles, modulePathOf } from "./bundle-dirs.js";
import { LaunchClient } from "./client.js";
import { isLaunchClientError } from "./errors.js";

const DOC_MODEL = fileURLToPath(new URL("../../worker/fixtures/doc-model/", import.meta.url));

async function rejection(promise: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await promise;
  } catch (error) {
    return error as Error & Record<string, unknown>;
  }
  throw new Error("expected the promise to reject");
}

async function write(path: string, text: string): Promise<void> {
  await mkdir(join(path, ".."), { recursive: true });
  await writeFile(path, text);
}

describe("collectBundleFiles", () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "launch-bundle-dirs-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("packs a directory at the root, keeps node_modules, skips .git and node_modules/.cache", async () => {
    const model = join(dir, "model");
    await write(join(model, "model.mjs"), "export const loadModel = () => 1;");
    await write(join(model, "lib", "util.mjs"), "export const two = 2;");
    await write(join(model, "node_modules", "dep", "index.js"), "module.exports = 3;");
    await write(join(model, "node_modules", "dep", "node_modules", ".cache", "x"), "nested cache");
    await write(join(model, "node_modules", ".cache", "big.bin"), "cache");
    await write(join(model, ".git", "HEAD"), "ref: refs/heads/main");
    await write(join(dir, "outside.txt"), "linked in");
    await symlink(join(dir, "outside.txt"), join(model, "linked.txt"));

    const entries = await collectBundleFiles({ baseDir: model });
    expect(entries.map((entry) => entry.path)).toEqual([
      "lib/util.mjs",
      "linked.txt",
      "model.mjs",
      "node_modules/dep/index.js",
    ]);
    expect(new TextDecoder().decode(entries.find((e) => e.path === "linked.txt")!.data)).toBe("linked in");
  });

  it("packs each of baseDirs under its own name, as the Python client's base_paths", async () => {
    await write(join(dir, "a", "model.mjs"), "a");
    await write(join(dir, "b", "helpers", "h.mjs"), "b");
    const entries = await collectBundleFiles({ baseDirs: [join(dir, "a"), join(dir, "b")] });
    expect(entries.map((entry) => entry.path)).toEqual(["a/model.mjs", "b/helpers/h.mjs"]);
  });

  it("follows a link back up the tree only once", async () => {
    await write(join(dir, "m", "model.mjs"), "x");
    await symlink(join(dir, "m"), join(dir, "m", "loop"));
    const entries = await collectBundleFiles({ baseDir: join(dir, "m") });
    expect(entries.map((entry) => entry.path)).toEqual(["model.mjs"]);
  });

  it("names the option for a missing, non-directory, empty or ambiguous source", async () => {
    await write(join(dir, "file.txt"), "x");
    await mkdir(join(dir, "empty"));
    await write(join(dir, "one", "same", "a.mjs"), "a");
    await write(join(dir, "two", "same", "b.mjs"), "b");
    const cases: [Parameters<typeof collectBundleFiles>[0], string][] = [
      [{ baseDir: join(dir, "missing") }, "baseDir: "],
      [{ baseDir: join(dir, "file.txt") }, "is not a directory"],
      [{ baseDir: join(dir, "empty") }, "holds no files"],
      [{}, "give exactly one of baseDir"],
      [{ baseDir: dir, baseDirs: [dir] }, "give exactly one of baseDir"],
      [{ baseDirs: [] }, "baseDirs: name at least one directory"],
      [{ baseDirs: [join(dir, "one", "same"), join(dir, "two", "same")] }, "baseDirs[1]: "],
    ];
    for (const [dirs, message] of cases) {
      const error = await rejection(collectBundleFiles(dirs));
      expect(isLaunchClientError(error, "ValidationError"), message).toBe(true);
      expect(error.message).toContain(message);
    }
  });

  it("modulePathOf takes the module part of module#export", () => {
    expect(modulePathOf("model.mjs#loadModel")).toBe("model.mjs");
    expect(modulePathOf("./lib/model.mjs")).toBe("lib/model.mjs");
  });
});

describe("createModelBundleFromDirsV2 against a real server", () => {
  let server: TestServer;
  let key: string;
  let client: LaunchClient;

  beforeAll(async () => {
    server = await startTestServer();
    key = await server.createKey("alice", "ml");
    client = new LaunchClient({ apiKey: key, endpoint: server.url });
  });
  afterAll(async () => {
    await server.close();
  });

  const download = async (location: string): Promise<Uint8Array> => {
    const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(location);
    expect(match).not.toBeNull();
    const response = await fetch(`${server.url}/v1/artifacts/${match![1]}/${match![2]}`, {
      headers: { authorization: `Basic ${Buffer.from(`${key}:`).toString("base64")}` },
    });
    expect(response.status).toBe(200);
    return new Uint8Array(await response.arrayBuffer());
  };

  it("uploads the zipped directory and the schemas, and creates a node zip_artifact bundle", async () => {
    const { model_bundle_id: id } = await client.createModelBundleFromDirsV2({
      modelBundleName: "test-bundle",
      baseDir: DOC_MODEL,
      loadModelFnModulePath: "model.mjs#loadModel",
      loadPredictFnModulePath: "model.mjs#loadPredictFn",
      requirements: ["left-pad@1.3.0"],
      appConfig: { scale: 1 },
      nodeVersion: "20",
      metadata: { owner: "alice" },
      requestSchema: { type: "object", properties: { x: { type: "integer" }, y: { type: "string" } } },
      responseSchema: { type: "integer" },
    });
    const bundle = await client.getModelBundleV2(id);
    expect(bundle).toMatchObject({ name: "test-bundle", metadata: { owner: "alice" } });
    const flavor = bundle.flavor as ZipArtifactFlavor;
    expect(flavor).toMatchObject({
      flavor: "zip_artifact",
      requirements: ["left-pad@1.3.0"],
      framework: { framework_type: "node", node_version: "20" },
      load_model_fn_module_path: "model.mjs#loadModel",
      load_predict_fn_module_path: "model.mjs#loadPredictFn",
      app_config: { scale: 1 },
    });

    const files = unzip(await download(flavor.location));
    expect(files.map((file) => file.path)).toEqual(["model.mjs"]);
    expect(new TextDecoder().decode(files[0]!.data)).toContain("export function loadPredictFn");

    const schemas = JSON.parse(new TextDecoder().decode(await download(bundle.schema_location!)));
    expect(schemas).toEqual({
      RequestSchema: { type: "object", properties: { x: { type: "integer" }, y: { type: "string" } } },
      ResponseSchema: { type: "integer" },
    });
  });

  it("defaults: no requirements, node_version and app_config null", async () => {
    const { model_bundle_id: id } = await client.createModelBundleFromDirsV2({
      modelBundleName: "defaults",
      baseDir: DOC_MODEL,
      loadModelFnModulePath: "model.mjs#loadModel",
      loadPredictFnModulePath: "model.mjs#loadPredictFn",
    });
    expect((await client.getModelBundleV2(id)).flavor).toMatchObject({
      requirements: [],
      framework: { framework_type: "node", node_version: null },
      app_config: null,
    });
  });

  it("a module path that is not in the bundle is a ValidationError, and nothing is sent", async () => {
    const recorder = await startTaskRouteServer();
    try {
      const offline = new LaunchClient({ apiKey: "lk_test", endpoint: recorder.url });
      const error = await rejection(
        offline.createModelBundleFromDirsV2({
          modelBundleName: "typo",
          baseDir: DOC_MODEL,
          loadModelFnModulePath: "model.mjs#loadModel",
          loadPredictFnModulePath: "modle.mjs#loadPredictFn",
        }),
      );
      expect(isLaunchClientError(error, "ValidationError")).toBe(true);
      expect(error.message).toContain("loadPredictFnModulePath: modle.mjs is not among the bundled files");
      expect(recorder.requests).toEqual([]);
    } finally {
      await recorder.close();
    }
  });
});
