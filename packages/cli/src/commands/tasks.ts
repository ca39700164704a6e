/** `launch tasks send|get`: run tasks on endpoints and read async tasks through the SDK. */
import {
  type AnyEndpoint,
  EndpointRequest,
  type EndpointResponse,
  LaunchClient,
  responseFromWire,
  type TaskResponse,
} from "@launch/client";
import { type Command, Option } from "commander";
import { CliError } from "../cli-error.js";
import type { CliIo } from "../io.js";
import { writeJson, writeLine } from "../io.js";
import { type ApiFlags, apiSettings } from "../settings.js";
import { formatFields } from "../table.js";
import { parseJson, parseSeconds, withApiOptions } from "./shared.js";

interface SendFlags extends ApiFlags {
  args?: unknown;
  url?: string;
  sync?: boolean;
  stream?: boolean;
  wait?: boolean;
  timeout?: number;
  callbackUrl?: string;
  json?: boolean;
}

interface GetFlags extends ApiFlags {
  wait?: number;
  json?: boolean;
}

/**
 * Registers `launch tasks` on the program.
 *
 * @example registerTasks(program, io);
 */
export function registerTasks(program: Command, io: CliIo): void {
  const tasks = program.command("tasks").description("send tasks to endpoints and read async tasks");

  withApiOptions(
    tasks
      .command("send")
      .description(
        "send a task to an endpoint: async endpoints print the task id (or the result with --wait), " +
          "sync endpoints print the result, streaming endpoints print one event per line",
      )
      .argument("<endpoint>", "endpoint name or id (end_...)")
      .option("--args <json>", 'the model\'s input as JSON, e.g. \'{"x": 2, "y": "hello"}\'', parseJson)
      .option("--url <url>", "a URL the worker fetches and passes to the model instead of --args")
      .addOption(
        new Option("--sync", "run as a sync task (default: by the endpoint's type)").conflicts("stream"),
      )
      .addOption(new Option("--stream", "run as a streaming task (default: by the endpoint's type)"))
      .option("--wait", "async: wait for the result and print it")
      .option(
        "--timeout <seconds>",
        "sync and streaming: the server's timeout_seconds; async with --wait: give up waiting after this",
        parseSeconds,
      )
      .option("--callback-url <url>", "async: send this task's callback here instead of the endpoint's URL"),
  ).action(async (endpoint: string, flags: SendFlags) => send(endpoint, flags, io));

  withApiOptions(
    tasks
      .command("get")
      .description("show an async task; with --wait, wait up to that long for it to finish first")
      .argument("<task-id>", "the task id (tsk_...)")
      .option("--wait <seconds>", "wait up to this long for the task to finish", parseSeconds),
  ).action(async (taskId: string, flags: GetFlags) => {
    const client = new LaunchClient(apiSettings(flags, io.env));
    const task =
      flags.wait === undefined
        ? await client.getAsyncTask(taskId)
        : await client.asyncTaskFuture(taskId).wait({ timeoutMs: flags.wait * 1000, signal: io.signal });
    if (flags.json) return writeJson(io.stdout, task);
    io.stdout.write(formatFields(taskFields(task)));
  });
}

async function send(endpointRef: string, flags: SendFlags, io: CliIo): Promise<void> {
  if (flags.args === undefined && flags.url === undefined) {
    throw new CliError("give the model's input with --args '<json>' or --url <url>", 2);
  }
  const client = new LaunchClient(apiSettings(flags, io.env));
  let endpoint: AnyEndpoint | string = endpointRef;
  let mode: "async" | "sync" | "streaming";
  if (flags.sync) mode = "sync";
  else if (flags.stream) mode = "streaming";
  else {
    endpoint = await client.getModelEndpoint(endpointRef);
    mode = endpoint.endpointType;
  }
  if (flags.callbackUrl !== undefined && mode !== "async") {
    throw new CliError(`--callback-url applies to async tasks only; ${endpointRef} runs ${mode} tasks`, 2);
  }
  const request = new EndpointRequest({ args: flags.args, url: flags.url, callbackUrl: flags.callbackUrl });
  const options = { timeoutSeconds: flags.timeout, signal: io.signal };

  if (mode === "sync") return printOutcome(await client.predictSync(endpoint, request, options), flags, io);
  if (mode === "streaming") {
    let failure: EndpointResponse | undefined;
    for await (const event of client.predictStreaming(endpoint, request, options)) {
      if (flags.json) writeLine(io.stdout, JSON.stringify(event.raw));
      else if (event.status === "SUCCESS") writeLine(io.stdout, JSON.stringify(event.result));
      if (event.status !== "SUCCESS") failure ??= event;
    }
    if (failure) reportFailure(failure, io);
    return;
  }
  const future = await client.predictAsync(endpoint, request, { signal: io.signal });
  if (!flags.wait) {
    if (flags.json) return writeJson(io.stdout, { task_id: future.taskId });
    return writeLine(io.stdout, future.taskId);
  }
  const timeoutMs = flags.timeout === undefined ? undefined : flags.timeout * 1000;
  return printOutcome(await future.get({ timeoutMs, signal: io.signal }), flags, io);
}

/** A finished task: its wire object with `--json`, else its output; a failure exits 1. */
function printOutcome(response: EndpointResponse, flags: { json?: boolean }, io: CliIo): void {
  if (flags.json) writeJson(io.stdout, response.raw);
  else if (response.status === "SUCCESS") writeJson(io.stdout, response.result);
  if (response.status !== "SUCCESS") reportFailure(response, io);
}

function reportFailure(response: EndpointResponse, io: CliIo): never {
  if (response.traceback) io.stderr.write(`${response.traceback.trimEnd()}\n`);
  const task = response.taskId ? `task ${response.taskId}` : "the task";
  const code = response.statusCode === null ? "" : ` (status_code ${response.statusCode})`;
  const reason = response.error ?? "the model raised an error; see the traceback above";
  throw new CliError(`${task} ended ${response.status}${code}: ${reason}`);
}

function taskFields(task: TaskResponse): Record<string, unknown> {
  const response = responseFromWire(task);
  const fields: Record<string, unknown> = { task_id: task.task_id, status: task.status };
  if (task.status === "SUCCESS") {
    if (response.resultUrl !== undefined) fields.result_url = response.resultUrl;
    else fields.result = response.result;
  }
  if (response.error !== null) fields.error = response.error;
  fields.status_code = task.status_code;
  if (task.traceback) fields.traceback = task.traceback;
  return fields;
}
