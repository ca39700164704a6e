/** `launch endpoints list|get|create|edit|delete|logs`: manage endpoints through the SDK. */
import { type AnyEndpoint, LaunchClient, type ModelEndpoint } from "@launch/client";
import type { Command } from "commander";
import type { CliIo } from "../io.js";
import { writeJson, writeLine } from "../io.js";
import { type ApiFlags, apiSettings } from "../settings.js";
import { formatFields, formatTable } from "../table.js";
import { registerEndpointDeploy } from "./endpoint-deploy.js";
import { registerEndpointLogs } from "./endpoint-logs.js";
import { withApiOptions } from "./shared.js";

type Flags = ApiFlags & { json?: boolean };

/**
 * Registers `launch endpoints` on the program.
 *
 * @example registerEndpoints(program, io);
 */
export function registerEndpoints(program: Command, io: CliIo): void {
  const endpoints = program
    .command("endpoints")
    .description("create, edit, list, show and delete model endpoints, and read their workers' logs");

  withApiOptions(endpoints.command("list").description("list your team's endpoints by name")).action(
    async (flags: Flags) => {
      const client = new LaunchClient(apiSettings(flags, io.env));
      const views = (await client.listModelEndpoints({ orderBy: "alphabetical" })).map(
        (endpoint: AnyEndpoint) => endpoint.modelEndpoint,
      );
      if (flags.json) return writeJson(io.stdout, views);
      if (views.length === 0) return writeLine(io.stdout, "No model endpoints.");
      io.stdout.write(
        formatTable(
          ["name", "id", "type", "status", "bundle", "workers", "created"],
          views.map((view) => [
            view.name,
            view.id,
            view.endpoint_type,
            view.status,
            view.bundle_name,
            workers(view),
            view.created_at,
          ]),
        ),
      );
    },
  );

  withApiOptions(
    endpoints
      .command("get")
      .description("show an endpoint by name or id")
      .argument("<name-or-id>", "endpoint name or id (end_...)"),
  ).action(async (nameOrId: string, flags: Flags) => {
    const client = new LaunchClient(apiSettings(flags, io.env));
    const view = (await client.getModelEndpoint(nameOrId)).modelEndpoint;
    if (flags.json) return writeJson(io.stdout, view);
    io.stdout.write(formatFields(endpointFields(view)));
  });

  withApiOptions(
    endpoints
      .command("delete")
      .description("delete an endpoint by name or id")
      .argument("<name-or-id>", "endpoint name or id (end_...)"),
  ).action(async (nameOrId: string, flags: Flags) => {
    const client = new LaunchClient(apiSettings(flags, io.env));
    const endpoint = await client.getModelEndpoint(nameOrId);
    const deleted = await client.deleteModelEndpoint(endpoint);
    if (flags.json) return writeJson(io.stdout, { id: endpoint.id, name: endpoint.name, deleted });
    writeLine(io.stdout, `Deleted endpoint ${endpoint.name} (${endpoint.id}).`);
  });

  registerEndpointDeploy(endpoints, io);
  registerEndpointLogs(endpoints, io);
}

/** `available/min-max`, e.g. `1/1-3`. */
function workers(view: ModelEndpoint): string {
  const state = view.deployment_state;
  return `${state.available_workers}/${state.min_workers}-${state.max_workers}`;
}

function endpointFields(view: ModelEndpoint): Record<string, unknown> {
  return {
    name: view.name,
    id: view.id,
    type: view.endpoint_type,
    status: view.status,
    status_reason: view.status_reason,
    bundle: view.bundle_name,
    workers: `${workers(view)} (available/min-max), ${view.deployment_state.per_worker} per worker`,
    resources: view.resource_state,
    labels: view.labels,
    post_inference_hooks: view.post_inference_hooks,
    default_callback_url: view.default_callback_url,
    default_callback_auth: view.default_callback_auth,
    public_inference: view.public_inference,
    created_by: view.created_by,
    created: view.created_at,
    last_updated: view.last_updated_at,
  };
}
