import { createHmac, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type CallbackAuth, generateWebhookSecret, newId, verifyWebhook } from "@launch/protocol";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { SecretsBox } from "../domain/secrets-box.js";
import { sealCallbackAuth } from "../services/callback-auth.js";
import { HttpAgents, loadCallbackCaFile } from "./http-agents.js";
import { NetworkPolicy } from "./network-policy.js";
import type { DeliveryRecord } from "./port.js";
import { CALLBACK_USER_AGENT, CallbackSender, RESPONSE_READ_LIMIT } from "./sender.js";
import { makeTestPki, type TestPki } from "./testing-pki.js";
import { TestReceiver } from "./testing-receiver.js";

const box = new SecretsBox(randomBytes(32));
const SECRET = generateWebhookSecret();
const BODY = '{"task_id":"tsk_01","result":7}';

let dir: string;
let pki: TestPki;
const receivers: TestReceiver[] = [];
const agentSets: HttpAgents[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "launch-sender-"));
  pki = makeTestPki(dir, "callback-client-7");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(async () => {
  await Promise.all(agentSets.splice(0).map((agents) => agents.close()));
  await Promise.all(receivers.splice(0).map((receiver) => receiver.close()));
});

const track = (receiver: TestReceiver): TestReceiver => {
  receivers.push(receiver);
  return receiver;
};

function delivery(url: string, auth: CallbackAuth | null = null): DeliveryRecord {
  return {
    id: newId("delivery"),
    taskId: "tsk_01",
    endpointId: "end_01",
    owner: "team",
    event: "succeeded",
    url,
    auth: auth ? sealCallbackAuth(auth, box) : null,
    body: BODY,
    status: "pending",
    attempts: 0,
    nextAttemptAt: Date.now(),
    lastError: null,
    lastStatusCode: null,
    createdAt: Date.now(),
    deliveredAt: null,
  };
}

function sender(
  options: {
    timeoutMs?: number;
    extraCa?: string[];
    allowPrivateNetworks?: boolean;
    secrets?: string[];
  } = {},
) {
  const agents = new HttpAgents({
    policy: new NetworkPolicy({ allowPrivateNetworks: options.allowPrivateNetworks ?? true }),
    connectTimeoutMs: options.timeoutMs ?? 5_000,
    ...(options.extraCa ? { extraCa: options.extraCa } : {}),
  });
  agentSets.push(agents);
  return new CallbackSender({
    agents,
    secrets: box,
    signingKeys: { secretsFor: async () => options.secrets ?? [SECRET] },
    timeoutMs: options.timeoutMs ?? 5_000,
  });
}

