import type { TestRequestInit, TestResponse, TestServer } from "./server.js";
import { basicAuth } from "./server.js";

/**
 * `request` for a server this test did not start in-process (a child process): JSON in and out, the key
 * as Basic auth, the same shape as `TestServer.request`.
 */
export function routeCaller(url: string): Pick<TestServer, "request"> {
  return {
    async request(method: string, path: string, init: TestRequestInit = {}): Promise<TestResponse> {
      const headers: Record<string, string> = { ...init.headers };
      if (init.key !== undefined) headers.authorization = basicAuth(init.key);
      let body: string | undefined;
      if (init.body !== undefined) {
        body = typeof init.body === "string" ? init.body : JSON.stringify(init.body);
        headers["content-type"] ??= "application/json";
      }
      const response = await fetch(`${url}${path}`, { method, headers, body });
      const text = await response.text();
      let parsed: unknown = text;
      if ((response.headers.get("content-type") ?? "").includes("json") && text !== "")
        parsed = JSON.parse(text);
      return { status: response.status, headers: response.headers, body: parsed };
    },
  };
}
