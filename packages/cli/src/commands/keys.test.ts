import { LaunchClient } from "@launch/client";
import { startTestServer, type TestServer } from "@launch/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../run.js";
import { memoryIo } from "../test-io.js";

describe("launch keys, on the store of a running server", () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server.close();
  });

  const run = async (args: string[], env: Record<string, string> = {}) => {
    const io = memoryIo(env);
    const code = await runCli(args, io);
    return { code, stdout: io.stdoutText(), stderr: io.stderrText() };
  };

  it("create --json prints exactly {key, user_id, team_id}, and the key works on the server", async () => {
    const result = await run([
      "keys",
      "create",
      "--user",
      "carol",
      "--team",
      "ml",
      "--json",
      "--data-dir",
      server.dataDir,
    ]);
    expect(result).toMatchObject({ code: 0, stderr: "" });
    const printed = JSON.parse(result.stdout) as Record<string, string>;
    expect(Object.keys(printed)).toEqual(["key", "user_id", "team_id"]);
    expect(printed).toMatchObject({ user_id: "carol", team_id: "ml" });
    expect(result.stdout).toBe(`{"key": "${printed.key}", "user_id": "carol", "team_id": "ml"}\n`);

    const client = new LaunchClient({ apiKey: printed.key!, endpoint: server.url });
    expect(await client.listModelEndpoints()).toEqual([]);
  });

  it("create without --json prints the key once with who it is for; --admin gives the admin role", async () => {
    const result = await run(["keys", "create", "--user", "dave", "--team", "ops", "--admin"], {
      LAUNCH_DATA_DIR: server.dataDir,
    });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("for user dave in team ops (role admin)");
    const keys = result.stdout.match(/lk_[A-Za-z0-9_-]+/g) ?? [];
    expect(keys.length).toBe(1);
  });

  it("list shows id, prefix, user, team, role and dates, never the key or its hash", async () => {
    const created = JSON.parse(
      (
        await run([
          "keys",
          "create",
          "--user",
          "erin",
          "--team",
          "ml",
          "--json",
          "--data-dir",
          server.dataDir,
        ])
      ).stdout,
    ) as { key: string };

    const json = await run(["keys", "list", "--json", "--data-dir", server.dataDir]);
    expect(json.code).toBe(0);
    const rows = JSON.parse(json.stdout) as Record<string, unknown>[];
    const erin = rows.find((row) => row.user_id === "erin")!;
    expect(Object.keys(erin).sort()).toEqual(
      ["created_at", "id", "last_used_at", "prefix", "revoked_at", "role", "team_id", "user_id"].sort(),
    );
    expect(erin).toMatchObject({ team_id: "ml", role: "user", revoked_at: null });
    expect(created.key.startsWith(erin.prefix as string)).toBe(true);
    expect(json.stdout).not.toContain(created.key);
    expect(json.stdout).not.toContain("hash");

    const table = await run(["keys", "list", "--data-dir", server.dataDir]);
    expect(table.code).toBe(0);
    const [header, ...lines] = table.stdout.trimEnd().split("\n");
    expect(header).toMatch(/^ID\s+PREFIX\s+USER\s+TEAM\s+ROLE\s+CREATED\s+LAST USED\s+REVOKED$/);
    expect(lines.some((line) => line.includes("erin") && line.includes(erin.prefix as string))).toBe(true);
    expect(table.stdout).not.toContain(created.key);
  });

  it("revoke by id makes the server answer 401 for that key", async () => {
    const { key } = JSON.parse(
      (
        await run([
          "keys",
          "create",
          "--user",
          "frank",
          "--team",
          "ml",
          "--json",
          "--data-dir",
          server.dataDir,
        ])
      ).stdout,
    ) as { key: string };
    const client = new LaunchClient({ apiKey: key, endpoint: server.url });
    expect(await client.listModelEndpoints()).toEqual([]);

    const rows = JSON.parse((await run(["keys", "list", "--json", "--data-dir", server.dataDir])).stdout) as {
      id: string;
      user_id: string;
    }[];
    const id = rows.find((row) => row.user_id === "frank")!.id;
    const revoked = await run(["keys", "revoke", id, "--data-dir", server.dataDir]);
    expect(revoked).toMatchObject({ code: 0, stderr: "" });
    expect(revoked.stdout).toContain(id);

    await expect(client.listModelEndpoints()).rejects.toMatchObject({
      name: "AuthenticationError",
      status: 401,
    });
    const listed = JSON.parse(
      (await run(["keys", "list", "--json", "--data-dir", server.dataDir])).stdout,
    ) as {
      id: string;
      revoked_at: string | null;
    }[];
    expect(listed.find((row) => row.id === id)!.revoked_at).not.toBeNull();
  });

  it("revoke of an unknown key fails with one error line and exit code 1", async () => {
    const result = await run(["keys", "revoke", "key_nope", "--data-dir", server.dataDir]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: .*key_nope.*\n$/);
  });

  it("create without --team is a usage error (exit 2)", async () => {
    const result = await run(["keys", "create", "--user", "x", "--data-dir", server.dataDir]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--team");
  });

  it("a bad user id is refused with the server's message", async () => {
    const result = await run([
      "keys",
      "create",
      "--user",
      "no spaces",
      "--team",
      "ml",
      "--data-dir",
      server.dataDir,
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: .*user.*\n$/);
  });
});
