import { createHmac, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type CallbackAuth, generateWebhookSecret, newId, verifyWebhook } from "@launch/protocol";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "../config/load.js";
import { SecretsBox } from "../domain/secrets-box.js";
import { MetricsRegistry } from "../metrics/registry.js";
import { EmbeddedTaskQueue } from "../queue/embedded/embedded-queue.js";
import { sealCallbackAuth } from "../services/callback-auth.js";
import { CallbackDispatcher, type CallbackDispatcherOptions } from "./dispatcher.js";
import { MemoryCallbackOutbox } from "./memory-outbox.js";
import type { AttemptRecord, CallbackOutbox, DeliveryRecord } from "./port.js";
import { makeTestPki, type TestPki } from "./testing-pki.js";
import { TestReceiver } from "./testing-receiver.js";

const box = new SecretsBox(randomBytes(32));
const SECRET = generateWebhookSecret();
/** Fast retries, so a test sees several attempts quickly. */
const QUICK = Array.from({ length: 10 }, () => 30);

let pkiDir: string;
let pki: TestPki;
beforeAll(() => {
  pkiDir = mkdtempSync(join(tmpdir(), "launch-dispatcher-pki-"));
  pki = makeTestPki(pkiDir, "callback-client-7");
});
afterAll(() => rmSync(pkiDir, { recursive: true, force: true }));

interface OpenedOutbox {
  outbox: CallbackOutbox;
  close(): Promise<void>;
}

const adapters: [string, () => Promise<OpenedOutbox>][] = [
  [
    "memory",
    async () => {
      const outbox = new MemoryCallbackOutbox();
      return { outbox, close: async () => outbox.close() };
    },
  ],
  [
    "embedded (SQLite)",
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "launch-dispatcher-"));
      const queue = new EmbeddedTaskQueue({ file: join(dir, "queue.db"), resultRetentionMs: 86_400_000 });
      await queue.ready();
      return {
        outbox: queue,
        async close() {
          await queue.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  ],
];

