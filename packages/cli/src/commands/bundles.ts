/** `launch bundles list|get`: read bundles through the SDK. */
import { type BundleV2, isLaunchClientError, LaunchClient } from "@launch/client";
import { isId } from "@launch/protocol";
import type { Command } from "commander";
import type { CliIo } from "../io.js";
import { writeJson, writeLine } from "../io.js";
import { type ApiFlags, apiSettings } from "../settings.js";
import { formatFields, formatTable } from "../table.js";
import { withApiOptions } from "./shared.js";

type Flags = ApiFlags & { json?: boolean };

/**
 * Registers `launch bundles` on the program.
 *
 * @example registerBundles(program, io);
 */
export function registerBundles(program: Command, io: CliIo): void {
  const bundles = program.command("bundles").description("read model bundles on a Launch server");

  withApiOptions(
    bundles
      .command("list")
      .description("list your team's bundles, newest first")
      .option("--name <name>", "only bundles of this name"),
  ).action(async (flags: Flags & { name?: string }) => {
    const client = new LaunchClient(apiSettings(flags, io.env));
    const { model_bundles } = await client.listModelBundlesV2({ modelName: flags.name, orderBy: "newest" });
    if (flags.json) return writeJson(io.stdout, model_bundles);
    if (model_bundles.length === 0) return writeLine(io.stdout, "No model bundles.");
    io.stdout.write(
      formatTable(
        ["id", "name", "flavor", "created"],
        model_bundles.map((bundle) => [bundle.id, bundle.name, bundle.flavor.flavor, bundle.created_at]),
      ),
    );
  });

  withApiOptions(
    bundles
      .command("get")
      .description("show a bundle by id, or the latest bundle of a name")
      .argument("<id-or-name>", "bundle id (bun_...) or name"),
  ).action(async (idOrName: string, flags: Flags) => {
    const client = new LaunchClient(apiSettings(flags, io.env));
    const bundle = await getBundle(client, idOrName);
    if (flags.json) return writeJson(io.stdout, bundle);
    io.stdout.write(formatFields(bundleFields(bundle)));
  });
}

/** A bundle by id, falling back to the latest bundle of that name. */
async function getBundle(client: LaunchClient, idOrName: string): Promise<BundleV2> {
  if (isId("bundle", idOrName)) {
    try {
      return await client.getModelBundleV2(idOrName);
    } catch (error) {
      if (!isLaunchClientError(error, "NotFoundError")) throw error;
    }
  }
  return client.getLatestModelBundleV2(idOrName);
}

function bundleFields(bundle: BundleV2): Record<string, unknown> {
  const { flavor: kind, ...flavor } = bundle.flavor as unknown as Record<string, unknown>;
  return {
    id: bundle.id,
    name: bundle.name,
    created: bundle.created_at,
    flavor: kind,
    ...flavor,
    schema_location: bundle.schema_location,
    metadata: bundle.metadata,
  };
}
