import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createTestSchema,
  openStore,
  probeTestDatabase,
  type Store,
  startTestServer,
  type TestSchema,
  type TestServer,
} from "@launch/server";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../run.js";
import { memoryIo } from "../test-io.js";

const PASSWORD = "hunter2-db-secret";
const CALLBACK_PASSWORD = "callback-secret-3b7a";

const run = async (args: string[], env: Record<string, string> = {}) => {
  const io = memoryIo(env);
  const code = await runCli(args, io);
  return { code, stdout: io.stdoutText(), stderr: io.stderrText() };
};

describe("launch store copy, usage", () => {
  it("needs --to (a usage error, exit 2)", async () => {
    const result = await run(["store", "copy"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--to <url>");
  });

  it("refuses a --to that is not a store URL, never echoing it", async () => {
    const result = await run(["store", "copy", "--to", `mysql://root:${PASSWORD}@db/launch`]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      'error: --to: got a "mysql:" URL; expected postgres://user:password@host:5432/database (PostgreSQL) or sqlite:<path> (a SQLite file)\n',
    );
    expect(result.stdout).toBe("");
  });
});

const database = await probeTestDatabase();

if (!database.reachable) {
  // In CI PostgreSQL is part of the job (.ci/run starts it): its absence is a failure, never a skip.
  describe("launch store copy into PostgreSQL", () => {
    it("needs the PostgreSQL test database", (ctx) => {
      if (process.env.CI) throw new Error(database.reason);
      console.warn(`Skipping the launch store copy tests: ${database.reason}`);
      ctx.skip(database.reason);
    });
  });
} else {
  describe("launch store copy into PostgreSQL", () => {
    let server: TestServer;
    const schemas: TestSchema[] = [];
    const stores: Store[] = [];

    /** A fresh schema's URL, with a password (trust authentication ignores it) that must never show. */
    const freshTarget = async (): Promise<string> => {
      const schema = await createTestSchema("launch_cli_copy");
      schemas.push(schema);
      const url = new URL(schema.url);
      url.password = PASSWORD;
      return url.href;
    };
    const openTarget = async (url: string): Promise<Store> => {
      const store = await openStore({ store: "postgres", databaseUrl: url, dataDir: "" });
      stores.push(store);
      return store;
    };

    beforeAll(async () => {
      server = await startTestServer();
      const key = await server.createKey("alice", "ml");
      const bundle = await server.request("POST", "/v2/model-bundles", {
        key,
        body: {
          name: "echo",
          schema_location: "s3://launch/schemas/echo.json",
          flavor: { flavor: "runnable_image", repository: "example/echo", tag: "1", command: ["serve"] },
        },
      });
      expect(bundle.status, JSON.stringify(bundle.body)).toBe(200);
      const endpoint = await server.request("POST", "/v1/model-endpoints", {
        key,
        body: {
          name: "hooked",
          model_bundle_id: bundle.body.model_bundle_id,
          endpoint_type: "async",
          cpus: 1,
          gpus: 0,
          memory: "8Gi",
          min_workers: 1,
          max_workers: 1,
          per_worker: 10,
          labels: {},
          metadata: {},
          post_inference_hooks: ["callback"],
          default_callback_url: "https://example.com/hook",
          default_callback_auth: { kind: "basic", username: "cb", password: CALLBACK_PASSWORD },
        },
      });
      expect(endpoint.status, JSON.stringify(endpoint.body)).toBe(200);
    });
    afterAll(async () => {
      await server?.close();
    });
    afterEach(async () => {
      for (const store of stores.splice(0)) await store.close();
      for (const schema of schemas.splice(0)) await schema.drop();
    });

    /** Nothing secret in what the command printed. */
    const expectNoSecrets = async (text: string) => {
      expect(text).not.toContain(PASSWORD);
      expect(text).not.toContain(CALLBACK_PASSWORD);
      for (const key of await server.store.listKeys()) expect(text).not.toContain(key.hash);
      for (const e of await server.store.listAllEndpoints()) {
        const auth = e.spec.defaultCallbackAuth;
        if (auth) expect(text).not.toContain(auth.sealed);
      }
    };

    it("copies the configured store, prints counts per kind, and a second run copies nothing", async () => {
      const to = await freshTarget();
      const first = await run(["store", "copy", "--to", to, "--data-dir", server.dataDir]);
      expect(first.stderr).toBe("");
      expect(first.code).toBe(0);
      const redacted = to.replace(`:${PASSWORD}@`, ":***@");
      expect(first.stdout).toBe(
        [
          `From SQLite file ${join(server.dataDir, "launch.db")}`,
          `  to PostgreSQL ${redacted}`,
          "",
          "KIND       IN SOURCE  COPIED  ALREADY PRESENT  CONFLICTS",
          // The admin key of the first start and alice's.
          "keys       2          2       0                0",
          "bundles    1          1       0                0",
          "endpoints  1          1       0                0",
          "",
          "Copied 4 records; 0 already present.",
          "",
        ].join("\n"),
      );
      await expectNoSecrets(first.stdout);

      const target = await openTarget(to);
      expect(await target.listKeys()).toStrictEqual(await server.store.listKeys());
      expect(await target.listAllBundles()).toStrictEqual(await server.store.listAllBundles());
      expect(await target.listAllEndpoints()).toStrictEqual(await server.store.listAllEndpoints());

      // LAUNCH_DATA_DIR names the source as --data-dir does.
      const second = await run(["store", "copy", "--to", to], { LAUNCH_DATA_DIR: server.dataDir });
      expect(second).toMatchObject({ code: 0, stderr: "" });
      expect(second.stdout).toContain("keys       2          0       2                0\n");
      expect(second.stdout).toMatch(/\nNothing to copy: 4 records already present in the target\.\n$/);
    });

    it("--dry-run --json shows what would be copied and writes no record", async () => {
      const to = await freshTarget();
      const result = await run([
        "store",
        "copy",
        "--to",
        to,
        "--from",
        `sqlite:${join(server.dataDir, "launch.db")}`,
        "--dry-run",
        "--json",
      ]);
      expect(result).toMatchObject({ code: 0, stderr: "" });
      const report = JSON.parse(result.stdout) as {
        dry_run: boolean;
        to: string;
        counts: Record<string, Record<string, number>>;
        records: { kind: string; id: string; name: string; outcome: string }[];
      };
      expect(report.dry_run).toBe(true);
      expect(report.to).not.toContain(PASSWORD);
      expect(report.counts.endpoints).toEqual({ source: 1, copied: 1, already_present: 0, conflicts: 0 });
      expect(report.records.map((r) => [r.kind, r.outcome])).toEqual([
        ["key", "would_copy"],
        ["key", "would_copy"],
        ["bundle", "would_copy"],
        ["endpoint", "would_copy"],
      ]);
      expect(report.records.at(-1)?.name).toBe("ml/hooked");
      await expectNoSecrets(result.stdout);
      const target = await openTarget(to);
      expect(await target.listKeys()).toEqual([]);
      expect(await target.listAllEndpoints()).toEqual([]);

      const text = await run(["store", "copy", "--to", to, "--data-dir", server.dataDir, "--dry-run"]);
      expect(text.code).toBe(0);
      expect(text.stdout).toMatch(/^Dry run, from SQLite file /);
      expect(text.stdout).toContain("KIND       IN SOURCE  WOULD COPY  ALREADY PRESENT  CONFLICTS\n");
      expect(text.stdout).toMatch(/\nWould copy:\nKIND +ID +NAME\n/);
      expect(text.stdout).toMatch(/\nendpoint +end_\S+ +ml\/hooked\n/);
      expect(text.stdout).toMatch(
        /\nDry run: 4 records would be copied, 0 already present; nothing was written\.\n$/,
      );
    });

    it("reports a conflicting record, keeps the target's, copies the rest and exits 1", async () => {
      const to = await freshTarget();
      const target = await openTarget(to);
      const [endpoint] = await server.store.listAllEndpoints();
      const theirs = { ...endpoint!, status: "UPDATE_FAILED" as const, version: endpoint!.version + 3 };
      await target.insertEndpoint(theirs);

      const result = await run(["store", "copy", "--to", to, "--data-dir", server.dataDir]);
      expect(result.code).toBe(1);
      expect(result.stdout).toContain("endpoints  1          0       0                1\n");
      expect(result.stdout).toContain(
        `\nconflict: endpoint ${endpoint!.id} (ml/hooked): the target's copy differs in status, version\n`,
      );
      expect(result.stderr).toBe(
        "error: 1 record conflicts with the target and was not copied (see the conflicts in the report); " +
          "the target keeps its own: remove or change them there, then run again\n",
      );
      await expectNoSecrets(result.stdout + result.stderr);
      expect(await target.getEndpoint(endpoint!.id)).toStrictEqual(theirs);
      expect(await target.listKeys()).toHaveLength(2);
      expect(await target.listAllBundles()).toHaveLength(1);
    });

    it("refuses a data directory without a store, creating nothing", async () => {
      const to = await freshTarget();
      const empty = await mkdtemp(join(tmpdir(), "launch-cli-copy-"));
      try {
        const result = await run(["store", "copy", "--to", to, "--data-dir", empty]);
        expect(result.code).toBe(1);
        expect(result.stderr).toMatch(
          /^error: There is no store to copy from at SQLite file .*launch\.db; point --data-dir/,
        );
        expect(await readdir(empty)).toEqual([]);
      } finally {
        await rm(empty, { recursive: true, force: true });
      }
    });
  });
}
