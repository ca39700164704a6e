import type {
  BundleFlavor,
  CloudpickleArtifactFlavor,
  RunnableImageFlavor,
  ZipArtifactFlavor,
} from "@launch/protocol";
import { describe, expect, it } from "vitest";
import { fixturePath } from "../fixtures.js";
import { createRuntime, runtimeKindOf } from "./factory.js";

const image: RunnableImageFlavor = {
  flavor: "runnable_image",
  repository: "local",
  tag: "test",
  command: [process.execPath, fixturePath("doc-model-server.mjs")],
  protocol: "http",
  predict_route: "/predict",
  healthcheck_route: "/readyz",
  env: {},
  readiness_initial_delay_seconds: 5,
  extra_routes: [],
  routes: [],
  forwarder_type: "default",
  worker_command: null,
  worker_env: null,
};

function zip(framework: ZipArtifactFlavor["framework"]): ZipArtifactFlavor {
  return {
    flavor: "zip_artifact",
    requirements: [],
    framework,
    location: "s3://bundles/x.zip",
    load_model_fn_module_path: "model.mjs#loadModel",
    load_predict_fn_module_path: "model.mjs#loadPredictFn",
    app_config: null,
  };
}

const pickle: CloudpickleArtifactFlavor = {
  flavor: "cloudpickle_artifact",
  requirements: [],
  framework: { framework_type: "pytorch", pytorch_image_tag: "1.13" },
  location: "s3://bundles/x.pkl",
  load_predict_fn: "def f(): ...",
  load_model_fn: "def g(): ...",
  app_config: null,
};

describe("createRuntime", () => {
  it("chooses the runtime by flavor", () => {
    const streaming: BundleFlavor = {
      ...image,
      flavor: "streaming_enhanced_runnable_image",
      streaming_command: [],
      streaming_predict_route: "/stream",
    };
    const triton: BundleFlavor = {
      ...image,
      flavor: "triton_enhanced_runnable_image",
      triton_model_repository: "s3://m",
    };
    expect(runtimeKindOf(image)).toBe("runnable_image");
    expect(runtimeKindOf(streaming)).toBe("runnable_image");
    expect(runtimeKindOf(triton)).toBe("runnable_image");
    expect(runtimeKindOf(zip({ framework_type: "node" }))).toBe("node");
    expect(runtimeKindOf(zip({ framework_type: "tensorflow", tensorflow_version: "2" }))).toBe("python");
    expect(runtimeKindOf(pickle)).toBe("python");
  });

  it("runs Python bundles in the harness, and says which artifact form it needs", () => {
    expect(() => createRuntime({ id: "bun_1", flavor: pickle })).toThrow(
      /Bundle bun_1 is a Python bundle: its pickle file \(artifactPath\) is needed/,
    );
    const custom = zip({ framework_type: "custom_base_image", image_repository: "r", image_tag: "t" });
    expect(() => createRuntime({ id: "bun_5", flavor: custom })).toThrow(
      /Bundle bun_5 is a Python bundle: its unpacked directory \(bundleDir\) is needed/,
    );
    expect(createRuntime({ id: "bun_1", flavor: pickle }, { artifactPath: "/tmp/x.pkl" }).kind).toBe(
      "python",
    );
    expect(createRuntime({ id: "bun_5", flavor: custom }, { bundleDir: "/tmp/x" }).kind).toBe("python");
  });

  it("needs the unpacked directory for a Node bundle", () => {
    expect(() => createRuntime({ id: "bun_2", flavor: zip({ framework_type: "node" }) })).toThrow(
      /Bundle bun_2 is a Node bundle: its unpacked directory \(bundleDir\) is needed/,
    );
  });

  it("runs the documentation model as a Node bundle and as a runnable image", async () => {
    const nodeRuntime = createRuntime(
      { id: "bun_3", flavor: zip({ framework_type: "node" }) },
      { bundleDir: fixturePath("doc-model") },
    );
    const imageRuntime = createRuntime(
      { id: "bun_4", flavor: image },
      { runnableImage: { healthPollMs: 50 } },
    );
    expect([nodeRuntime.kind, imageRuntime.kind]).toEqual(["node", "runnable_image"]);
    try {
      await Promise.all([nodeRuntime.start(), imageRuntime.start()]);
      for (const runtime of [nodeRuntime, imageRuntime]) {
        expect(await runtime.predict({ args: { x: 2, y: "hello" } })).toEqual({
          ok: true,
          output: 7,
          statusCode: 200,
        });
      }
    } finally {
      await Promise.all([nodeRuntime.stop(), imageRuntime.stop(500)]);
    }
  });
});
