import { describe, expect, it } from "vitest";
import { isLaunchClientError } from "./errors.js";
import { EndpointRequest, responseFromWire, toEndpointRequest } from "./tasks.js";

function thrown(fn: () => unknown): Error & Record<string, unknown> {
  try {
    fn();
  } catch (error) {
    return error as Error & Record<string, unknown>;
  }
  throw new Error("expected a throw");
}

describe("EndpointRequest → wire PredictRequest", () => {
  it("maps args, url, returnPickled and callbackUrl, leaving out what was not given", () => {
    expect(new EndpointRequest({ args: { x: 2, y: "hello" } }).toPredictRequest()).toEqual({
      args: { x: 2, y: "hello" },
      return_pickled: false,
    });
    expect(
      new EndpointRequest({
        url: "https://example.com/input.json",
        returnPickled: true,
        callbackUrl: "https://example.com/cb",
        callbackEvents: ["succeeded", "failed"],
      }).toPredictRequest(),
    ).toEqual({
      url: "https://example.com/input.json",
      return_pickled: true,
      callback_url: "https://example.com/cb",
      callback_events: ["succeeded", "failed"],
    });
  });

  it("keeps falsy args (0, false, null, empty string) as they are", () => {
    for (const args of [0, false, null, ""]) {
      expect(new EndpointRequest({ args }).toPredictRequest().args).toBe(args);
    }
  });

  it("builds callback_auth {kind, username, password} and {kind, cert, key}", () => {
    expect(
      new EndpointRequest({
        args: {},
        callbackAuthKind: "basic",
        callbackAuthUsername: "user",
        callbackAuthPassword: "password",
      }).toPredictRequest().callback_auth,
    ).toEqual({ kind: "basic", username: "user", password: "password" });
    expect(
      new EndpointRequest({
        args: {},
        callbackAuthKind: "mtls",
        callbackAuthCert: "-----BEGIN CERTIFICATE-----",
        callbackAuthKey: "-----BEGIN PRIVATE KEY-----",
      }).toPredictRequest().callback_auth,
    ).toEqual({ kind: "mtls", cert: "-----BEGIN CERTIFICATE-----", key: "-----BEGIN PRIVATE KEY-----" });
  });

  it("rejects credentials without a kind or of the other kind, naming the option", () => {
    const noKind = thrown(() => new EndpointRequest({ args: {}, callbackAuthPassword: "p" }));
    expect(isLaunchClientError(noKind, "ValidationError")).toBe(true);
    expect(noKind.message).toContain("callbackAuthPassword needs callbackAuthKind");
    expect(noKind.fields).toEqual([expect.objectContaining({ loc: ["body", "callback_auth", "password"] })]);

    const wrongKind = thrown(
      () => new EndpointRequest({ args: {}, callbackAuthKind: "mtls", callbackAuthUsername: "u" }),
    );
    expect(wrongKind.message).toContain('callbackAuthUsername does not apply to callbackAuthKind "mtls"');

    const unknownKind = thrown(
      () => new EndpointRequest({ args: {}, callbackAuthKind: "oauth" as unknown as "basic" }),
    );
    expect(unknownKind.message).toContain('callbackAuthKind must be "basic" or "mtls"');
  });

  it("rejects fields of the wrong type, naming each", () => {
    const error = thrown(
      () =>
        new EndpointRequest({
          url: 5 as unknown as string,
          returnPickled: "yes" as unknown as boolean,
        }),
    );
    expect(error.message).toContain("url must be a string");
    expect(error.message).toContain("returnPickled must be true or false");
  });

  it("keeps requestId on the SDK side (a UUID by default) and never serialises secrets", () => {
    const request = new EndpointRequest({
      args: { x: 1 },
      callbackAuthKind: "basic",
      callbackAuthUsername: "user",
      callbackAuthPassword: "hunter2",
    });
    expect(request.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(request.toPredictRequest()).not.toHaveProperty("request_id");
    expect(new EndpointRequest({ requestId: "mine" }).requestId).toBe("mine");
    const shown = JSON.stringify(request);
    expect(shown).not.toContain("hunter2");
    expect(JSON.parse(shown)).toMatchObject({ callback_auth: { kind: "basic", username: "user" } });
  });

  it("toEndpointRequest accepts a request or its options", () => {
    const request = new EndpointRequest({ args: 1 });
    expect(toEndpointRequest(request)).toBe(request);
    expect(toEndpointRequest({ args: 2 }).toPredictRequest()).toEqual({ args: 2, return_pickled: false });
  });
});

describe("wire task responses → EndpointResponse", () => {
  it("reads the model output from result.result", () => {
    const raw = {
      task_id: "tsk_1",
      status: "SUCCESS",
      result: { result: 7 },
      traceback: null,
      status_code: 200,
    } as const;
    expect(responseFromWire(raw)).toEqual({
      status: "SUCCESS",
      result: 7,
      error: null,
      traceback: null,
      statusCode: 200,
      taskId: "tsk_1",
      raw,
    });
  });

  it("keeps a null or falsy output, and reads result_url for pickled results", () => {
    expect(
      responseFromWire({ status: "SUCCESS", result: { result: null }, traceback: null, status_code: 200 })
        .result,
    ).toBeNull();
    expect(
      responseFromWire({ status: "SUCCESS", result: { result: 0 }, traceback: null, status_code: 200 })
        .result,
    ).toBe(0);
    const pickled = responseFromWire({
      status: "SUCCESS",
      result: { result_url: "s3://launch/results/tsk_1" },
      traceback: null,
      status_code: 200,
    });
    expect(pickled).toMatchObject({ result: null, resultUrl: "s3://launch/results/tsk_1" });
  });

  it("a failure has its message in error, and no result", () => {
    expect(
      responseFromWire({
        task_id: "tsk_2",
        status: "FAILURE",
        result: "boom",
        traceback: "Error: boom",
        status_code: 500,
      }),
    ).toMatchObject({
      status: "FAILURE",
      result: null,
      error: "boom",
      traceback: "Error: boom",
      statusCode: 500,
    });
    // Sync failures carry no message, only the traceback.
    expect(
      responseFromWire({ status: "FAILURE", result: null, traceback: "Error: boom", status_code: 500 }),
    ).toMatchObject({ result: null, error: null, traceback: "Error: boom" });
  });

  it("pending tasks have nothing yet", () => {
    expect(
      responseFromWire({
        task_id: "tsk_3",
        status: "PENDING",
        result: null,
        traceback: null,
        status_code: null,
      }),
    ).toMatchObject({ status: "PENDING", result: null, error: null, statusCode: null, taskId: "tsk_3" });
  });
});
