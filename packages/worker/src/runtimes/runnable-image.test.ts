import { readFileSync } from "node:fs";
import type { RunnableImageFlavor, StreamingEnhancedRunnableImageFlavor } from "@launch/protocol";
import { afterEach, describe, expect, it, vi } from "vitest";
import { fixturePath } from "../fixtures.js";
import type { RuntimeExit, StreamEvent } from "./port.js";
import { RunnableImageRuntime, type RunnableImageRuntimeOptions, substitutePort } from "./runnable-image.js";

const node = process.execPath;
/** The literal text "${PORT}" (the runtime substitutes it). */
const BRACED_PORT = ["$", "{PORT}"].join("");

function imageFlavor(command: string[], overrides: Partial<RunnableImageFlavor> = {}): RunnableImageFlavor {
  return {
    flavor: "runnable_image",
    repository: "local",
    tag: "test",
    command,
    protocol: "http",
    predict_route: "/predict",
    healthcheck_route: "/readyz",
    env: {},
    readiness_initial_delay_seconds: 5,
    extra_routes: [],
    routes: [],
    forwarder_type: "default",
    worker_command: null,
    worker_env: null,
    ...overrides,
  };
}

function streamingFlavor(streamingCommand: string[]): StreamingEnhancedRunnableImageFlavor {
  return {
    ...imageFlavor([]),
    flavor: "streaming_enhanced_runnable_image",
    streaming_command: streamingCommand,
    streaming_predict_route: "/stream",
  };
}

const started: RunnableImageRuntime[] = [];

function runtime(options: RunnableImageRuntimeOptions): RunnableImageRuntime {
  const created = new RunnableImageRuntime({ healthPollMs: 50, ...options });
  started.push(created);
  return created;
}

afterEach(async () => {
  await Promise.all(started.splice(0).map((r) => r.stop(500)));
});

/** Dead: kill(pid, 0) fails with ESRCH, or only a zombie is left for init to reap. */
function isGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ESRCH";
  }
  try {
    return /^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return true;
  }
}

async function startError(r: RunnableImageRuntime): Promise<Error> {
  const error = await r.start().then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  if (!error) throw new Error("start() succeeded but should have failed");
  return error;
}

async function collect(events: AsyncIterable<StreamEvent>): Promise<StreamEvent[]> {
  const out: StreamEvent[] = [];
  for await (const event of events) out.push(event);
  return out;
}

describe("RunnableImageRuntime", () => {
  it("runs the documentation model: {x: 2, y: 'hello'} gives 7 with status 200", async () => {
    const r = runtime({ flavor: imageFlavor([node, fixturePath("doc-model-server.mjs")]) });
    await r.start();
    expect(await r.predict({ args: { x: 2, y: "hello" } })).toEqual({ ok: true, output: 7, statusCode: 200 });
    expect(await r.predict({ args: { x: 3, y: "hello" } })).toEqual({ ok: true, output: 8, statusCode: 200 });
    expect(r.logs()).toContain(`doc model listening on port ${r.port}`);
  });

  it("passes the model's status through and parses its JSON whatever the status", async () => {
    const r = runtime({ flavor: imageFlavor([node, fixturePath("echo-server.mjs")]) });
    await r.start();
    const args = { a: [1, "two", { three: null }], delay: 0 };
    expect(await r.predict({ args })).toEqual({ ok: true, output: args, statusCode: 200 });
    expect(await r.predict({ args: { status_code: 503, why: "busy" } })).toEqual({
      ok: true,
      output: { status_code: 503, why: "busy" },
      statusCode: 503,
    });
    const invalid = runtime({ flavor: imageFlavor([node, fixturePath("doc-model-server.mjs")]) });
    await invalid.start();
    expect(await invalid.predict({ args: { x: "2" } })).toMatchObject({ ok: true, statusCode: 422 });
  });

  it("fails a task without args or url, and one whose reply is not JSON", async () => {
    const script =
      "require('http').createServer((q, s) => s.end(q.url === '/readyz' ? 'ok' : '<html>oops</html>')).listen(process.env.PORT, '127.0.0.1')";
    const r = runtime({ flavor: imageFlavor([node, "-e", script]) });
    await r.start();
    expect(await r.predict({})).toEqual({
      ok: false,
      error: "Input needs either url or args.",
      traceback: null,
      statusCode: null,
    });
    const outcome = await r.predict({ args: { x: 1 } });
    expect(outcome).toMatchObject({ ok: false, statusCode: 200 });
    expect(outcome.ok === false && outcome.error).toMatch(/not JSON: "<html>oops<\/html>"/);
  });

  it("substitutes $PORT and its braced form in the command and layers the bundle's env on a minimal one", async () => {
    expect(substitutePort("--port=$PORT", 81)).toBe("--port=81");
    expect(substitutePort(`${BRACED_PORT}:$PORT`, 82)).toBe("82:82");
    expect(substitutePort("$PORTS", 83)).toBe("$PORTS");

    process.env.LAUNCH_TEST_SERVER_SECRET = "do-not-leak";
    try {
      const script = [
        "const port = Number(process.argv[1].split('=')[1]);",
        "require('http').createServer((q, s) => s.end(JSON.stringify({",
        "  port, greeting: process.env.GREETING, leaked: process.env.LAUNCH_TEST_SERVER_SECRET ?? null,",
        "}))).listen(port, '127.0.0.1');",
      ].join("\n");
      const r = runtime({
        flavor: imageFlavor([node, "-e", script, "--", `--port=${BRACED_PORT}`], { env: { GREETING: "hi" } }),
      });
      await r.start();
      expect(await r.predict({ args: {} })).toEqual({
        ok: true,
        output: { port: r.port, greeting: "hi", leaked: null },
        statusCode: 200,
      });
    } finally {
      delete process.env.LAUNCH_TEST_SERVER_SECRET;
    }
  });

  it("gives two runtimes of the same command different ports", async () => {
    const command = [node, fixturePath("echo-server.mjs")];
    const [a, b] = [runtime({ flavor: imageFlavor(command) }), runtime({ flavor: imageFlavor(command) })];
    await Promise.all([a.start(), b.start()]);
    expect(a.port).not.toBe(b.port);
    expect(await a.predict({ args: { from: "a" } })).toMatchObject({ ok: true, output: { from: "a" } });
    expect(await b.predict({ args: { from: "b" } })).toMatchObject({ ok: true, output: { from: "b" } });
  });

  it("sends the url for the program to fetch when there are no args", async () => {
    const r = runtime({ flavor: imageFlavor([node, fixturePath("echo-server.mjs")]) });
    await r.start();
    expect(await r.predict({ url: "http://example.invalid/input.json" })).toMatchObject({
      ok: true,
      output: { url: "http://example.invalid/input.json" },
    });
  });
});

