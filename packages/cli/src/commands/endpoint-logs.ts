/**
 * `launch endpoints logs`: recent worker output of an endpoint; `--follow` polls every second and prints
 * only lines not printed before, until interrupted.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { type EndpointLogLine, LaunchClient } from "@launch/client";
import type { Command } from "commander";
import type { CliIo } from "../io.js";
import { writeLine } from "../io.js";
import { type ApiFlags, apiSettings } from "../settings.js";
import { intAtLeast, withApiOptions } from "./shared.js";

interface LogsFlags extends ApiFlags {
  tail: number;
  follow?: boolean;
  json?: boolean;
}

/** How often `--follow` asks for new lines. */
export const FOLLOW_INTERVAL_MS = 1000;
/** How many lines each `--follow` poll asks for, so that lines between polls are not missed. */
const FOLLOW_TAIL = 1000;

/**
 * Registers `launch endpoints logs` on the `endpoints` command.
 *
 * @example registerEndpointLogs(endpoints, io);
 */
export function registerEndpointLogs(endpoints: Command, io: CliIo): void {
  withApiOptions(
    endpoints
      .command("logs")
      .description("print recent output of an endpoint's workers (--json: one JSON object per line)")
      .argument("<name-or-id>", "endpoint name or id (end_...)")
      .option("--tail <n>", "how many recent lines", intAtLeast(1), 100)
      .option("--follow", "keep printing new lines (every second) until interrupted"),
  ).action(async (nameOrId: string, flags: LogsFlags) => {
    const client = new LaunchClient(apiSettings(flags, io.env));
    const endpoint = await client.getModelEndpoint(nameOrId);
    const seen = new PrintedLines();
    const print = (lines: EndpointLogLine[]) => {
      for (const line of seen.unseen(lines)) {
        writeLine(io.stdout, flags.json ? JSON.stringify(line) : formatLine(line));
      }
    };
    print((await client.getEndpointLogs(endpoint, { tail: flags.tail })).logs);
    while (flags.follow && !io.signal?.aborted) {
      try {
        await sleep(FOLLOW_INTERVAL_MS, undefined, { signal: io.signal });
      } catch (error) {
        if (io.signal?.aborted) return; // interrupted: stop following
        throw error;
      }
      print((await client.getEndpointLogs(endpoint, { tail: Math.max(flags.tail, FOLLOW_TAIL) })).logs);
    }
  });
}

/**
 * `2024-05-01T12:00:00.000Z  wrk_1  stderr  the line`.
 *
 * @example formatLine({ time: "t", worker_id: "w", stream: "stdout", line: "hi" }) // "t  w  stdout  hi"
 */
export function formatLine(line: EndpointLogLine): string {
  return `${line.time}  ${line.worker_id}  ${line.stream}  ${line.line}`;
}

/** How many of a worker's last printed lines must match to place a new batch after them. */
const OVERLAP_CHECK = 20;

/**
 * Remembers what was printed, per worker, so repeated fetches of a sliding window print each line once.
 * A worker's lines only ever grow at the end (its ring drops the oldest), so the new lines of a batch
 * are those after the last printed one, found by matching the last printed lines in order.
 */
export class PrintedLines {
  readonly #lastByWorker = new Map<string, EndpointLogLine[]>();

  /** The lines of `batch` not printed before, in the batch's order; remembers them as printed. */
  unseen(batch: EndpointLogLine[]): EndpointLogLine[] {
    const byWorker = new Map<string, EndpointLogLine[]>();
    for (const line of batch) {
      const lines = byWorker.get(line.worker_id) ?? [];
      lines.push(line);
      byWorker.set(line.worker_id, lines);
    }
    const fresh = new Set<EndpointLogLine>();
    for (const [worker, lines] of byWorker) {
      const printed = this.#lastByWorker.get(worker) ?? [];
      const start = printed.length === 0 ? 0 : resumeIndex(printed, lines);
      for (const line of lines.slice(start)) fresh.add(line);
      this.#lastByWorker.set(worker, [...printed, ...lines.slice(start)].slice(-OVERLAP_CHECK));
    }
    return batch.filter((line) => fresh.has(line));
  }
}

/** The index in `lines` just after the last printed line, or 0 when the printed lines are not there. */
function resumeIndex(printed: EndpointLogLine[], lines: EndpointLogLine[]): number {
  for (let end = lines.length - 1; end >= 0; end--) {
    let matched = 0;
    while (
      matched < printed.length &&
      matched <= end &&
      sameLine(printed[printed.length - 1 - matched]!, lines[end - matched]!)
    ) {
      matched++;
    }
    if (matched === printed.length || matched === end + 1) {
      if (matched > 0) return end + 1;
    }
  }
  return 0;
}

function sameLine(a: EndpointLogLine, b: EndpointLogLine): boolean {
  return a.time === b.time && a.stream === b.stream && a.line === b.line;
}
