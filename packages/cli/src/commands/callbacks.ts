/**
 * `launch callbacks list|show|replay` [ext]: the delivery log of callbacks through the SDK, and
 * `launch endpoints secret`: read or rotate an endpoint's callback signing secret.
 */
import {
  CALLBACK_DELIVERY_STATUSES,
  type CallbackAttemptView,
  type CallbackDeliveryStatus,
  type CallbackDeliveryView,
  LaunchClient,
} from "@launch/client";
import { isId } from "@launch/protocol";
import { type Command, Option } from "commander";
import { CliError } from "../cli-error.js";
import type { CliIo } from "../io.js";
import { writeJson, writeLine } from "../io.js";
import { type ApiFlags, apiSettings } from "../settings.js";
import { formatFields, formatTable } from "../table.js";
import { intAtLeast, withApiOptions } from "./shared.js";

type Flags = ApiFlags & { json?: boolean };

interface ListFlags extends Flags {
  status?: CallbackDeliveryStatus;
  limit?: number;
  before?: string;
}

/** Longest error text shown in a table cell; `show` and `--json` print it whole. */
const ERROR_CELL_CHARS = 60;

/**
 * Registers `launch callbacks` on the program, and `launch endpoints secret` on its `endpoints` command
 * (register the endpoints commands first).
 *
 * @example registerEndpoints(program, io); registerCallbacks(program, io);
 */
export function registerCallbacks(program: Command, io: CliIo): void {
  const callbacks = program
    .command("callbacks")
    .description("list, show and replay the callbacks of your endpoints and tasks (the delivery log)");

  withApiOptions(
    callbacks
      .command("list")
      .description("list an endpoint's callbacks, newest first (--status failed: the dead letters)")
      .argument("<endpoint>", "endpoint name or id (end_...)")
      .addOption(
        new Option("--status <status>", "only callbacks in this status").choices([
          ...CALLBACK_DELIVERY_STATUSES,
        ]),
      )
      .option("--limit <n>", "at most this many (server default 100, at most 1000)", intAtLeast(1))
      .option(
        "--before <delivery-id>",
        "only callbacks older than this one (the last id of the previous page)",
      ),
  ).action(async (endpointRef: string, flags: ListFlags) => {
    const client = new LaunchClient(apiSettings(flags, io.env));
    const deliveries = await client.listEndpointCallbacks(endpointRef, {
      status: flags.status,
      limit: flags.limit,
      before: flags.before,
    });
    if (flags.json) return writeJson(io.stdout, deliveries);
    if (deliveries.length === 0) {
      return writeLine(
        io.stdout,
        `No${flags.status ? ` ${flags.status}` : ""} callbacks for ${endpointRef}.`,
      );
    }
    io.stdout.write(deliveryTable(deliveries));
  });

  withApiOptions(
    callbacks
      .command("show")
      .description("show a task's callbacks, or one callback, with every attempt")
      .argument("<id>", "a task id (tsk_...) or a delivery id (dlv_...)"),
  ).action(async (id: string, flags: Flags) => {
    const client = new LaunchClient(apiSettings(flags, io.env));
    if (isId("delivery", id)) {
      const delivery = await findDelivery(client, id);
      if (flags.json) return writeJson(io.stdout, delivery);
      io.stdout.write(deliveryDetails(delivery));
      return;
    }
    const deliveries = await client.getTaskCallbacks(id);
    if (flags.json) return writeJson(io.stdout, deliveries);
    if (deliveries.length === 0) {
      return writeLine(
        io.stdout,
        `No callbacks for task ${id} (it has not finished, or its endpoint has no "callback" hook).`,
      );
    }
    io.stdout.write(deliveries.map(deliveryDetails).join("\n"));
  });

  withApiOptions(
    callbacks
      .command("replay")
      .description(
        "send a delivered or failed callback again (same webhook-id and body); " +
          "with --failed, every dead letter of an endpoint",
      )
      .argument("<id>", "a delivery id (dlv_...); with --failed, an endpoint name or id")
      .option("--failed", "replay every failed callback (dead letter) of the endpoint <id>"),
  ).action(async (id: string, flags: Flags & { failed?: boolean }) => {
    if (!flags.failed && !isId("delivery", id)) {
      throw new CliError(
        `${id} is not a delivery id (dlv_...); to replay an endpoint's dead letters use: launch callbacks replay --failed ${id}`,
        2,
      );
    }
    const client = new LaunchClient(apiSettings(flags, io.env));
    if (flags.failed) {
      const result = await client.replayFailedCallbacks(id);
      if (flags.json) return writeJson(io.stdout, result);
      return writeLine(
        io.stdout,
        `Replaying ${result.replayed} failed callback${result.replayed === 1 ? "" : "s"} of ${id}.`,
      );
    }
    const delivery = await client.replayCallback(id);
    if (flags.json) return writeJson(io.stdout, delivery);
    writeLine(
      io.stdout,
      `Replaying callback ${delivery.id}${delivery.task_id ? ` of task ${delivery.task_id}` : ""} to ${delivery.url ?? "-"}: ${delivery.status}.`,
    );
  });

  const endpoints = program.commands.find((command) => command.name() === "endpoints");
  if (!endpoints) throw new Error("registerCallbacks: register the endpoints commands first");
  registerEndpointSecret(endpoints, io);
}

