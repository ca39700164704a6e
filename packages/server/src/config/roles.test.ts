import { describe, expect, it } from "vitest";
import { loadConfig } from "./load.js";
import { rolesOf } from "./roles.js";

/** The shared state split roles need. */
const SHARED = {
  LAUNCH_STORE: "postgres",
  LAUNCH_DATABASE_URL: "postgres://postgres@127.0.0.1:5432/test",
  LAUNCH_QUEUE: "redis",
  LAUNCH_REDIS_URL: "redis://127.0.0.1:6379",
  LAUNCH_ORCHESTRATION: "external",
};

describe("LAUNCH_ROLES", () => {
  it("defaults to all three roles", () => {
    expect([...rolesOf(loadConfig({ env: {} }))].sort()).toEqual(["controller", "dispatcher", "gateway"]);
  });

  it("takes a comma-separated list", () => {
    const config = loadConfig({ env: { ...SHARED, LAUNCH_ROLES: "gateway, dispatcher" } });
    expect([...rolesOf(config)].sort()).toEqual(["dispatcher", "gateway"]);
  });

  it("names an unknown role and lists the known ones", () => {
    expect(() => loadConfig({ env: { LAUNCH_ROLES: "gateway,worker" } })).toThrow(
      /LAUNCH_ROLES has "worker"; expected a comma-separated list of gateway, controller, dispatcher, or all/,
    );
  });

  it("refuses local orchestration without both the gateway and controller roles", () => {
    expect(() =>
      loadConfig({ env: { ...SHARED, LAUNCH_ORCHESTRATION: "local", LAUNCH_ROLES: "dispatcher" } }),
    ).toThrow(/LAUNCH_ORCHESTRATION=local .* needs both the gateway and controller roles/);
    expect(() => loadConfig({ env: { ...SHARED, LAUNCH_ROLES: "dispatcher" } })).not.toThrow();
  });

  it("refuses split roles on the embedded store or queue, which one process owns", () => {
    for (const env of [
      { LAUNCH_ROLES: "gateway", LAUNCH_ORCHESTRATION: "external" },
      { ...SHARED, LAUNCH_QUEUE: "embedded", LAUNCH_ROLES: "gateway" },
    ]) {
      expect(() => loadConfig({ env })).toThrow(/set LAUNCH_STORE=postgres and LAUNCH_QUEUE=redis/);
    }
  });
});