describe("CallbackSender over HTTP", () => {
  it("POSTs the exact body with the callback headers, basic auth and a signature that verifies", async () => {
    const receiver = track(await TestReceiver.http());
    const d = delivery(receiver.url("/hook?x=1"), { kind: "basic", username: "user", password: "p@ss:word" });
    const outcome = await sender().send(d);
    expect(outcome).toMatchObject({ statusCode: 200, errorClass: null, errorMessage: null, aborted: false });
    expect(outcome.result).toEqual({ kind: "response", status: 200 });

    const [got] = receiver.received;
    expect(got?.method).toBe("POST");
    expect(got?.path).toBe("/hook?x=1");
    expect(got?.body).toBe(BODY);
    expect(got?.headers["content-type"]).toBe("application/json");
    expect(got?.headers["user-agent"]).toBe(CALLBACK_USER_AGENT);
    expect(CALLBACK_USER_AGENT).toMatch(/^launch\/\d+\.\d+\.\d+/);
    expect(got?.headers.authorization).toBe(`Basic ${Buffer.from("user:p@ss:word").toString("base64")}`);
    expect(got?.headers["webhook-id"]).toBe(d.id);
    const timestamp = Number(got?.headers["webhook-timestamp"]);
    expect(Math.abs(timestamp - Date.now() / 1000)).toBeLessThan(60);

    // The SDK's helper accepts it...
    expect(verifyWebhook({ headers: got!.headers, body: got!.body, secret: SECRET })).toEqual({
      id: d.id,
      timestamp,
    });
    // ...and so does an HMAC computed here from the definition.
    const expected = createHmac("sha256", Buffer.from(SECRET.slice("whsec_".length), "base64"))
      .update(`${d.id}.${timestamp}.${BODY}`)
      .digest("base64");
    expect(got?.headers["webhook-signature"]).toBe(`v1,${expected}`);
    // A tampered body does not verify.
    expect(() =>
      verifyWebhook({ headers: got!.headers, body: BODY.replace("7", "8"), secret: SECRET }),
    ).toThrow(/no webhook-signature matches/);
  });

  it("signs with both secrets during a rotation, and sends unsigned when there is none", async () => {
    const receiver = track(await TestReceiver.http());
    const next = generateWebhookSecret();
    await sender({ secrets: [next, SECRET] }).send(delivery(receiver.url()));
    await sender({ secrets: [] }).send(delivery(receiver.url()));
    const [rotated, unsigned] = receiver.received;
    expect(rotated?.headers["webhook-signature"]?.toString().split(" ")).toHaveLength(2);
    for (const secret of [next, SECRET]) {
      expect(verifyWebhook({ headers: rotated!.headers, body: rotated!.body, secret }).id).toBeTruthy();
    }
    expect(unsigned?.headers["webhook-signature"]).toBeUndefined();
    expect(unsigned?.headers["webhook-id"]).toBeTruthy();
  });

  it("reports a non-2xx answer with a short excerpt, never more than the read limit", async () => {
    const receiver = track(
      await TestReceiver.http((_req, res) =>
        res.writeHead(500).end(`boom\n${"x".repeat(RESPONSE_READ_LIMIT * 4)}`),
      ),
    );
    const outcome = await sender().send(delivery(receiver.url()));
    expect(outcome.statusCode).toBe(500);
    expect(outcome.errorClass).toBe("http_500");
    expect(outcome.errorMessage).toMatch(/^the receiver answered 500: boom x+…$/);
    expect(outcome.errorMessage!.length).toBeLessThan(300);
    expect(outcome.result).toEqual({ kind: "response", status: 500, retryAfter: null });
  });

  it("passes Retry-After on to the retry policy", async () => {
    const receiver = track(
      await TestReceiver.http((_req, res) => res.writeHead(429, { "retry-after": "7" }).end()),
    );
    const outcome = await sender().send(delivery(receiver.url()));
    expect(outcome.result).toEqual({ kind: "response", status: 429, retryAfter: "7" });
    expect(outcome.errorMessage).toBe("the receiver answered 429 (Retry-After: 7)");
  });

  it("does not follow a redirect", async () => {
    const target = track(await TestReceiver.http());
    const redirecting = track(
      await TestReceiver.http((_req, res) => res.writeHead(307, { location: target.url("/moved") }).end()),
    );
    const outcome = await sender().send(delivery(redirecting.url()));
    expect(outcome.statusCode).toBe(307);
    expect(outcome.errorClass).toBe("http_307");
    expect(outcome.errorMessage).toContain("redirects are not followed");
    expect(outcome.errorMessage).toContain(target.url("/moved"));
    expect(target.received).toHaveLength(0);
  });

  it("times out a receiver that never answers, within the per-attempt timeout", async () => {
    const receiver = track(await TestReceiver.http(() => {}));
    const outcome = await sender({ timeoutMs: 300 }).send(delivery(receiver.url()));
    expect(outcome.errorClass).toBe("timeout");
    expect(outcome.errorMessage).toBe("no complete answer within 300 ms");
    expect(outcome.result).toEqual({ kind: "error", retryable: true });
    expect(receiver.received).toHaveLength(1);
  });

  it("classifies a closed port, an unknown host, a bad URL and a refused address", async () => {
    const closed = await TestReceiver.http();
    const url = closed.url();
    await closed.close();
    const s = sender();
    expect(await s.send(delivery(url))).toMatchObject({
      errorClass: "connection_refused",
      result: { kind: "error", retryable: true },
    });
    expect(await s.send(delivery("http://no-such-host.invalid/hook"))).toMatchObject({
      errorClass: "dns",
      result: { kind: "error", retryable: true },
    });
    expect(await s.send(delivery("ftp://example.com/x"))).toMatchObject({
      errorClass: "invalid_url",
      errorMessage: "the callback URL scheme is ftp; expected http or https",
      result: { kind: "error", retryable: false },
    });
    expect(await s.send(delivery("http://169.254.169.254/latest/meta-data"))).toMatchObject({
      errorClass: "refused_address",
      errorMessage: "refused to connect to 169.254.169.254: a cloud metadata address is never allowed",
      result: { kind: "error", retryable: false },
    });
  });

  it("refuses 127.0.0.1 when private networks are denied, without connecting", async () => {
    const receiver = track(await TestReceiver.http());
    const outcome = await sender({ allowPrivateNetworks: false }).send(delivery(receiver.url()));
    expect(outcome.errorClass).toBe("refused_address");
    expect(outcome.errorMessage).toMatch(/127\.0\.0\.1: a loopback address/);
    expect(receiver.received).toHaveLength(0);
  });

  it("stops at once when the caller aborts, marking the attempt as not made", async () => {
    const receiver = track(await TestReceiver.http(() => {}));
    const controller = new AbortController();
    const pending = sender().send(delivery(receiver.url()), controller.signal);
    while (receiver.received.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    controller.abort();
    expect(await pending).toMatchObject({ aborted: true, errorClass: "aborted" });
  });
});

describe("CallbackSender over TLS", () => {
  it("verifies the receiver against the configured CA, and fails without it", async () => {
    const receiver = track(await TestReceiver.https(pki.server));
    const trusted = await sender({ extraCa: loadCallbackCaFile(pki.caFile) }).send(delivery(receiver.url()));
    expect(trusted).toMatchObject({ statusCode: 200, errorClass: null });
    const byName = await sender({ extraCa: [pki.ca] }).send(delivery(receiver.url("/hook", "localhost")));
    expect(byName).toMatchObject({ statusCode: 200 });

    const untrusted = await sender().send(delivery(receiver.url()));
    expect(untrusted.errorClass).toBe("tls");
    expect(untrusted.errorMessage).toMatch(/^TLS failed: .*(certificate|issuer)/i);
    expect(untrusted.result).toEqual({ kind: "error", retryable: true });
  });

  it("presents the mTLS client certificate; without one the receiver refuses the handshake", async () => {
    const receiver = track(await TestReceiver.https({ ...pki.server, clientCa: pki.ca }));
    const s = sender({ extraCa: [pki.ca] });
    const withCert = await s.send(delivery(receiver.url(), { kind: "mtls", ...pki.client }));
    expect(withCert).toMatchObject({ statusCode: 200, errorClass: null });
    expect(receiver.received.map((r) => r.clientCn)).toEqual(["callback-client-7"]);

    const withoutCert = await s.send(delivery(receiver.url()));
    expect(withoutCert.errorClass).toBe("tls");
    expect(withoutCert.errorMessage).toMatch(/certificate required/);
    expect(withoutCert.result).toEqual({ kind: "error", retryable: true });
    const basicInstead = await s.send(
      delivery(receiver.url(), { kind: "basic", username: "u", password: "p" }),
    );
    expect(basicInstead.errorClass).toBe("tls");
    expect(receiver.received).toHaveLength(1);
    expect(receiver.tlsClientErrors).toBeGreaterThanOrEqual(2);
    // The key never shows up in what is logged.
    expect(JSON.stringify([withCert, withoutCert, basicInstead])).not.toContain("PRIVATE KEY");
  });

  it("keeps one agent per client certificate, reused and bounded", async () => {
    const receiver = track(await TestReceiver.https({ ...pki.server, clientCa: pki.ca }));
    const agents = new HttpAgents({
      policy: new NetworkPolicy({ allowPrivateNetworks: true }),
      connectTimeoutMs: 5_000,
      extraCa: [pki.ca],
      maxClientCertAgents: 1,
    });
    agentSets.push(agents);
    const first = agents.forDelivery(pki.client);
    expect(agents.forDelivery({ ...pki.client })).toBe(first);
    expect(agents.forDelivery(null)).not.toBe(first);
    const other = makeTestPki(mkdtempSync(join(dir, "other-")), "other-client");
    const second = agents.forDelivery(other.client);
    expect(second).not.toBe(first);
    expect(agents.clientCertificateAgents).toBe(1);
    // The first was evicted: asking again makes a fresh one, which still works.
    const again = agents.forDelivery(pki.client);
    expect(again).not.toBe(first);
    const s = new CallbackSender({
      agents,
      secrets: box,
      signingKeys: { secretsFor: async () => [] },
      timeoutMs: 5_000,
    });
    expect(await s.send(delivery(receiver.url(), { kind: "mtls", ...pki.client }))).toMatchObject({
      statusCode: 200,
    });
  });
});

describe("loadCallbackCaFile", () => {
  it("names the setting when the file is missing, empty of certificates, or corrupt", () => {
    expect(() => loadCallbackCaFile(join(dir, "missing.pem"))).toThrow(
      /LAUNCH_CALLBACK_CA_FILE \(.*missing\.pem\) could not be read/,
    );
    const notPem = join(dir, "not.pem");
    writeFileSync(notPem, "hello");
    expect(() => loadCallbackCaFile(notPem)).toThrow(
      /holds no PEM certificate \(expected '-----BEGIN CERTIFICATE-----'\)/,
    );
    const corrupt = join(dir, "corrupt.pem");
    writeFileSync(corrupt, `${pki.ca}-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n`);
    expect(() => loadCallbackCaFile(corrupt)).toThrow(/certificate #2 is not a valid PEM certificate/);
    expect(loadCallbackCaFile(pki.caFile)).toHaveLength(1);
  });
});
