import { describe, expect, it } from "vitest";
import { modelReplyOutcome, syncResponseBody } from "./model-reply.js";

describe("modelReplyOutcome", () => {
  it("parses the reply as JSON whatever its status, which becomes the status code", () => {
    expect(modelReplyOutcome("7", 200, "/predict")).toStrictEqual({ ok: true, output: 7, statusCode: 200 });
    expect(modelReplyOutcome('{"detail":"no"}', 422, "/predict")).toStrictEqual({
      ok: true,
      output: { detail: "no" },
      statusCode: 422,
    });
    expect(modelReplyOutcome(" null ", 200, "/p")).toStrictEqual({ ok: true, output: null, statusCode: 200 });
  });

  it("fails a reply that is not JSON, quoting its start and naming the route and status", () => {
    expect(modelReplyOutcome("", 502, "/predict")).toStrictEqual({
      ok: false,
      error: "The model server answered POST /predict with 502 and an empty body.",
      traceback: null,
      statusCode: 502,
    });
    const long = modelReplyOutcome(`<html>${"x".repeat(500)}`, 200, "/v1/predict");
    expect(long.ok).toBe(false);
    expect(!long.ok && long.error).toBe(
      `The model server answered POST /v1/predict with 200 and a body that is not JSON: ${JSON.stringify(`<html>${"x".repeat(194)}`)}.`,
    );
  });
});

describe("syncResponseBody", () => {
  it("writes a success in the reference's key order, compact", () => {
    expect(syncResponseBody({ ok: true, output: { a: [1, "b"] }, statusCode: 201 })).toBe(
      '{"status":"SUCCESS","result":{"result":{"a":[1,"b"]}},"traceback":null,"status_code":201}',
    );
    expect(syncResponseBody({ ok: true, output: undefined, statusCode: 200 })).toBe(
      '{"status":"SUCCESS","result":{"result":null},"traceback":null,"status_code":200}',
    );
  });

  it("writes a failure with its message as the traceback when it has none, and the error [ext]", () => {
    expect(syncResponseBody({ ok: false, error: "boom", traceback: null, statusCode: null })).toBe(
      '{"status":"FAILURE","result":null,"traceback":"boom","status_code":null,"error":"boom"}',
    );
    expect(
      JSON.parse(syncResponseBody({ ok: false, error: "e", traceback: "tb", statusCode: 500 })),
    ).toStrictEqual({ status: "FAILURE", result: null, traceback: "tb", status_code: 500, error: "e" });
  });
});
