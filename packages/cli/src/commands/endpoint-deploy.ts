/**
 * `launch endpoints create|edit`: deploy an endpoint from flags, and with `--wait` follow it on stderr
 * (`UPDATE_IN_PROGRESS  workers 0/2`) until it is READY (exit 0) or UPDATE_FAILED (the reason, exit 1).
 */
import { readFile } from "node:fs/promises";
import {
  type AnyEndpoint,
  type CallbackAuthKind,
  type EndpointType,
  isLaunchClientError,
  LaunchClient,
  type ModelEndpoint,
  type ModelEndpointSettings,
} from "@launch/client";
import { type Command, Option } from "commander";
import { CliError } from "../cli-error.js";
import type { CliIo } from "../io.js";
import { writeJson, writeLine } from "../io.js";
import { type ApiFlags, apiSettings } from "../settings.js";
import { collectKeyValue, collectList, intAtLeast, parseSeconds, withApiOptions } from "./shared.js";

interface SettingsFlags extends ApiFlags {
  bundle?: string;
  minWorkers?: number;
  maxWorkers?: number;
  perWorker?: number;
  cpus?: string;
  memory?: string;
  storage?: string;
  label?: Record<string, string>;
  hook?: string[];
  callbackUrl?: string;
  callbackAuth?: CallbackAuthKind;
  callbackUsername?: string;
  callbackPassword?: string;
  callbackCertFile?: string;
  callbackKeyFile?: string;
  wait?: boolean;
  timeout?: number;
  json?: boolean;
}

interface CreateFlags extends SettingsFlags {
  type?: EndpointType;
}

/**
 * Registers `launch endpoints create` and `launch endpoints edit` on the `endpoints` command.
 *
 * @example registerEndpointDeploy(endpoints, io);
 */
export function registerEndpointDeploy(endpoints: Command, io: CliIo): void {
  withSettingsOptions(
    endpoints
      .command("create")
      .description("create an endpoint from a bundle (with --wait, until it is READY)")
      .argument("<name>", "the new endpoint's name")
      .addOption(
        new Option(
          "--bundle <name-or-id>",
          "the bundle to serve (its latest version by name)",
        ).makeOptionMandatory(),
      )
      .addOption(
        new Option("--type <type>", "endpoint type").choices(["async", "sync", "streaming"]).default("sync"),
      ),
  ).action(async (name: string, flags: CreateFlags) => {
    const client = new LaunchClient(apiSettings(flags, io.env));
    const endpoint = await client.createModelEndpoint({
      endpointName: name,
      modelBundle: flags.bundle!,
      endpointType: flags.type,
      ...(await settingsFrom(flags)),
    });
    await report(endpoint, "Created", flags, io);
  });

  withSettingsOptions(
    endpoints
      .command("edit")
      .description("change an endpoint's settings; only the flags given change (with --wait, until READY)")
      .argument("<name-or-id>", "endpoint name or id (end_...)")
      .option("--bundle <name-or-id>", "switch to this bundle (its latest version by name)"),
  ).action(async (nameOrId: string, flags: SettingsFlags) => {
    const client = new LaunchClient(apiSettings(flags, io.env));
    const endpoint = await client.editModelEndpoint({
      modelEndpoint: nameOrId,
      modelBundle: flags.bundle,
      ...(await settingsFrom(flags)),
    });
    await report(endpoint, "Updated", flags, io);
  });
}

