import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const require = createRequire(import.meta.url);
const driverLoaded = () =>
  Object.keys(require.cache).some((path) => /[/\\]node_modules[/\\]pg[/\\]/.test(path));

describe("PostgreSQL driver loading", () => {
  it("is deferred until a PostgreSQL store is opened; a SQLite store never loads it", async () => {
    const { openStore } = await import("../open.js");
    const { openPostgresStore } = await import("./postgres-store.js");
    await import("./test-database.js");
    await import("../../testing/server.js");
    expect(driverLoaded()).toBe(false);

    const dir = await mkdtemp(join(tmpdir(), "launch-lazy-pg-"));
    try {
      const sqlite = await openStore({ databaseUrl: "", dataDir: dir });
      await sqlite.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    expect(driverLoaded()).toBe(false);

    // A port nothing listens on: opening loads the driver, then fails to connect.
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as { port: number };
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await expect(openPostgresStore({ url: `postgres://launch@127.0.0.1:${port}/launch` })).rejects.toThrow(
      /Cannot connect to the PostgreSQL store/,
    );
    expect(driverLoaded()).toBe(true);
  });
});
