import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { LaunchClient, PostInferenceHooks } from "@launch/client";
import { startTestServer, type TestServer } from "@launch/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../run.js";
import { memoryIo } from "../test-io.js";

describe("launch bundles and launch endpoints, through the SDK against a real server", () => {
  let server: TestServer;
  let key: string;
  let env: Record<string, string>;
  let bundleId: string;

  beforeAll(async () => {
    server = await startTestServer();
    key = await server.createKey("alice", "ml");
    env = { LAUNCH_API_KEY: key, LAUNCH_ENDPOINT: server.url };
    const client = new LaunchClient({ apiKey: key, endpoint: server.url });
    await client.createModelBundleV2({
      modelBundleName: "cli-bundle",
      flavor: {
        flavor: "runnable_image",
        repository: "python",
        tag: "3.12",
        command: ["python", "serve.py"],
      },
    });
    bundleId = (
      await client.createModelBundleV2({
        modelBundleName: "other-bundle",
        flavor: { flavor: "runnable_image", repository: "node", tag: "20", command: ["node", "serve.js"] },
      })
    ).model_bundle_id;
    await client.createModelEndpoint({
      endpointName: "cli-endpoint",
      modelBundle: "cli-bundle",
      endpointType: "async",
      labels: { team: "MY_TEAM" },
      postInferenceHooks: [PostInferenceHooks.CALLBACK],
      defaultCallbackUrl: "https://example.com",
      defaultCallbackAuthKind: "basic",
      defaultCallbackAuthUsername: "user",
      defaultCallbackAuthPassword: "hunter2-secret",
    });
    await client.createModelEndpoint({ endpointName: "cli-sync", modelBundle: bundleId });
  });
  afterAll(async () => {
    await server.close();
  });

  const run = async (args: string[], runEnv: Record<string, string> = env) => {
    const io = memoryIo(runEnv);
    const code = await runCli(args, io);
    return { code, stdout: io.stdoutText(), stderr: io.stderrText() };
  };

  it("bundles list prints an aligned table with the names", async () => {
    const result = await run(["bundles", "list"]);
    expect(result).toMatchObject({ code: 0, stderr: "" });
    const [header, ...rows] = result.stdout.trimEnd().split("\n");
    expect(header).toMatch(/^ID\s+NAME\s+FLAVOR\s+CREATED$/);
    expect(rows.length).toBe(2);
    expect(result.stdout).toContain("cli-bundle");
    expect(result.stdout).toContain("other-bundle");
    // Columns line up: every row's NAME starts where the header's does.
    const nameColumn = header!.indexOf("NAME");
    for (const row of rows) expect(row.slice(nameColumn)).toMatch(/^(cli|other)-bundle/);
  });

  it("bundles list --json --name prints the wire objects of that name", async () => {
    const result = await run(["bundles", "list", "--json", "--name", "other-bundle"]);
    expect(result.code).toBe(0);
    const bundles = JSON.parse(result.stdout) as { id: string; name: string }[];
    expect(bundles.map((b) => [b.id, b.name])).toEqual([[bundleId, "other-bundle"]]);
  });

  it("bundles get takes an id or a name", async () => {
    const byId = await run(["bundles", "get", bundleId, "--json"]);
    expect(byId.code).toBe(0);
    expect(JSON.parse(byId.stdout)).toMatchObject({
      id: bundleId,
      flavor: { repository: "node", tag: "20" },
    });

    const byName = await run(["bundles", "get", "cli-bundle"]);
    expect(byName.code).toBe(0);
    expect(byName.stdout).toMatch(/^name\s+cli-bundle$/m);
    expect(byName.stdout).toMatch(/^repository\s+python$/m);
  });

  it("endpoints list prints a table; --json the wire views, without callback secrets", async () => {
    const table = await run(["endpoints", "list"]);
    expect(table.code).toBe(0);
    const [header, ...rows] = table.stdout.trimEnd().split("\n");
    expect(header).toMatch(/^NAME\s+ID\s+TYPE\s+STATUS\s+BUNDLE\s+WORKERS\s+CREATED$/);
    expect(rows.map((row) => row.split(/\s+/)[0])).toEqual(["cli-endpoint", "cli-sync"]);
    expect(rows[0]).toContain("async");
    expect(rows[0]).toContain("cli-bundle");

    const json = await run(["endpoints", "list", "--json"]);
    const views = JSON.parse(json.stdout) as { name: string; default_callback_auth: unknown }[];
    expect(views.map((v) => v.name)).toEqual(["cli-endpoint", "cli-sync"]);
    expect(views[0]!.default_callback_auth).toEqual({ kind: "basic", username: "user" });
    expect(json.stdout).not.toContain("hunter2-secret");
  });

  it("endpoints get shows one endpoint by name or id", async () => {
    const json = await run(["endpoints", "get", "cli-endpoint", "--json"]);
    expect(json.code).toBe(0);
    const view = JSON.parse(json.stdout) as { id: string; labels: Record<string, string> };
    expect(view.labels).toEqual({ team: "MY_TEAM" });

    const text = await run(["endpoints", "get", view.id]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^name\s+cli-endpoint$/m);
    expect(text.stdout).toMatch(/^type\s+async$/m);
    expect(text.stdout).toMatch(/^default_callback_auth\s+\{"kind":"basic","username":"user"\}$/m);
    expect(text.stdout).not.toContain("hunter2-secret");
  });

  it("flags win over the environment", async () => {
    const result = await run(["endpoints", "list", "--json", "--api-key", key, "--endpoint", server.url], {
      LAUNCH_API_KEY: "lk_wrong",
      LAUNCH_ENDPOINT: "http://127.0.0.1:9",
    });
    expect(result.code).toBe(0);
    expect((JSON.parse(result.stdout) as unknown[]).length).toBe(2);
  });

  it("endpoints delete removes it; getting it afterwards fails with exit 1", async () => {
    const deleted = await run(["endpoints", "delete", "cli-sync"]);
    expect(deleted).toMatchObject({ code: 0, stderr: "" });
    expect(deleted.stdout).toMatch(/^Deleted endpoint cli-sync \(end_[0-9a-z]+\)\.\n$/);

    const missing = await run(["endpoints", "get", "cli-sync"]);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toBe("");
    expect(missing.stderr).toMatch(/^error: .*cli-sync.*not found.*\n$/i);
  });

  it("a missing API key is a usage error that says how to give one", async () => {
    const result = await run(["endpoints", "list"], { LAUNCH_ENDPOINT: server.url });
    expect(result.code).toBe(2);
    expect(result.stderr.split("\n").filter(Boolean).length).toBe(1);
    expect(result.stderr).toContain("--api-key");
    expect(result.stderr).toContain("LAUNCH_API_KEY");
  });

  it("a wrong key fails with the server's 401 message", async () => {
    const result = await run(["bundles", "list"], {
      LAUNCH_API_KEY: "lk_wrong",
      LAUNCH_ENDPOINT: server.url,
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: Could not authenticate user.*\n$/);
  });

  it("an unreachable server fails with one line naming it", async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const result = await run(["endpoints", "list"], {
      LAUNCH_API_KEY: key,
      LAUNCH_ENDPOINT: `http://127.0.0.1:${port}`,
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`^error: Could not reach http://127.0.0.1:${port}.*\\n$`));
  });

  it("unknown commands are usage errors; --help exits 0", async () => {
    expect((await run(["endpoints", "frobnicate"])).code).toBe(2);
    const help = await run(["--help"]);
    expect(help.code).toBe(0);
    for (const command of ["serve", "keys", "bundles", "endpoints"]) expect(help.stdout).toContain(command);
  });
});