describe("RunnableImageRuntime streaming", () => {
  it("yields each event as it arrives, before the server ends the stream", async () => {
    const r = runtime({ flavor: streamingFlavor([node, fixturePath("doc-model-server.mjs")]) });
    await r.start();
    const iterator = r.stream!({ args: { x: 2, y: "hello", hold: true } })[Symbol.asyncIterator]();
    // The server holds the last event until /release: these must arrive while the response is open.
    const firstFive: unknown[] = [];
    for (let i = 0; i < 5; i++) {
      const step = await iterator.next();
      expect(step.done).toBe(false);
      firstFive.push(step.value);
    }
    expect(firstFive).toEqual(
      ["h", "e", "l", "l", "o"].map((c) => ({ ok: true, output: c, statusCode: 200 })),
    );
    await fetch(`http://127.0.0.1:${r.port}/release`, { method: "POST" });
    expect(await iterator.next()).toEqual({ done: false, value: { ok: true, output: 7, statusCode: 200 } });
    expect((await iterator.next()).done).toBe(true);
  });

  it("streams the echo server's body back as one event, and a non-stream reply as one outcome", async () => {
    const r = runtime({ flavor: streamingFlavor([node, fixturePath("echo-server.mjs")]) });
    await r.start();
    expect(await collect(r.stream!({ args: { a: 1 } }))).toEqual([
      { ok: true, output: { a: 1 }, statusCode: 200 },
    ]);

    const doc = runtime({ flavor: streamingFlavor([node, fixturePath("doc-model-server.mjs")]) });
    await doc.start();
    expect(await collect(doc.stream!({ args: { x: "not a number" } }))).toEqual([
      { ok: true, output: { detail: 'expected {"x": <number>, "y": <string>}' }, statusCode: 422 },
    ]);
  });

  it("is absent for bundles that are not streaming bundles", () => {
    expect(runtime({ flavor: imageFlavor([node, fixturePath("echo-server.mjs")]) }).stream).toBeUndefined();
  });
});

