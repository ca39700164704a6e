/**
 * `launch callbacks list|show|replay` and `launch endpoints secret` through `runCli`, against a real
 * server delivering to a real HTTP receiver. No workers run: the test leases each task from the server's
 * queue and completes it, as the server's route tests do.
 */
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { type CallbackDeliveryView, EndpointRequest, LaunchClient, PostInferenceHooks } from "@launch/client";
import { startTestServer, type TestServer } from "@launch/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../run.js";
import { memoryIo } from "../test-io.js";

const DEADLINE_MS = 20_000;

let server: TestServer;
let client: LaunchClient;
let env: Record<string, string>;
let otherEnv: Record<string, string>;
let receiver: Server;
let receiverUrl: string;
/** Paths under `/reject` answer 400 until they are put in here. */
const fixed = new Set<string>();

let endpointId: string;
let deliveredTask: string;
let delivered: CallbackDeliveryView;
let dead: CallbackDeliveryView;
let deadPath: string;
let elsewhere: CallbackDeliveryView;

const run = async (args: string[], runEnv: Record<string, string> = env) => {
  const io = memoryIo(runEnv);
  const code = await runCli(args, io);
  return { code, stdout: io.stdoutText(), stderr: io.stderrText() };
};

const uniquePath = (prefix: string) => `${prefix}/${Math.random().toString(36).slice(2, 10)}`;

/** Submits a task, plays the worker, and waits until its one callback has `status`. */
async function taskWithCallback(
  endpoint: string,
  status: string,
  callbackUrl?: string,
): Promise<CallbackDeliveryView> {
  const future = await client.predictAsync(
    endpoint,
    new EndpointRequest({ args: { x: 2, y: "hello" }, callbackUrl }),
  );
  const [task] = await server.queue.lease({
    queue: endpoint,
    workerId: "test-worker",
    max: 1,
    leaseMs: 60_000,
  });
  if (!task) throw new Error(`no task to lease on ${endpoint}`);
  expect(await server.queue.complete(task.id, task.leaseToken, { output: 7, statusCode: 200 })).toBe(true);
  return settled(future.taskId, status);
}