/**
 * Registers `launch endpoints secret <endpoint> [--rotate]` on the `endpoints` command.
 *
 * @example registerEndpointSecret(endpoints, io);
 */
export function registerEndpointSecret(endpoints: Command, io: CliIo): void {
  withApiOptions(
    endpoints
      .command("secret")
      .description(
        "print the endpoint's callback signing secret (whsec_...), to verify callbacks with; " +
          "--rotate makes a new one (the old one keeps signing during a grace period)",
      )
      .argument("<endpoint>", "endpoint name or id (end_...)")
      .option("--rotate", "make a new secret and print it"),
  ).action(async (endpointRef: string, flags: Flags & { rotate?: boolean }) => {
    const client = new LaunchClient(apiSettings(flags, io.env));
    const secret = flags.rotate
      ? await client.rotateCallbackSecret(endpointRef)
      : await client.getCallbackSecret(endpointRef);
    if (flags.json) return writeJson(io.stdout, secret);
    io.stdout.write(
      formatFields({
        secret: secret.secret,
        previous_secret_expires_at: secret.previous_secret_expires_at,
      }),
    );
    if (flags.rotate && secret.previous_secret_expires_at !== null) {
      io.stderr.write(
        `Rotated. Callbacks carry a signature by the previous secret too until ${secret.previous_secret_expires_at}; switch your receivers before then.\n`,
      );
    }
  });
}

/**
 * One delivery by id. There is no route for a single delivery, so each of the team's endpoints is asked
 * for its newest delivery created before `<id>0`: ids have one length and sort by creation, so that is
 * the delivery itself when it belongs to the endpoint.
 */
async function findDelivery(client: LaunchClient, deliveryId: string): Promise<CallbackDeliveryView> {
  return client.getCallback(deliveryId);
}

function deliveryTable(deliveries: CallbackDeliveryView[]): string {
  return formatTable(
    ["id", "task", "event", "status", "attempts", "last", "next attempt"],
    deliveries.map((d) => [
      d.id,
      d.task_id ?? "-",
      d.event,
      d.status,
      String(d.attempts.length),
      truncate(lastOutcome(d), ERROR_CELL_CHARS),
      d.next_attempt_at ?? "-",
    ]),
  );
}

/** The last error when there is one (it names the HTTP status), else the last HTTP status, e.g. `204`. */
function lastOutcome(delivery: CallbackDeliveryView): string {
  return (
    delivery.last_error ?? (delivery.last_status_code === null ? "-" : String(delivery.last_status_code))
  );
}

function deliveryDetails(delivery: CallbackDeliveryView): string {
  const fields = formatFields({
    id: delivery.id,
    task: delivery.task_id,
    endpoint: delivery.endpoint_id,
    event: delivery.event,
    status: delivery.status,
    url: delivery.url,
    auth: delivery.auth_kind,
    created: delivery.created_at,
    delivered: delivery.delivered_at,
    next_attempt: delivery.next_attempt_at,
    last_status_code: delivery.last_status_code,
    last_error: delivery.last_error,
    body: delivery.body,
  });
  if (delivery.attempts.length === 0) return `${fields}attempts  none\n`;
  return `${fields}\n${attemptTable(delivery.attempts)}`;
}

function attemptTable(attempts: CallbackAttemptView[]): string {
  return formatTable(
    ["n", "started", "status", "outcome", "latency", "error", "next attempt"],
    attempts.map((a) => [
      String(a.n),
      a.started_at,
      a.status_code === null ? "-" : String(a.status_code),
      a.outcome,
      `${Math.round(a.latency_ms)} ms`,
      a.error_class === null ? "-" : `${a.error_class}: ${a.error_message ?? ""}`.trimEnd(),
      a.next_attempt_at ?? "-",
    ]),
  );
}

function truncate(text: string, max: number): string {
  const line = text.replace(/\s+/g, " ");
  return line.length <= max ? line : `${line.slice(0, max - 1)}…`;
}
