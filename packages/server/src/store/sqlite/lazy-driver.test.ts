import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";

const require = createRequire(import.meta.url);
const driverLoaded = () => Object.keys(require.cache).some((path) => /[/\\]better-sqlite3[/\\]/.test(path));

describe("SQLite driver loading", () => {
  it("is deferred until a SQLite store is opened", async () => {
    const { openStore } = await import("../open.js");
    const { openSqliteStore } = await import("./sqlite-store.js");
    expect(driverLoaded()).toBe(false);
    const store = await openSqliteStore({ file: ":memory:" });
    await store.close();
    expect(driverLoaded()).toBe(true);
    expect(typeof openStore).toBe("function");
  });
});
