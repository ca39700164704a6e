/**
 * `launch store copy`: copies every key, bundle and endpoint from one store to another, unchanged (the
 * data step of moving a single-node install to PostgreSQL). Works on the stores directly, no server
 * needed; the logic is the server's `copyStoreBetween`. Never prints a credential or a database password.
 */
import type { CopiedKind, CopiedRecord, StoreCopyResult } from "@launch/server";
import type { Command } from "commander";
import { CliError } from "../cli-error.js";
import type { CliIo } from "../io.js";
import { writeJson, writeLine } from "../io.js";
import { formatTable } from "../table.js";
import { withStoreOptions } from "./shared.js";

interface CopyFlags {
  to: string;
  from?: string;
  dataDir?: string;
  config?: string;
  dryRun?: boolean;
  json?: boolean;
}

const SINGULAR: Record<CopiedKind, string> = { keys: "key", bundles: "bundle", endpoints: "endpoint" };

/**
 * Registers `launch store` on the program.
 *
 * @example registerStore(program, io);
 */
export function registerStore(program: Command, io: CliIo): void {
  const store = program
    .command("store")
    .description("work on the metadata store (keys, bundles, endpoints) directly, no server needed");

  withStoreOptions(
    store
      .command("copy")
      .description(
        "copy every key, bundle and endpoint, unchanged, into another store (e.g. a single-node install into PostgreSQL); safe to run again",
      )
      .requiredOption(
        "--to <url>",
        "target store: postgres://user:password@host:5432/database (or sqlite:<path>)",
      )
      .option(
        "--from <url>",
        "source store URL (default: the configured store, i.e. <data-dir>/launch.db unless LAUNCH_STORE says otherwise)",
      )
      .option(
        "--dry-run",
        "show what would be copied; write no record (the target's migrations are still applied)",
      )
      .option("--json", "print the report as JSON"),
  ).action(async (flags: CopyFlags) => {
    const { copyStoreBetween, loadConfig, storeSettingsFromUrl } = await import("@launch/server");
    const to = storeSettingsFromUrl(flags.to, "--to");
    const from =
      flags.from === undefined
        ? loadConfig({
            env: io.env,
            ...(flags.config === undefined ? {} : { file: flags.config }),
            overrides: { dataDir: flags.dataDir },
          })
        : storeSettingsFromUrl(flags.from, "--from");
    const result = await copyStoreBetween({ from, to, dryRun: flags.dryRun === true });
    if (flags.json) writeJson(io.stdout, jsonReport(result));
    else printReport(io, result);
    const conflicts = result.records.filter((r) => r.outcome === "conflict").length;
    if (conflicts > 0) {
      const not = result.dryRun ? "would not be copied" : `${conflicts === 1 ? "was" : "were"} not copied`;
      throw new CliError(
        `${plural(conflicts, "record")} ${conflicts === 1 ? "conflicts" : "conflict"} with the target and ${not} ` +
          "(see the conflicts in the report); the target keeps its own: remove or change them there, then run again",
      );
    }
  });
}

function printReport(io: CliIo, result: StoreCopyResult): void {
  writeLine(io.stdout, `${result.dryRun ? "Dry run, from" : "From"} ${result.from}`);
  writeLine(io.stdout, `${result.dryRun ? "        to" : "  to"} ${result.to}`);
  writeLine(io.stdout);
  io.stdout.write(
    formatTable(
      ["kind", "in source", result.dryRun ? "would copy" : "copied", "already present", "conflicts"],
      Object.entries(result.counts).map(([kind, c]) => [
        kind,
        String(c.source),
        String(c.copied),
        String(c.present),
        String(c.conflicts),
      ]),
    ),
  );
  if (result.dryRun) {
    const toCopy = result.records.filter((r) => r.outcome === "would_copy");
    if (toCopy.length > 0) {
      writeLine(io.stdout);
      writeLine(io.stdout, "Would copy:");
      io.stdout.write(
        formatTable(
          ["kind", "id", "name"],
          toCopy.map((r) => [SINGULAR[r.kind], r.id, r.name]),
        ),
      );
    }
  }
  const conflicts = result.records.filter((r) => r.outcome === "conflict");
  if (conflicts.length > 0) {
    writeLine(io.stdout);
    for (const r of conflicts) writeLine(io.stdout, `conflict: ${describe(r)}: ${r.reason ?? "differs"}`);
  }
  writeLine(io.stdout);
  const copied = result.records.filter((r) => r.outcome === "copied" || r.outcome === "would_copy").length;
  const present = result.records.filter((r) => r.outcome === "present").length;
  if (result.dryRun) {
    writeLine(
      io.stdout,
      `Dry run: ${plural(copied, "record")} would be copied, ${present} already present; nothing was written.`,
    );
  } else if (copied === 0 && conflicts.length === 0) {
    writeLine(io.stdout, `Nothing to copy: ${plural(present, "record")} already present in the target.`);
  } else {
    writeLine(io.stdout, `Copied ${plural(copied, "record")}; ${present} already present.`);
  }
}

/** The report for scripts, in the CLI's snake_case. */
function jsonReport(result: StoreCopyResult): unknown {
  return {
    dry_run: result.dryRun,
    from: result.from,
    to: result.to,
    counts: Object.fromEntries(
      Object.entries(result.counts).map(([kind, c]) => [
        kind,
        { source: c.source, copied: c.copied, already_present: c.present, conflicts: c.conflicts },
      ]),
    ),
    records: result.records.map((r) => ({
      kind: SINGULAR[r.kind],
      id: r.id,
      name: r.name,
      outcome: r.outcome,
      ...(r.reason === undefined ? {} : { reason: r.reason }),
    })),
  };
}

function describe(record: CopiedRecord): string {
  return `${SINGULAR[record.kind]} ${record.id} (${record.name})`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}
