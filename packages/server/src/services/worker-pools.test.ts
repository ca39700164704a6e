import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { WorkerPools } from "./worker-pools.js";

let server: Server | undefined;

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

describe("WorkerPools", () => {
  it("keeps one pool per worker URL and reuses its connection", async () => {
    const sockets = new Set<unknown>();
    server = createServer((req, res) => {
      sockets.add(req.socket);
      res.end("ok");
    });
    await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const pools = new WorkerPools();
    expect(pools.get(url)).toBe(pools.get(url));
    for (let i = 0; i < 3; i++) {
      const { body } = await pools.get(url).request({ method: "POST", path: "/predict", body: "{}" });
      expect(await body.text()).toBe("ok");
      // Let undici see the response complete and hand the connection back before the next request.
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(sockets.size).toBe(1);
    await pools.close();
    expect(() => pools.get(url)).toThrow(/closed/);
  });

  it("drops a discarded pool, and the least recently used beyond maxPools", async () => {
    const pools = new WorkerPools({ maxPools: 2 });
    const a = pools.get("http://127.0.0.1:1");
    pools.get("http://127.0.0.1:2");
    pools.get("http://127.0.0.1:1");
    pools.get("http://127.0.0.1:3");
    expect(pools.size).toBe(2);
    expect(pools.get("http://127.0.0.1:1")).toBe(a);
    pools.discard("http://127.0.0.1:1");
    expect(pools.size).toBe(1);
    expect(pools.get("http://127.0.0.1:1")).not.toBe(a);
    await pools.close();
    expect(pools.size).toBe(0);
  });
});