/** Waits (polling every 5 ms) until `check` holds; fails naming `what` after 15 s. */
async function until(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe.each(adapters)("CallbackDispatcher on the %s outbox", (_name, open) => {
  let opened: OpenedOutbox;
  let outbox: CallbackOutbox;
  let metrics: MetricsRegistry;
  const dispatchers: CallbackDispatcher[] = [];
  const receivers: TestReceiver[] = [];

  beforeEach(async () => {
    opened = await open();
    outbox = opened.outbox;
    metrics = new MetricsRegistry();
  });
  afterEach(async () => {
    await Promise.all(dispatchers.splice(0).map((d) => d.stop()));
    await Promise.all(receivers.splice(0).map((r) => r.close()));
    await opened.close();
  });

  const receiver = async (
    handler?: Parameters<typeof TestReceiver.http>[0],
    https?: Parameters<typeof TestReceiver.https>[0],
  ): Promise<TestReceiver> => {
    const r = https ? await TestReceiver.https(https, handler) : await TestReceiver.http(handler);
    receivers.push(r);
    return r;
  };

  const start = (options: Partial<CallbackDispatcherOptions> = {}): CallbackDispatcher => {
    const dispatcher = new CallbackDispatcher({
      outbox,
      secrets: box,
      signingKeys: { secretsFor: async () => [SECRET] },
      metrics,
      retryScheduleMs: QUICK,
      timeoutMs: 5_000,
      extraCa: [pki.ca],
      ...options,
    });
    dispatchers.push(dispatcher);
    dispatcher.start();
    return dispatcher;
  };

  const add = async (url: string, auth: CallbackAuth | null = null): Promise<DeliveryRecord> => {
    const taskId = newId("task");
    return outbox.addDelivery({
      id: newId("delivery"),
      taskId,
      endpointId: "end_a",
      owner: "team_1",
      event: "succeeded",
      url,
      auth: auth ? sealCallbackAuth(auth, box) : null,
      body: `{"task_id":"${taskId}","result":7}`,
      status: "pending",
      createdAt: Date.now(),
    });
  };

  const get = async (id: string): Promise<DeliveryRecord> => {
    const d = await outbox.getDelivery(id);
    if (!d) throw new Error(`delivery ${id} is gone`);
    return d;
  };
  const settled = async (id: string): Promise<DeliveryRecord> => {
    await until(`${id} is no longer pending`, async () => (await get(id)).status !== "pending");
    return get(id);
  };
  const attemptsOf = (id: string): Promise<AttemptRecord[]> => outbox.listAttempts(id);
  const counter = (name: string, labels: Record<string, string>): number =>
    metrics.counter(name, "", Object.keys(labels)).get(labels);

  it("sends a delivery added to an idle dispatcher, signed, with basic auth, and counts it", async () => {
    const r = await receiver();
    start();
    // Let the dispatcher go idle first: the delivery must wake it.
    await new Promise((resolve) => setTimeout(resolve, 20));
    const d = await add(r.url(), { kind: "basic", username: "user", password: "password" });
    const done = await settled(d.id);
    expect(done).toMatchObject({ status: "delivered", attempts: 1, lastStatusCode: 200, lastError: null });
    expect(done.deliveredAt).not.toBeNull();

    const [got] = r.received;
    expect(got?.body).toBe(d.body);
    expect(got?.headers.authorization).toBe(`Basic ${Buffer.from("user:password").toString("base64")}`);
    expect(got?.headers["webhook-id"]).toBe(d.id);
    const timestamp = Number(got?.headers["webhook-timestamp"]);
    expect(verifyWebhook({ headers: got!.headers, body: got!.body, secret: SECRET })).toEqual({
      id: d.id,
      timestamp,
    });
    const hmac = createHmac("sha256", Buffer.from(SECRET.slice(6), "base64"))
      .update(`${d.id}.${timestamp}.${d.body}`)
      .digest("base64");
    expect(got?.headers["webhook-signature"]).toBe(`v1,${hmac}`);

    const [attempt] = await attemptsOf(d.id);
    expect(attempt).toMatchObject({
      n: 1,
      url: r.url(),
      statusCode: 200,
      errorClass: null,
      outcome: "delivered",
      nextAttemptAt: null,
    });
    expect(counter("launch_callback_deliveries_total", { outcome: "delivered" })).toBe(1);
    expect(counter("launch_callback_attempts_total", { result: "delivered" })).toBe(1);
    const text = metrics.render();
    expect(text).toContain("launch_callback_delivery_latency_seconds_count 1");
    expect(text).toContain("launch_callback_attempt_duration_seconds_count 1");
  });

  it("presents the mTLS client certificate; without one the receiver refuses it and it is retried", async () => {
    const r = await receiver(undefined, { ...pki.server, clientCa: pki.ca });
    start({ retryScheduleMs: [60_000] });
    const withCert = await add(r.url(), { kind: "mtls", ...pki.client });
    const withoutCert = await add(r.url());
    expect(await settled(withCert.id)).toMatchObject({ status: "delivered", lastStatusCode: 200 });
    expect(r.received.map((x) => [x.clientCn, x.headers["webhook-id"]])).toEqual([
      ["callback-client-7", withCert.id],
    ]);
    await until(
      "the attempt without a certificate is recorded",
      async () => (await get(withoutCert.id)).attempts > 0,
    );
    const [attempt] = await attemptsOf(withoutCert.id);
    expect(attempt).toMatchObject({ errorClass: "tls", statusCode: null, outcome: "retry" });
    expect(attempt?.errorMessage).toMatch(/certificate required/);
    expect((await get(withoutCert.id)).status).toBe("pending");
    expect(r.received).toHaveLength(1);
  });

  it("retries a receiver that is down until it is up: one success, every attempt logged", async () => {
    const r = await receiver();
    await r.close();
    start({ retryScheduleMs: Array.from({ length: 40 }, () => 30) });
    const d = await add(r.url());
    await until("three attempts failed", async () => (await get(d.id)).attempts >= 3);
    await r.reopen();
    const done = await settled(d.id);
    expect(done.status).toBe("delivered");
    const attempts = await attemptsOf(d.id);
    expect(attempts.length).toBe(done.attempts);
    expect(attempts.map((a) => a.n)).toEqual(attempts.map((_, i) => i + 1));
    for (const failed of attempts.slice(0, -1)) {
      expect(failed).toMatchObject({ errorClass: "connection_refused", statusCode: null, outcome: "retry" });
      expect(failed.nextAttemptAt).toBeGreaterThanOrEqual(failed.startedAt);
    }
    expect(attempts.at(-1)).toMatchObject({ outcome: "delivered", statusCode: 200 });
    expect(r.received).toHaveLength(1);
    expect(r.received[0]?.body).toBe(d.body);
    expect(counter("launch_callback_deliveries_total", { outcome: "retried" })).toBe(attempts.length - 1);
    expect(counter("launch_callback_attempts_total", { result: "connection_refused" })).toBe(
      attempts.length - 1,
    );
  });

  it("retries 503 with the same body and webhook-id each time, every attempt signed", async () => {
    const r = await receiver((_req, res, n) => res.writeHead(n <= 2 ? 503 : 200).end(n <= 2 ? "busy" : "ok"));
    start();
    const d = await add(r.url());
    expect(await settled(d.id)).toMatchObject({ status: "delivered", attempts: 3 });
    expect(r.received.map((x) => x.headers["webhook-id"])).toEqual([d.id, d.id, d.id]);
    expect(r.received.map((x) => x.body)).toEqual([d.body, d.body, d.body]);
    for (const x of r.received)
      expect(verifyWebhook({ headers: x.headers, body: x.body, secret: SECRET }).id).toBe(d.id);
    expect((await attemptsOf(d.id)).map((a) => [a.statusCode, a.errorClass, a.outcome])).toEqual([
      [503, "http_503", "retry"],
      [503, "http_503", "retry"],
      [200, null, "delivered"],
    ]);
    expect((await attemptsOf(d.id))[0]?.errorMessage).toBe("the receiver answered 503: busy");
  });

  it("fails a 400 at once (no retry), and a replay delivers it once the receiver is fixed", async () => {
    const r = await receiver((_req, res) => res.writeHead(400).end("bad"));
    start();
    const d = await add(r.url());
    expect(await settled(d.id)).toMatchObject({ status: "failed", attempts: 1, lastStatusCode: 400 });
    expect(await attemptsOf(d.id)).toMatchObject([
      { statusCode: 400, outcome: "failed", nextAttemptAt: null },
    ]);
    expect(counter("launch_callback_deliveries_total", { outcome: "failed" })).toBe(1);
    expect(r.received).toHaveLength(1);

    r.handler = (_req, res) => res.writeHead(204).end();
    await outbox.replay(d.id);
    expect(await settled(d.id)).toMatchObject({ status: "delivered", attempts: 2 });
    expect((await attemptsOf(d.id)).map((a) => [a.n, a.outcome])).toEqual([
      [1, "failed"],
      [2, "delivered"],
    ]);
    expect(r.received.map((x) => x.headers["webhook-id"])).toEqual([d.id, d.id]);
  });

  it("fails a 410 Gone and a redirect at once, and never follows the redirect", async () => {
    const target = await receiver();
    const gone = await receiver((_req, res) => res.writeHead(410).end());
    const moved = await receiver((_req, res) => res.writeHead(302, { location: target.url() }).end());
    start();
    const a = await add(gone.url());
    const b = await add(moved.url());
    expect(await settled(a.id)).toMatchObject({ status: "failed", attempts: 1, lastStatusCode: 410 });
    expect(await settled(b.id)).toMatchObject({ status: "failed", attempts: 1, lastStatusCode: 302 });
    expect((await get(b.id)).lastError).toMatch(/redirects are not followed/);
    expect(target.received).toHaveLength(0);
  });

  it("honours Retry-After on 429: the next attempt is not due before it", async () => {
    const r = await receiver((_req, res) => res.writeHead(429, { "retry-after": "1" }).end());
    start({ retryScheduleMs: [5_000, 5_000], random: () => 0 });
    const d = await add(r.url());
    await until("the 429 is recorded", async () => (await get(d.id)).attempts === 1);
    const [attempt] = await attemptsOf(d.id);
    expect(attempt).toMatchObject({ statusCode: 429, outcome: "retry" });
    expect(attempt!.nextAttemptAt! - attempt!.startedAt).toBeGreaterThanOrEqual(1_000);
    // Without Retry-After, random() = 0 would have made it due at once.
    expect(attempt!.nextAttemptAt! - attempt!.startedAt).toBeLessThan(5_000);
    expect((await get(d.id)).nextAttemptAt).toBe(attempt!.nextAttemptAt);
  });

  it("dead-letters a delivery once the schedule is spent", async () => {
    const r = await receiver((_req, res) => res.writeHead(500).end());
    start({ retryScheduleMs: [10, 10] });
    const d = await add(r.url());
    const done = await settled(d.id);
    expect(done).toMatchObject({ status: "failed", attempts: 3 });
    expect(done.lastError).toMatch(/retry schedule is spent \(3 attempts in a row failed\)/);
    expect((await attemptsOf(d.id)).map((a) => a.outcome)).toEqual(["retry", "retry", "failed"]);
    expect(counter("launch_callback_deliveries_total", { outcome: "retried" })).toBe(2);
    expect(counter("launch_callback_deliveries_total", { outcome: "failed" })).toBe(1);
  });

  it("holds a slow receiver to its own slots: callbacks to another receiver pass it", async () => {
    const slow = await receiver(() => {});
    const fast = await receiver();
    // Four slots in all, two per origin; six deliveries to the slow receiver are claimed first.
    start({ timeoutMs: 10_000, concurrency: 4, perOriginConcurrency: 2, stopGraceMs: 50 });
    const stuck = await Promise.all(Array.from({ length: 6 }, () => add(slow.url())));
    await until("the slow receiver holds two requests", () => slow.received.length === 2);
    const quick = await Promise.all(Array.from({ length: 5 }, () => add(fast.url())));
    for (const d of quick) expect(await settled(d.id)).toMatchObject({ status: "delivered", attempts: 1 });
    // Only two of the six slow deliveries were started, and none has finished.
    expect(slow.received).toHaveLength(2);
    const stuckNow = await Promise.all(stuck.map((d) => get(d.id)));
    expect(stuckNow.map((d) => d.attempts)).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it("works through a backlog for one receiver larger than it holds in memory, each delivery once", async () => {
    const r = await receiver();
    const dispatcher = start({ concurrency: 8, perOriginConcurrency: 2, maxHeld: 16 });
    let mostHeld = 0;
    const watch = setInterval(() => {
      mostHeld = Math.max(mostHeld, dispatcher.held);
    }, 1);
    try {
      const backlog = await Promise.all(Array.from({ length: 200 }, () => add(r.url())));
      for (const d of backlog)
        expect(await settled(d.id)).toMatchObject({ status: "delivered", attempts: 1 });
      expect(new Set(r.received.map((x) => x.headers["webhook-id"])).size).toBe(200);
      expect(r.received).toHaveLength(200);
      expect(mostHeld).toBeLessThanOrEqual(16);
    } finally {
      clearInterval(watch);
    }
  });

  it("lets go of a stalled receiver's excess so its backlog cannot crowd out other receivers", async () => {
    const stalled = await receiver(() => {});
    const fast = await receiver();
    start({
      timeoutMs: 10_000,
      concurrency: 4,
      perOriginConcurrency: 2,
      maxHeld: 8,
      stallMs: 50,
      stalledBacklog: 2,
      stopGraceMs: 50,
    });
    // More deliveries to the stalled receiver than the dispatcher may hold, all older than the others.
    const stuck = await Promise.all(Array.from({ length: 20 }, () => add(stalled.url())));
    await until("the stalled receiver holds two requests", () => stalled.received.length === 2);
    const quick = await Promise.all(Array.from({ length: 3 }, () => add(fast.url())));
    for (const d of quick) expect(await settled(d.id)).toMatchObject({ status: "delivered", attempts: 1 });
    expect(stalled.received).toHaveLength(2);
    expect((await Promise.all(stuck.map((d) => get(d.id)))).every((d) => d.attempts === 0)).toBe(true);
  });

  it("times out a receiver that never answers, while callbacks to another receiver complete meanwhile", async () => {
    let open = 0;
    const hanging = await receiver((_req, res) => {
      open++;
      res.on("close", () => open--);
    });
    const openWhenFastArrived: number[] = [];
    const fast = await receiver((_req, res) => {
      openWhenFastArrived.push(open);
      res.writeHead(200).end();
    });
    start({
      timeoutMs: 300,
      concurrency: 4,
      perOriginConcurrency: 2,
      retryScheduleMs: QUICK,
      stopGraceMs: 50,
    });
    const stuck = await Promise.all(Array.from({ length: 6 }, () => add(hanging.url())));
    await until("the hanging receiver holds two requests", () => open === 2);
    const quick = await Promise.all(Array.from({ length: 5 }, () => add(fast.url())));
    for (const d of quick) expect((await settled(d.id)).status).toBe("delivered");
    // Each fast callback arrived while hanging attempts were in flight.
    expect(openWhenFastArrived.length).toBeGreaterThanOrEqual(5);
    for (const n of openWhenFastArrived) expect(n).toBeGreaterThan(0);

    for (const d of stuck) await until(`${d.id} timed out`, async () => (await get(d.id)).attempts >= 1);
    for (const d of stuck) {
      expect((await attemptsOf(d.id))[0]).toMatchObject({
        errorClass: "timeout",
        errorMessage: "no complete answer within 300 ms",
        statusCode: null,
        outcome: "retry",
      });
    }
    expect(counter("launch_callback_attempts_total", { result: "timeout" })).toBeGreaterThanOrEqual(6);
  });

  it("refuses a private address when private networks are denied: a permanent failure", async () => {
    const r = await receiver();
    start({ allowPrivateNetworks: false });
    const d = await add(r.url());
    const done = await settled(d.id);
    expect(done).toMatchObject({ status: "failed", attempts: 1 });
    expect(done.lastError).toMatch(/refused to connect to 127\.0\.0\.1: a loopback address/);
    expect(await attemptsOf(d.id)).toMatchObject([{ errorClass: "refused_address", outcome: "failed" }]);
    expect(r.received).toHaveLength(0);
  });

  it("stop() aborts a hanging attempt after the grace without recording it, and gives back every claim it holds", async () => {
    const r = await receiver(() => {});
    // One slot: one delivery hangs in flight, two wait for the slot. Claims last an hour, so only a
    // claim given back lets the next dispatcher send them now.
    const first = start({ stopGraceMs: 50, timeoutMs: 5_000, claimMs: 3_600_000, perOriginConcurrency: 1 });
    const hanging = await add(r.url());
    await until("the attempt is in flight", () => r.received.length === 1);
    const waiting = [await add(r.url()), await add(r.url())];
    await until("the others are held", () => first.held === 3);
    expect(first.inFlight).toBe(1);
    await first.stop();
    expect(first.inFlight).toBe(0);
    expect(first.held).toBe(0);
    for (const d of [hanging, ...waiting]) {
      expect(await get(d.id)).toMatchObject({ status: "pending", attempts: 0 });
      expect(await attemptsOf(d.id)).toEqual([]);
    }

    // The receiver recovers; the next dispatcher sends all three at once, the aborted one a second time.
    r.handler = (_req, res) => res.writeHead(200).end();
    start({ timeoutMs: 5_000, claimMs: 3_600_000 });
    for (const d of [hanging, ...waiting]) {
      expect(await settled(d.id)).toMatchObject({ status: "delivered", attempts: 1 });
    }
    expect(r.received.map((x) => x.headers["webhook-id"]).sort()).toEqual(
      [hanging.id, hanging.id, ...waiting.map((d) => d.id)].sort(),
    );
  });
});

describe("CallbackDispatcher.fromConfig", () => {
  it("reads the CA file at start and trusts it for receivers", async () => {
    const outbox = new MemoryCallbackOutbox();
    const r = await TestReceiver.https(pki.server);
    const config = loadConfig({
      env: { LAUNCH_CALLBACK_CA_FILE: pki.caFile, LAUNCH_CALLBACK_TIMEOUT_SECONDS: "5" },
    });
    const dispatcher = CallbackDispatcher.fromConfig(config, {
      outbox,
      secrets: box,
      signingKeys: { secretsFor: async () => [] },
      metrics: new MetricsRegistry(),
    });
    dispatcher.start();
    try {
      const taskId = newId("task");
      const d = await outbox.addDelivery({
        id: newId("delivery"),
        taskId,
        endpointId: "end_a",
        owner: "team_1",
        event: "succeeded",
        url: r.url("/hook", "localhost"),
        auth: null,
        body: `{"task_id":"${taskId}","result":8}`,
        status: "pending",
        createdAt: Date.now(),
      });
      await until("delivered", async () => (await outbox.getDelivery(d.id))?.status === "delivered");
      expect(r.received.map((x) => x.body)).toEqual([d.body]);
    } finally {
      await dispatcher.stop();
      await r.close();
      outbox.close();
    }
  });

  it("fails at start on a bad CA file or retry schedule, naming the setting", () => {
    const deps = {
      outbox: new MemoryCallbackOutbox(),
      secrets: box,
      signingKeys: { secretsFor: async () => [] },
      metrics: new MetricsRegistry(),
    };
    const notPem = join(pkiDir, "not-a-ca.pem");
    writeFileSync(notPem, "nothing here");
    expect(() =>
      CallbackDispatcher.fromConfig(loadConfig({ env: { LAUNCH_CALLBACK_CA_FILE: notPem } }), deps),
    ).toThrow(/LAUNCH_CALLBACK_CA_FILE .* holds no PEM certificate/);
    expect(() =>
      CallbackDispatcher.fromConfig(loadConfig({ env: { LAUNCH_CALLBACK_RETRY_SCHEDULE: "5,x" } }), deps),
    ).toThrow(/LAUNCH_CALLBACK_RETRY_SCHEDULE entry 2 is "x"/);
  });
});
