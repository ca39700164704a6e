import { isLaunchError, type LaunchError } from "@launch/protocol";
import { describe, expect, it } from "vitest";
import type { EndpointRecord } from "../store/port.js";
import { checkCallbackUrl, checkCreateRequest, checkUpdateRequest } from "./endpoint-validation.js";

/** The body the Python client sends for the callbacks document's example. */
const docBody = {
  name: "demo-endpoint-callback",
  model_bundle_id: "bun_1",
  endpoint_type: "async",
  metadata: {},
  cpus: 1,
  gpus: 0,
  memory: "8Gi",
  storage: "16Gi",
  min_workers: 1,
  max_workers: 1,
  per_worker: 10,
  labels: { team: "MY_TEAM", product: "MY_PRODUCT" },
  post_inference_hooks: ["callback"],
  default_callback_url: "https://example.com",
  default_callback_auth: { kind: "basic", username: "user", password: "password" },
};

function errorOf(fn: () => unknown): LaunchError {
  try {
    fn();
  } catch (error) {
    if (isLaunchError(error)) return error;
    throw error;
  }
  throw new Error("expected a LaunchError");
}

function record(overrides: Partial<EndpointRecord> = {}): EndpointRecord {
  const { spec } = checkCreateRequest(docBody);
  return {
    id: "end_1",
    owner: "team",
    createdBy: "user",
    name: "demo-endpoint-callback",
    endpointType: "async",
    status: "READY",
    statusReason: null,
    spec: { ...spec, defaultCallbackAuth: { kind: "basic", username: "user", sealed: "v1.x" } },
    version: 3,
    createdAt: "2026-01-01T00:00:00.000Z",
    lastUpdatedAt: "2026-01-01T00:00:00.000Z",
    ...overrides,
  };
}

describe("checkCreateRequest", () => {
  it("accepts the callbacks document's endpoint and fills defaults", () => {
    const checked = checkCreateRequest(docBody);
    expect(checked.name).toBe("demo-endpoint-callback");
    expect(checked.auth).toEqual({ kind: "basic", username: "user", password: "password" });
    expect(checked.spec).toMatchObject({
      cpus: 1,
      memory: "8Gi",
      nodesPerWorker: 1,
      publicInference: false,
      concurrentRequestsPerWorker: null,
      callbackEvents: null,
      postInferenceHooks: ["callback"],
    });
  });

  it("names every missing required field at once", () => {
    const error = errorOf(() => checkCreateRequest({ name: "x" }));
    expect(error.status).toBe(422);
    expect(error.issues?.filter((i) => i.type === "missing").map((i) => i.loc[1])).toEqual([
      "model_bundle_id",
      "endpoint_type",
      "metadata",
      "cpus",
      "gpus",
      "memory",
      "min_workers",
      "max_workers",
      "per_worker",
      "labels",
    ]);
  });

  it("allows DNS-label names of at most 63 characters", () => {
    expect(checkCreateRequest({ ...docBody, name: "a".repeat(63) }).name).toHaveLength(63);
    for (const name of ["a".repeat(64), "My_Endpoint", "-lead", "trail-", "has space", "a/b", ""]) {
      const error = errorOf(() => checkCreateRequest({ ...docBody, name }));
      expect(error.issues?.[0]?.loc).toEqual(["body", "name"]);
    }
  });

  it("checks worker bounds", () => {
    const error = errorOf(() =>
      checkCreateRequest({ ...docBody, min_workers: 3, max_workers: 2, per_worker: 0, gpus: -1 }),
    );
    expect(error.issues?.map((i) => [i.loc[1], i.msg])).toEqual([
      ["gpus", "gpus must be ≥ 0 (got -1)"],
      ["per_worker", "per_worker must be > 0 (got 0)"],
      ["max_workers", "min_workers (3) must be ≤ max_workers (2)"],
    ]);
    expect(errorOf(() => checkCreateRequest({ ...docBody, gpus: 1.5 })).issues?.[0]?.type).toBe("type_error");
  });

  it("needs a worker for sync and streaming endpoints (400)", () => {
    for (const endpoint_type of ["sync", "streaming"]) {
      const error = errorOf(() =>
        checkCreateRequest({ ...docBody, endpoint_type, min_workers: 0, post_inference_hooks: null }),
      );
      expect(error.status).toBe(400);
      expect(error.message).toContain(`A ${endpoint_type} endpoint needs min_workers ≥ 1 (got 0)`);
    }
    expect(checkCreateRequest({ ...docBody, min_workers: 0 }).spec.minWorkers).toBe(0);
  });

  it("checks quantities and echoes them as sent", () => {
    const ok = checkCreateRequest({ ...docBody, cpus: "500m", memory: 1073741824, storage: "1G" });
    expect(ok.spec).toMatchObject({ cpus: "500m", memory: 1073741824, storage: "1G" });
    const error = errorOf(() => checkCreateRequest({ ...docBody, cpus: "lots", memory: "8gb", storage: 0 }));
    expect(error.issues?.map((i) => i.loc[1])).toEqual(["cpus", "memory", "storage"]);
    expect(error.issues?.[1]?.msg).toBe(
      'memory is "8gb"; expected a positive quantity like "512Mi", "8Gi" or a number of bytes',
    );
  });

  it("wants labels of strings", () => {
    const error = errorOf(() => checkCreateRequest({ ...docBody, labels: { team: 7 } }));
    expect(error.issues).toEqual([
      {
        loc: ["body", "labels", "team"],
        msg: "labels.team must be a string (labels map strings to strings)",
        type: "type_error",
      },
    ]);
  });

  it("answers 400 listing the allowed hooks for an unknown hook, and accepts any case", () => {
    const error = errorOf(() =>
      checkCreateRequest({ ...docBody, post_inference_hooks: ["callback", "email"] }),
    );
    expect(error.status).toBe(400);
    expect(error.message).toBe('Unsupported post-inference hook "email". The supported hooks are: callback.');
    expect(
      checkCreateRequest({ ...docBody, post_inference_hooks: ["CALLBACK", "callback"] }).spec,
    ).toMatchObject({ postInferenceHooks: ["callback"] });
  });

  it("reports 422 problems before 400 ones", () => {
    const error = errorOf(() =>
      checkCreateRequest({ ...docBody, post_inference_hooks: ["email"], cpus: "x" }),
    );
    expect(error.status).toBe(422);
  });

  it("checks callback events", () => {
    expect(
      checkCreateRequest({ ...docBody, callback_events: ["failed", "succeeded"] }).spec.callbackEvents,
    ).toEqual(["failed", "succeeded"]);
    const error = errorOf(() => checkCreateRequest({ ...docBody, callback_events: ["finished"] }));
    expect(error.issues?.[0]?.loc).toEqual(["body", "callback_events"]);
  });

  it("checks the callback credentials with the field names", () => {
    const error = errorOf(() =>
      checkCreateRequest({ ...docBody, default_callback_auth: { kind: "basic", username: "user" } }),
    );
    expect(error.issues?.[0]?.loc).toEqual(["body", "default_callback_auth", "password"]);
  });
});