describe("RunnableImageRuntime failures", () => {
  it("names a command that does not exist", async () => {
    const r = runtime({ flavor: imageFlavor(["launch-no-such-command-xyz", "--port", "$PORT"]) });
    const error = await startError(r);
    expect(error.name).toBe("RuntimeStartError");
    expect(error.message).toMatch(/^Command not found: "launch-no-such-command-xyz"/);
  });

  it("quotes the stderr of a command that exits at once", async () => {
    const r = runtime({ flavor: imageFlavor([node, fixturePath("crash.mjs")]) });
    const error = await startError(r);
    expect(error.message).toMatch(/exited with code 3 before it became healthy/);
    expect(error.message).toContain("FileNotFoundError: weights.bin is missing");
    expect(error.message).not.toContain("loading weights"); // stdout is logged, not quoted
    expect(r.logs()).toContain("loading weights");
    expect(isGone(r.pid ?? 0)).toBe(true);
  });

  it("gives up on a program that never becomes healthy, after the configured deadline, and kills it", async () => {
    const r = runtime({
      flavor: imageFlavor([node, fixturePath("never-healthy.mjs")], { readiness_initial_delay_seconds: 0 }),
      readinessMarginMs: 700,
    });
    let pid: number | undefined;
    const watch = setInterval(() => {
      pid ??= r.pid;
    }, 5);
    const error = await startError(r).finally(() => clearInterval(watch));
    expect(error.message).toMatch(
      /did not become healthy within 0\.7 s .*GET \/readyz on port \d+ last answered 503/,
    );
    expect(error.message).toContain("warming up forever");
    expect(error.message).toMatch(/does not mention \$PORT/);
    expect(pid).toBeDefined();
    expect(isGone(pid!)).toBe(true);
  });

  it("stops the whole process group, including a grandchild that ignores SIGTERM", async () => {
    const r = runtime({ flavor: imageFlavor([node, fixturePath("group-server.mjs")]) });
    await r.start();
    const line = r.logs().find((l) => l.startsWith("grandchild "));
    const grandchild = Number(line?.split(" ")[1]);
    const leader = r.pid!;
    expect(isGone(grandchild)).toBe(false);
    const exits: RuntimeExit[] = [];
    r.onExit((exit) => exits.push(exit));
    await r.stop(300);
    expect(() => process.kill(leader, 0)).toThrow(expect.objectContaining({ code: "ESRCH" }));
    await vi.waitFor(() => expect(isGone(grandchild)).toBe(true), { timeout: 5_000 });
    expect(exits).toEqual([]); // stop() is not a crash
    expect(await r.predict({ args: {} })).toMatchObject({
      ok: false,
      error: expect.stringMatching(/not running/),
    });
  });

  it("reports a crash after start through onExit, and fails later tasks saying so", async () => {
    const r = runtime({ flavor: imageFlavor([node, fixturePath("echo-server.mjs")]) });
    await r.start();
    const exited = new Promise<RuntimeExit>((resolve) => r.onExit(resolve));
    process.kill(r.pid!, "SIGKILL");
    const exit = await exited;
    expect(exit).toMatchObject({ code: null, signal: "SIGKILL" });
    expect(exit.reason).toMatch(/killed by SIGKILL/);
    const outcome = await r.predict({ args: { a: 1 } });
    expect(outcome).toMatchObject({ ok: false, statusCode: null });
    expect(outcome.ok === false && outcome.error).toMatch(/killed by SIGKILL/);
  });

  it("fails a task in flight when the model dies, without throwing", async () => {
    const r = runtime({ flavor: imageFlavor([node, fixturePath("echo-server.mjs")]) });
    await r.start();
    const pending = r.predict({ args: { delay: 30 } });
    setTimeout(() => process.kill(r.pid!, "SIGKILL"), 100);
    const outcome = await pending;
    expect(outcome.ok).toBe(false);
    expect(outcome.ok === false && outcome.error).toMatch(/killed by SIGKILL during POST \/predict/);
  });

  it("cancels a task through its signal", async () => {
    const r = runtime({ flavor: imageFlavor([node, fixturePath("echo-server.mjs")]) });
    await r.start();
    const controller = new AbortController();
    const pending = r.predict({ args: { delay: 30 } }, controller.signal);
    setTimeout(() => controller.abort(new Error("sync timeout")), 50);
    expect(await pending).toMatchObject({
      ok: false,
      error: expect.stringMatching(/cancelled: sync timeout/),
    });
  });

  it("stops a runtime that is still starting, leaving no process", async () => {
    const r = runtime({
      flavor: imageFlavor([node, fixturePath("never-healthy.mjs")]),
      readinessMarginMs: 60_000,
    });
    const starting = startError(r);
    await vi.waitFor(() => expect(r.logs().some((line) => line.includes("warming up forever"))).toBe(true));
    const pid = r.pid!;
    await r.stop(500);
    expect((await starting).message).toBe("The runtime was stopped before the model server became healthy.");
    expect(isGone(pid)).toBe(true);
  });

  it("refuses an empty command", async () => {
    const error = await startError(runtime({ flavor: streamingFlavor([]) }));
    expect(error.message).toMatch(/command and streaming_command are empty/);
  });
});
