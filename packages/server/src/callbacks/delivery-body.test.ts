import { describe, expect, it } from "vitest";
import { failureBody, successBody, successBodyFromJson } from "./delivery-body.js";

describe("delivery bodies", () => {
  it("builds the seed document's success body, compact, task_id first", () => {
    expect(successBody("tsk_01", 7)).toBe('{"task_id":"tsk_01","result":7}');
    expect(successBodyFromJson("tsk_01", "8")).toBe('{"task_id":"tsk_01","result":8}');
  });

  it("keeps structured outputs and text as JSON, escaping what needs escaping", () => {
    const output = { y: [1, null, 'é"\n'], nested: { ok: true } };
    const body = successBody('tsk_"q"', output);
    expect(body).toBe('{"task_id":"tsk_\\"q\\"","result":{"y":[1,null,"é\\"\\n"],"nested":{"ok":true}}}');
    expect(JSON.parse(body)).toEqual({ task_id: 'tsk_"q"', result: output });
  });

  it("sends task_id null for sync tasks and result null for an undefined output", () => {
    expect(successBody(null, { a: 1 })).toBe('{"task_id":null,"result":{"a":1}}');
    expect(successBody("tsk_01", undefined)).toBe('{"task_id":"tsk_01","result":null}');
  });

  it("builds the failure body with its keys in order", () => {
    expect(
      failureBody("tsk_01", {
        message: "ValueError: boom",
        traceback: "Traceback (most recent call last):\n  x",
      }),
    ).toBe(
      '{"task_id":"tsk_01","status":"FAILURE","result":null,"error":"ValueError: boom",' +
        '"traceback":"Traceback (most recent call last):\\n  x"}',
    );
    expect(failureBody("tsk_02", { message: "timed out", traceback: null })).toBe(
      '{"task_id":"tsk_02","status":"FAILURE","result":null,"error":"timed out","traceback":null}',
    );
  });
});
