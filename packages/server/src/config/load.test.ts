import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { describeConfig, loadConfig } from "./load.js";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("loadConfig", () => {
  it("has documented defaults", () => {
    const config = loadConfig({ env: {} });
    expect(config.host).toBe("127.0.0.1");
    expect(config.port).toBe(5001);
    expect(config.dataDir).toBe("./.launch");
    expect(config.auth).toBe("keys");
    expect(Object.isFrozen(config)).toBe(true);
  });

  it("layers file < environment < overrides", () => {
    const dir = mkdtempSync(join(tmpdir(), "launch-config-"));
    dirs.push(dir);
    const file = join(dir, "launch.json");
    writeFileSync(file, JSON.stringify({ port: 6000, host: "0.0.0.0", auth: "open" }));
    const config = loadConfig({
      env: { LAUNCH_CONFIG_FILE: file, LAUNCH_PORT: "7000" },
      overrides: { auth: "keys" },
    });
    expect(config.host).toBe("0.0.0.0");
    expect(config.port).toBe(7000);
    expect(config.auth).toBe("keys");
  });

  it("names each bad setting and what it expects", () => {
    expect(() =>
      loadConfig({ env: { LAUNCH_PORT: "http", LAUNCH_AUTH: "none", LAUNCH_RESULTS_AS_STRING: "maybe" } }),
    ).toThrowError(
      /LAUNCH_PORT is "http"; expected a whole number.*LAUNCH_AUTH is "none"; expected one of keys, open.*LAUNCH_RESULTS_AS_STRING is "maybe"; expected true or false/,
    );
  });

  it("rejects unknown keys in the file and unreadable files", () => {
    const dir = mkdtempSync(join(tmpdir(), "launch-config-"));
    dirs.push(dir);
    const file = join(dir, "launch.json");
    writeFileSync(file, JSON.stringify({ prot: 1 }));
    expect(() => loadConfig({ env: {}, file })).toThrowError(/prot: unknown setting/);
    writeFileSync(file, "{");
    expect(() => loadConfig({ env: {}, file })).toThrowError(/could not be read as JSON/);
  });

  it("masks secrets when described", () => {
    const config = loadConfig({ env: { LAUNCH_SECRETS_KEY: Buffer.alloc(32, 1).toString("base64") } });
    expect(describeConfig(config).secretsKey).toBe("<set>");
    expect(describeConfig(config).port).toBe(5001);
  });
});
