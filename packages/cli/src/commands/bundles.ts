/** `launch bundles list|get|create-from-dir`: read bundles, and create Node bundles, through the SDK. */
import { type BundleV2, isLaunchClientError, LaunchClient } from "@launch/client";
import { isId } from "@launch/protocol";
import type { Command } from "commander";
import { CliError } from "../cli-error.js";
import type { CliIo } from "../io.js";
import { writeJson, writeLine } from "../io.js";
import { type ApiFlags, apiSettings } from "../settings.js";
import { formatFields, formatTable } from "../table.js";
import { collectList, parseJson, withApiOptions } from "./shared.js";

type Flags = ApiFlags & { json?: boolean };

/**
 * Registers `launch bundles` on the program.
 *
 * @example registerBundles(program, io);
 */
export function registerBundles(program: Command, io: CliIo): void {
  const bundles = program
    .command("bundles")
    .description("read model bundles on a Launch server, and create Node bundles from directories");

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

  withApiOptions(
    bundles
      .command("create-from-dir")
      .description(
        "pack a directory of JavaScript modules (node_modules included) into a Node bundle and create it",
      )
      .argument("<dir>", "the directory; module paths are relative to it")
      .requiredOption("--name <name>", "the bundle's name")
      .requiredOption("--load-model <module#export>", "loadModel(appConfig), e.g. model.mjs#loadModel")
      .requiredOption(
        "--load-predict <module#export>",
        "loadPredictFn(model, appConfig), e.g. model.mjs#loadPredictFn",
      )
      .option("--requirement <package>", "an npm package the bundle needs (repeatable)", collectList)
      .option("--app-config <json>", "JSON object passed to loadModel and loadPredictFn", parseJson)
      .option("--node-version <version>", "the Node version the bundle was written for"),
  ).action(async (dir: string, flags: CreateFromDirFlags) => {
    if (flags.appConfig !== undefined && !isPlainObject(flags.appConfig)) {
      throw new CliError("--app-config must be a JSON object, e.g. '{\"threshold\": 0.5}'", 2);
    }
    const client = new LaunchClient(apiSettings(flags, io.env));
    const { model_bundle_id: id } = await client.createModelBundleFromDirsV2({
      modelBundleName: flags.name,
      baseDir: dir,
      loadModelFnModulePath: flags.loadModel,
      loadPredictFnModulePath: flags.loadPredict,
      requirements: flags.requirement,
      appConfig: flags.appConfig as Record<string, unknown> | undefined,
      nodeVersion: flags.nodeVersion,
    });
    if (flags.json) return writeJson(io.stdout, { model_bundle_id: id });
    writeLine(io.stdout, `Created bundle ${flags.name} (${id}).`);
  });
}

interface CreateFromDirFlags extends Flags {
  name: string;
  loadModel: string;
  loadPredict: string;
  requirement?: string[];
  appConfig?: unknown;
  nodeVersion?: string;
}

function isPlainObject(value: unknown): boolean {
  return typeof value === "object" && value !== null && !Array.isArray(value);
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
