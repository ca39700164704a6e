import type { EndpointLogLine } from "@launch/client";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  endpointView,
  startTaskRouteServer,
  type TaskRouteServer,
} from "../../../client/test/task-route-server.js";
import { runCli } from "../run.js";
import { memoryIo } from "../test-io.js";
import { formatLine, PrintedLines } from "./endpoint-logs.js";

const ID = "end_01jdq9z6v4k3m8n2p5r7s9t1aa";

function line(
  worker: string,
  second: number,
  text: string,
  stream: "stdout" | "stderr" = "stdout",
): EndpointLogLine {
  return {
    worker_id: worker,
    time: `2025-01-01T00:00:${String(second).padStart(2, "0")}.000Z`,
    stream,
    line: text,
  };
}

describe("PrintedLines", () => {
  it("prints each line once as the window slides, per worker", () => {
    const printed = new PrintedLines();
    const a1 = line("wrk_a", 1, "a1");
    const b1 = line("wrk_b", 2, "b1");
    const a2 = line("wrk_a", 3, "a2");
    const b2 = line("wrk_b", 4, "b2");
    const a3 = line("wrk_a", 5, "a3");
    expect(printed.unseen([a1, b1])).toEqual([a1, b1]);
    expect(printed.unseen([a1, b1, a2])).toEqual([a2]);
    // The window dropped a1 and b1.
    expect(printed.unseen([a2, b2, a3])).toEqual([b2, a3]);
    expect(printed.unseen([b2, a3])).toEqual([]);
  });

  it("keeps repeated text with a new time, and prints everything after a gap", () => {
    const printed = new PrintedLines();
    const tick1 = line("wrk_a", 1, "tick");
    const tick2 = line("wrk_a", 2, "tick");
    expect(printed.unseen([tick1])).toEqual([tick1]);
    expect(printed.unseen([tick1, tick2])).toEqual([tick2]);
    // More new lines than the window: none of the printed ones are left, so all are new.
    const later = [line("wrk_a", 10, "x"), line("wrk_a", 11, "y")];
    expect(printed.unseen(later)).toEqual(later);
  });

  it("formats a line as time, worker, stream and text", () => {
    expect(formatLine(line("wrk_a", 1, "boom", "stderr"))).toBe(
      "2025-01-01T00:00:01.000Z  wrk_a  stderr  boom",
    );
  });
});

describe("launch endpoints logs, against a server speaking the logs route", () => {
  let server: TaskRouteServer;

  beforeEach(async () => {
    server = await startTaskRouteServer();
    server.endpoints.set(ID, [endpointView({ id: ID, name: "doc-async" })]);
    server.logs = [
      line("wrk_a", 1, "loading model"),
      line("wrk_a", 2, "ready"),
      line("wrk_b", 3, "warn", "stderr"),
    ];
  });
  afterEach(async () => {
    await server.close();
  });

  const env = () => ({ LAUNCH_API_KEY: "lk_test", LAUNCH_ENDPOINT: server.url });

  it("prints the last --tail lines; --json prints one object per line", async () => {
    const io = memoryIo(env());
    expect(await runCli(["endpoints", "logs", "doc-async", "--tail", "2"], io)).toBe(0);
    expect(io.stdoutText()).toBe(
      "2025-01-01T00:00:02.000Z  wrk_a  stdout  ready\n2025-01-01T00:00:03.000Z  wrk_b  stderr  warn\n",
    );
    const logsRequest = server.requests.find((r) => r.path.endsWith("/logs"));
    expect(logsRequest?.query.get("tail")).toBe("2");

    const json = memoryIo(env());
    expect(await runCli(["endpoints", "logs", ID, "--json"], json)).toBe(0);
    expect(
      json
        .stdoutText()
        .trimEnd()
        .split("\n")
        .map((l) => JSON.parse(l)),
    ).toEqual(server.logs);
  });

  it("--follow prints new lines once each until interrupted", async () => {
    const controller = new AbortController();
    const io = memoryIo(env(), controller.signal);
    const logsRequests = () => server.requests.filter((r) => r.path.endsWith("/logs")).length;
    const running = runCli(["endpoints", "logs", "doc-async", "--follow"], io);
    await server.nextRequest((r) => r.path.endsWith("/logs"));
    server.logs.push(line("wrk_a", 4, "predict x=2"), line("wrk_b", 5, "predict x=3"));
    // The third poll starts after the second one's lines were printed.
    await server.nextRequest((r) => r.path.endsWith("/logs") && logsRequests() >= 3);
    controller.abort();
    expect(await running).toBe(0);
    const lines = io.stdoutText().trimEnd().split("\n");
    expect(lines.map((l) => l.split("  ").pop())).toEqual([
      "loading model",
      "ready",
      "warn",
      "predict x=2",
      "predict x=3",
    ]);
  });
});