describe("checkCallbackUrl", () => {
  it("accepts absolute http(s) URLs only", () => {
    expect(checkCallbackUrl("https://example.com", "default_callback_url")).toBeUndefined();
    expect(checkCallbackUrl("http://127.0.0.1:8080/cb?x=1", "default_callback_url")).toBeUndefined();
    expect(checkCallbackUrl("example.com/cb", "default_callback_url")).toMatch(
      /expected an absolute http\(s\) URL/,
    );
    expect(checkCallbackUrl("ftp://example.com", "default_callback_url")).toBe(
      "default_callback_url must use http or https (got ftp)",
    );
    expect(checkCallbackUrl("https://u:p@example.com", "default_callback_url")).toMatch(
      /must not carry credentials/,
    );
  });
});

describe("checkUpdateRequest", () => {
  it("keeps absent and null fields and merges labels", () => {
    const current = record();
    const { spec, auth } = checkUpdateRequest(
      { cpus: null, min_workers: 0, labels: { product: "NEW", extra: "yes" }, default_callback_auth: null },
      current,
    );
    expect(auth).toBeUndefined();
    expect(spec).toEqual({
      ...current.spec,
      defaultCallbackAuth: undefined,
      minWorkers: 0,
      labels: { team: "MY_TEAM", product: "NEW", extra: "yes" },
    });
  });

  it("replaces hooks, URL and credentials when given", () => {
    const { spec, auth } = checkUpdateRequest(
      {
        post_inference_hooks: [],
        default_callback_url: "https://example.com/new",
        default_callback_auth: { kind: "basic", username: "other", password: "pw" },
      },
      record(),
    );
    expect(spec.postInferenceHooks).toEqual([]);
    expect(spec.defaultCallbackUrl).toBe("https://example.com/new");
    expect(auth).toEqual({ kind: "basic", username: "other", password: "pw" });
  });

  it("checks worker bounds against the merged values", () => {
    const error = errorOf(() => checkUpdateRequest({ min_workers: 5 }, record()));
    expect(error.issues).toEqual([
      { loc: ["body", "min_workers"], msg: "min_workers (5) must be ≤ max_workers (1)", type: "value_error" },
    ]);
    const sync = record({ endpointType: "sync" });
    expect(errorOf(() => checkUpdateRequest({ min_workers: 0 }, sync)).status).toBe(400);
  });

  it("refuses to change name, type or nodes per worker, but accepts their current values", () => {
    expect(() =>
      checkUpdateRequest({ name: "demo-endpoint-callback", endpoint_type: "async" }, record()),
    ).not.toThrow();
    const error = errorOf(() => checkUpdateRequest({ name: "other", endpoint_type: "sync" }, record()));
    expect(error.issues?.map((i) => i.loc[1])).toEqual(["name", "endpoint_type"]);
  });
});
