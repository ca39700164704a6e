/**
 * `launch keys create|list|revoke`: manage API keys directly in the configured store, without a running
 * server (the embedded store's WAL mode lets a running server share the file).
 */
import type { Store } from "@launch/server";
import type { Command } from "commander";
import type { CliIo } from "../io.js";
import { writeJson, writeLine } from "../io.js";
import { cell, formatTable } from "../table.js";
import { withStoreOptions } from "./shared.js";

interface StoreFlags {
  dataDir?: string;
  config?: string;
}

/**
 * Registers `launch keys` on the program.
 *
 * @example registerKeys(program, io);
 */
export function registerKeys(program: Command, io: CliIo): void {
  const keys = program
    .command("keys")
    .description("create, list and revoke API keys (works on the store directly, no server needed)");

  withStoreOptions(
    keys
      .command("create")
      .description("create an API key for a user in a team and print it once")
      .requiredOption("--user <user>", "user id the key acts as")
      .requiredOption("--team <team>", "team that owns what the user creates")
      .option("--admin", "give the key the admin role")
      .option("--json", 'print {"key": ..., "user_id": ..., "team_id": ...}'),
  ).action(async (flags: StoreFlags & { user: string; team: string; admin?: boolean; json?: boolean }) => {
    const { createKey } = await import("@launch/server");
    await withStore(flags, io, async (store) => {
      const { key, record } = await createKey(store, {
        userId: flags.user,
        teamId: flags.team,
        role: flags.admin ? "admin" : "user",
      });
      if (flags.json) {
        // Exactly this shape, for scripts: {"key": "...", "user_id": "U", "team_id": "T"}.
        const fields = [
          ["key", key],
          ["user_id", record.userId],
          ["team_id", record.teamId],
        ];
        writeLine(
          io.stdout,
          `{${fields.map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`).join(", ")}}`,
        );
        return;
      }
      writeLine(
        io.stdout,
        `Created key ${record.id} for user ${record.userId} in team ${record.teamId} (role ${record.role}).`,
      );
      writeLine(io.stdout, "The key is shown once; only its hash is kept:");
      writeLine(io.stdout, key);
    });
  });

  withStoreOptions(
    keys
      .command("list")
      .description("list API keys (never the keys themselves)")
      .option("--json", "print JSON instead of a table"),
  ).action(async (flags: StoreFlags & { json?: boolean }) => {
    const { listKeys } = await import("@launch/server");
    await withStore(flags, io, async (store) => {
      const records = await listKeys(store);
      const rows = records.map((record) => ({
        id: record.id,
        prefix: record.prefix,
        user_id: record.userId,
        team_id: record.teamId,
        role: record.role,
        created_at: record.createdAt,
        last_used_at: record.lastUsedAt,
        revoked_at: record.revokedAt,
      }));
      if (flags.json) return writeJson(io.stdout, rows);
      if (rows.length === 0) return writeLine(io.stdout, "No API keys.");
      io.stdout.write(
        formatTable(
          ["id", "prefix", "user", "team", "role", "created", "last used", "revoked"],
          rows.map((row) => [
            row.id,
            row.prefix,
            row.user_id,
            row.team_id,
            row.role,
            row.created_at,
            cell(row.last_used_at),
            cell(row.revoked_at),
          ]),
        ),
      );
    });
  });

  withStoreOptions(
    keys
      .command("revoke")
      .description("revoke an API key by id (key_...) or by the prefix shown in `launch keys list`")
      .argument("<id-or-prefix>", "key id or prefix"),
  ).action(async (idOrPrefix: string, flags: StoreFlags) => {
    const { revokeKey } = await import("@launch/server");
    await withStore(flags, io, async (store) => {
      await revokeKey(store, idOrPrefix);
      writeLine(io.stdout, `Revoked key ${idOrPrefix}.`);
    });
  });
}

/** Opens the configured store for one command and always closes it. */
async function withStore(flags: StoreFlags, io: CliIo, work: (store: Store) => Promise<void>): Promise<void> {
  const { loadConfig, openStore } = await import("@launch/server");
  const config = loadConfig({
    env: io.env,
    ...(flags.config === undefined ? {} : { file: flags.config }),
    overrides: { dataDir: flags.dataDir },
  });
  const store = await openStore(config);
  try {
    await work(store);
  } finally {
    await store.close();
  }
}