function withSettingsOptions(command: Command): Command {
  return withApiOptions(
    command
      .option("--min-workers <n>", "fewest workers (0 lets an async endpoint scale to zero)", intAtLeast(0))
      .option("--max-workers <n>", "most workers", intAtLeast(0))
      .option("--per-worker <n>", "concurrent tasks per worker the autoscaler aims at", intAtLeast(1))
      .option("--cpus <cpus>", 'CPUs per worker, e.g. 1 or "500m"')
      .option("--memory <quantity>", 'memory per worker, e.g. "2Gi"')
      .option("--storage <quantity>", 'local storage per worker, e.g. "16Gi"')
      .option(
        "--label <key=value>",
        "a label (repeatable; edit merges into the existing labels)",
        collectKeyValue,
      )
      .option("--hook <name>", "a post-inference hook, e.g. callback (repeatable)", collectList)
      .option("--callback-url <url>", "where callbacks go unless a task names another URL")
      .addOption(
        new Option("--callback-auth <kind>", "how callbacks authenticate").choices(["basic", "mtls"]),
      )
      .option("--callback-username <user>", "with --callback-auth basic")
      .option("--callback-password <password>", "with --callback-auth basic (never shown again)")
      .option("--callback-cert-file <file>", "with --callback-auth mtls: PEM client certificate")
      .option("--callback-key-file <file>", "with --callback-auth mtls: PEM private key (never shown again)")
      .option("--wait", "follow the deployment on stderr until READY (exit 0) or UPDATE_FAILED (exit 1)")
      .option("--timeout <seconds>", "with --wait: give up after this long", parseSeconds),
  );
}

/** The SDK settings the flags describe; flags not given stay undefined (edit keeps those fields). */
async function settingsFrom(flags: SettingsFlags): Promise<ModelEndpointSettings> {
  return {
    minWorkers: flags.minWorkers,
    maxWorkers: flags.maxWorkers,
    perWorker: flags.perWorker,
    cpus: flags.cpus === undefined ? undefined : quantity(flags.cpus),
    memory: flags.memory,
    storage: flags.storage,
    labels: flags.label,
    postInferenceHooks: flags.hook,
    defaultCallbackUrl: flags.callbackUrl,
    defaultCallbackAuthKind: flags.callbackAuth,
    defaultCallbackAuthUsername: flags.callbackUsername,
    defaultCallbackAuthPassword: flags.callbackPassword,
    defaultCallbackAuthCert: await readPem(flags.callbackCertFile, "--callback-cert-file"),
    defaultCallbackAuthKey: await readPem(flags.callbackKeyFile, "--callback-key-file"),
  };
}

/** A plain number stays a number (`1`, `0.5`); anything else (`"500m"`) is sent as text. */
function quantity(value: string): string | number {
  return /^\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : value;
}

async function readPem(file: string | undefined, flag: string): Promise<string | undefined> {
  if (file === undefined) return undefined;
  try {
    return await readFile(file, "utf8");
  } catch (error) {
    const reason = (error as { code?: string }).code ?? String(error);
    throw new CliError(`${flag}: cannot read ${file} (${reason})`, 2);
  }
}

/** Prints the endpoint after create or edit; with `--wait`, follows it until READY first. */
async function report(endpoint: AnyEndpoint, verb: string, flags: SettingsFlags, io: CliIo): Promise<void> {
  let view = endpoint.modelEndpoint;
  if (flags.wait) view = await waitUntilReady(endpoint, flags, io);
  if (flags.json) return writeJson(io.stdout, view);
  writeLine(
    io.stdout,
    `${verb} endpoint ${view.name} (${view.id}): ${view.status}, ${progressWorkers(view)}.`,
  );
}

async function waitUntilReady(
  endpoint: AnyEndpoint,
  flags: SettingsFlags,
  io: CliIo,
): Promise<ModelEndpoint> {
  let shown = "";
  try {
    return await endpoint.waitUntilReady({
      timeoutMs: flags.timeout === undefined ? undefined : flags.timeout * 1000,
      signal: io.signal,
      onProgress: (view) => {
        const line = `${view.status.padEnd(18)}  ${progressWorkers(view)}`;
        if (line !== shown) writeLine(io.stderr, line);
        shown = line;
      },
    });
  } catch (error) {
    if (!isLaunchClientError(error, "EndpointFailedError")) throw error;
    writeLine(io.stderr, `${error.endpointStatus}: ${error.statusReason ?? "the server gave no reason"}`);
    throw new CliError(`endpoint ${endpoint.name} did not become READY (${error.endpointStatus})`);
  }
}

/** `workers 1/2`: workers ready of the minimum wanted. */
function progressWorkers(view: ModelEndpoint): string {
  return `workers ${view.deployment_state.available_workers}/${view.deployment_state.min_workers}`;
}