async function settled(taskId: string, status: string): Promise<CallbackDeliveryView> {
  const deadline = Date.now() + DEADLINE_MS;
  for (;;) {
    const callbacks = await client.getTaskCallbacks(taskId);
    if (callbacks.length === 1 && callbacks[0]?.status === status) return callbacks[0];
    if (Date.now() > deadline)
      throw new Error(`callbacks of ${taskId} never ${status}: ${JSON.stringify(callbacks)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

beforeAll(async () => {
  receiver = createServer((req, res) => {
    req.resume();
    const path = req.url ?? "/";
    const rejecting = path.startsWith("/reject") && !fixed.has(path);
    res.writeHead(rejecting ? 400 : 204).end(rejecting ? "bad payload" : undefined);
  });
  receiver.listen(0, "127.0.0.1");
  await once(receiver, "listening");
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;

  server = await startTestServer();
  const key = await server.createKey("alice", "ml");
  env = { LAUNCH_API_KEY: key, LAUNCH_ENDPOINT: server.url };
  otherEnv = { LAUNCH_API_KEY: await server.createKey("bob", "other"), LAUNCH_ENDPOINT: server.url };
  client = new LaunchClient({ apiKey: key, endpoint: server.url });
  await client.createModelBundleV2({
    modelBundleName: "cli-cb-bundle",
    flavor: { flavor: "runnable_image", repository: "example/model", tag: "1", command: ["serve"] },
  });
  const hooked = {
    modelBundle: "cli-cb-bundle",
    endpointType: "async" as const,
    postInferenceHooks: [PostInferenceHooks.CALLBACK],
  };
  endpointId = (
    await client.createModelEndpoint({
      endpointName: "cli-cb",
      defaultCallbackUrl: `${receiverUrl}/ok`,
      ...hooked,
    })
  ).id;
  const second = await client.createModelEndpoint({
    endpointName: "cli-cb-2",
    defaultCallbackUrl: `${receiverUrl}/ok2`,
    ...hooked,
  });

  delivered = await taskWithCallback(endpointId, "delivered");
  deliveredTask = delivered.task_id ?? "";
  deadPath = uniquePath("/reject");
  dead = await taskWithCallback(endpointId, "failed", `${receiverUrl}${deadPath}`);
  elsewhere = await taskWithCallback(second.id, "delivered");
});

afterAll(async () => {
  await server?.close();
  if (receiver) {
    receiver.closeAllConnections();
    receiver.close();
  }
});

describe("launch callbacks list", () => {
  it("prints a table of the endpoint's callbacks, newest first, with the last status or error", async () => {
    const result = await run(["callbacks", "list", "cli-cb"]);
    expect(result).toMatchObject({ code: 0, stderr: "" });
    const [header, ...rows] = result.stdout.trimEnd().split("\n");
    expect(header).toMatch(/^ID\s+TASK\s+EVENT\s+STATUS\s+ATTEMPTS\s+LAST\s+NEXT ATTEMPT$/);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatch(
      new RegExp(`^${dead.id}\\s+${dead.task_id}\\s+succeeded\\s+failed\\s+1\\s+the receiver answered 400`),
    );
    expect(rows[1]).toMatch(
      new RegExp(`^${delivered.id}\\s+${deliveredTask}\\s+succeeded\\s+delivered\\s+1\\s+204\\s+-$`),
    );
    // Columns line up.
    const status = header!.indexOf("STATUS");
    expect(rows.map((row) => row.slice(status).split(/\s+/)[0])).toEqual(["failed", "delivered"]);
  });

  it("--status filters, --limit bounds, --json prints the wire views", async () => {
    const failed = await run(["callbacks", "list", endpointId, "--status", "failed", "--json"]);
    expect(failed.code).toBe(0);
    expect(JSON.parse(failed.stdout)).toEqual([dead]);
    const limited = await run(["callbacks", "list", "cli-cb", "--limit", "1", "--json"]);
    expect((JSON.parse(limited.stdout) as CallbackDeliveryView[]).map((d) => d.id)).toEqual([dead.id]);
    const page2 = await run(["callbacks", "list", "cli-cb", "--limit", "1", "--before", dead.id, "--json"]);
    expect((JSON.parse(page2.stdout) as CallbackDeliveryView[]).map((d) => d.id)).toEqual([delivered.id]);
    const none = await run(["callbacks", "list", "cli-cb", "--status", "pending"]);
    expect(none).toMatchObject({ code: 0, stdout: "No pending callbacks for cli-cb.\n" });
  });

  it("refuses an unknown status (usage, exit 2) and another team's endpoint (exit 1)", async () => {
    const bad = await run(["callbacks", "list", "cli-cb", "--status", "lost"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/failed, pending|pending, delivered/);
    const other = await run(["callbacks", "list", endpointId], otherEnv);
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/^error: .*not found.*\n$/i);
  });
});

describe("launch callbacks show", () => {
  it("shows a task's callbacks with their attempts; --json the wire views", async () => {
    const text = await run(["callbacks", "show", deliveredTask]);
    expect(text).toMatchObject({ code: 0, stderr: "" });
    expect(text.stdout).toMatch(new RegExp(`^id\\s+${delivered.id}$`, "m"));
    expect(text.stdout).toMatch(/^status\s+delivered$/m);
    expect(text.stdout).toMatch(new RegExp(`^url\\s+${receiverUrl}/ok$`, "m"));
    expect(text.stdout).toMatch(/^body\s+\{"task_id":"tsk_\w+","result":7\}$/m);
    expect(text.stdout).toMatch(/^N\s+STARTED\s+STATUS\s+OUTCOME\s+LATENCY\s+ERROR\s+NEXT ATTEMPT$/m);
    expect(text.stdout).toMatch(/^1\s+\S+Z\s+204\s+delivered\s+\d+ ms\s+-\s+-$/m);
    const json = await run(["callbacks", "show", deliveredTask, "--json"]);
    expect(JSON.parse(json.stdout)).toEqual([delivered]);
  });

  it("shows one callback by delivery id, on any of the team's endpoints", async () => {
    const failed = await run(["callbacks", "show", dead.id]);
    expect(failed.code).toBe(0);
    expect(failed.stdout).toMatch(/^status\s+failed$/m);
    expect(failed.stdout).toMatch(/^1\s+\S+Z\s+400\s+failed\s+\d+ ms\s+http_4\w*: .*bad payload/m);
    const json = await run(["callbacks", "show", elsewhere.id, "--json"]);
    expect(JSON.parse(json.stdout)).toEqual(elsewhere);
  });

  it("says when there is nothing: an unknown delivery, another team's task", async () => {
    const unknown = await run(["callbacks", "show", "dlv_00000000000000000000000000"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^error: .*dlv_0+ was not found/i);
    expect((await run(["callbacks", "show", elsewhere.id], otherEnv)).code).toBe(1);
    const other = await run(["callbacks", "show", deliveredTask], otherEnv);
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/not found/i);
  });
});

describe("launch callbacks replay", () => {
  it("replays one delivery by id once the receiver is fixed", async () => {
    const usage = await run(["callbacks", "replay", "cli-cb"]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("launch callbacks replay --failed cli-cb");

    fixed.add(deadPath);
    const result = await run(["callbacks", "replay", dead.id]);
    expect(result).toMatchObject({ code: 0, stderr: "" });
    expect(result.stdout).toMatch(
      new RegExp(
        `^Replaying callback ${dead.id} of task ${dead.task_id} to ${receiverUrl}${deadPath}: (pending|delivered)\\.\\n$`,
      ),
    );
    const now = await settled(dead.task_id ?? "", "delivered");
    expect(now.attempts.map((a) => a.status_code)).toEqual([400, 204]);
  });

  it("--failed replays every dead letter of an endpoint", async () => {
    const paths = [uniquePath("/reject"), uniquePath("/reject")];
    const letters: CallbackDeliveryView[] = [];
    for (const path of paths)
      letters.push(await taskWithCallback(endpointId, "failed", `${receiverUrl}${path}`));
    for (const path of paths) fixed.add(path);
    const result = await run(["callbacks", "replay", "--failed", "cli-cb"]);
    expect(result).toMatchObject({ code: 0, stdout: "Replaying 2 failed callbacks of cli-cb.\n" });
    for (const letter of letters) await settled(letter.task_id ?? "", "delivered");
    const again = await run(["callbacks", "replay", "--failed", endpointId, "--json"]);
    expect(JSON.parse(again.stdout)).toEqual({ replayed: 0 });
    expect((await run(["callbacks", "replay", "--failed", endpointId], otherEnv)).code).toBe(1);
  });
});

describe("launch endpoints secret", () => {
  it("prints the signing secret; --rotate makes a new one; another team gets not found", async () => {
    const current = await client.getCallbackSecret("cli-cb");
    const text = await run(["endpoints", "secret", "cli-cb"]);
    expect(text).toMatchObject({ code: 0, stderr: "" });
    expect(text.stdout).toBe(
      `secret                      ${current.secret}\nprevious_secret_expires_at  -\n`,
    );
    expect(JSON.parse((await run(["endpoints", "secret", endpointId, "--json"])).stdout)).toEqual(current);

    const rotated = await run(["endpoints", "secret", "cli-cb", "--rotate", "--json"]);
    expect(rotated.code).toBe(0);
    const fresh = JSON.parse(rotated.stdout) as { secret: string; previous_secret_expires_at: string };
    expect(fresh.secret).toMatch(/^whsec_/);
    expect(fresh.secret).not.toBe(current.secret);
    expect(await client.getCallbackSecret(endpointId)).toEqual(fresh);

    const again = await run(["endpoints", "secret", "cli-cb", "--rotate"]);
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(/^Rotated\. .*previous secret too until \S+Z/);
    expect(again.stdout).toMatch(/^secret\s+whsec_/);

    const latest = await client.getCallbackSecret(endpointId);
    const other = await run(["endpoints", "secret", endpointId, "--rotate"], otherEnv);
    expect(other.code).toBe(1);
    expect(other.stdout).toBe("");
    expect(await client.getCallbackSecret(endpointId)).toEqual(latest);
  });
});
