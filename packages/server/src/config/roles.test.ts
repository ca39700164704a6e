import { describe, expect, it } from "vitest";
import { loadConfig } from "./load.js";
import { rolesOf } from "./roles.js";

describe("LAUNCH_ROLES", () => {
  it("defaults to all three roles", () => {
    expect([...rolesOf(loadConfig({ env: {} }))].sort()).toEqual(["controller", "dispatcher", "gateway"]);
  });

  it("takes a comma-separated list", () => {
    const config = loadConfig({
      env: { LAUNCH_ROLES: "gateway, dispatcher", LAUNCH_ORCHESTRATION: "external" },
    });
    expect([...rolesOf(config)].sort()).toEqual(["dispatcher", "gateway"]);
  });

  it("names an unknown role and lists the known ones", () => {
    expect(() => loadConfig({ env: { LAUNCH_ROLES: "gateway,worker" } })).toThrow(
      /LAUNCH_ROLES has "worker"; expected a comma-separated list of gateway, controller, dispatcher, or all/,
    );
  });

  it("refuses local orchestration without both the gateway and controller roles", () => {
    expect(() => loadConfig({ env: { LAUNCH_ROLES: "dispatcher" } })).toThrow(
      /LAUNCH_ORCHESTRATION=local .* needs both the gateway and controller roles/,
    );
    expect(() =>
      loadConfig({ env: { LAUNCH_ROLES: "dispatcher", LAUNCH_ORCHESTRATION: "external" } }),
    ).not.toThrow();
  });
});
