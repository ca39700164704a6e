/**
 * `verifyCallback` and `createCallbackHandler` against callbacks signed by the server's own `signWebhook`
 * (and by an HMAC computed here independently), the handler on a real `http.createServer` on 127.0.0.1.
 */
import { createHmac } from "node:crypto";
import { once } from "node:events";
import { createServer, request as httpRequest, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { generateWebhookSecret, signWebhook } from "@launch/protocol";
import { afterEach, describe, expect, it } from "vitest";
import {
  type CallbackHandlerOptions,
  type CallbackMeta,
  type CallbackPayload,
  createCallbackHandler,
  isCallbackVerificationError,
  isFailedCallback,
  verifyCallback,
  verifyCallbackDelivery,
} from "./receiver.js";

const SECRET = generateWebhookSecret();
const OTHER_SECRET = generateWebhookSecret();
const BODY = '{"task_id":"tsk_01jdq9z6v4k3m8n2p5r7s9t1vw","result":7}';

const nowSeconds = () => Math.floor(Date.now() / 1000);

interface Signed {
  id: string;
  timestamp: number;
  headers: Record<string, string>;
}

/** Headers as Launch sends them, signed with `secret` (or several). */
function sign(
  body: string,
  secret: string | string[] = SECRET,
  timestamp = nowSeconds(),
  id = "dlv_1",
): Signed {
  return {
    id,
    timestamp,
    headers: {
      "content-type": "application/json",
      "webhook-id": id,
      "webhook-timestamp": String(timestamp),
      "webhook-signature": signWebhook({ secret, id, timestamp, body }),
    },
  };
}

/** The reason a verification failed, or "ok". */
function outcome(run: () => unknown): string {
  try {
    run();
    return "ok";
  } catch (error) {
    if (isCallbackVerificationError(error)) {
      expect(error.name).toBe("CallbackVerificationError");
      return error.reason;
    }
    throw error;
  }
}

describe("verifyCallback", () => {
  it("returns the payload of a signed callback, with headers as Node gives them", () => {
    const { headers } = sign(BODY);
    expect(verifyCallback({ headers, body: BODY, secret: SECRET })).toEqual({
      task_id: "tsk_01jdq9z6v4k3m8n2p5r7s9t1vw",
      result: 7,
    });
  });

  it("accepts a fetch Headers, header names in any case, and the body as bytes", () => {
    const { headers } = sign(BODY);
    const fetchHeaders = new Headers(headers);
    expect(verifyCallback({ headers: fetchHeaders, body: Buffer.from(BODY), secret: SECRET })).toMatchObject({
      result: 7,
    });
    const shouting = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toUpperCase(), v]));
    expect(
      verifyCallback({ headers: shouting, body: new TextEncoder().encode(BODY), secret: SECRET }),
    ).toMatchObject({ result: 7 });
  });

  it("verifies a signature computed independently with node:crypto", () => {
    const timestamp = nowSeconds();
    const key = Buffer.from(SECRET.slice("whsec_".length), "base64");
    const mac = createHmac("sha256", key).update(`dlv_x.${timestamp}.${BODY}`).digest("base64");
    const headers = {
      "webhook-id": "dlv_x",
      "webhook-timestamp": String(timestamp),
      "webhook-signature": `v1,${mac}`,
    };
    const verified = verifyCallbackDelivery({ headers, body: BODY, secret: SECRET });
    expect(verified).toEqual({ webhookId: "dlv_x", timestamp, payload: JSON.parse(BODY) });
  });

  it("rejects a re-serialised body, pointing at the raw body", () => {
    const { headers } = sign(BODY);
    const reserialised = JSON.stringify(JSON.parse(BODY), null, 2);
    expect(outcome(() => verifyCallback({ headers, body: reserialised, secret: SECRET }))).toBe(
      "bad_signature",
    );
    expect(() => verifyCallback({ headers, body: reserialised, secret: SECRET })).toThrow(/raw body/);
  });

  it("says which check failed: tampered body, wrong secret, old or future timestamp, missing header", () => {
    const { headers } = sign(BODY);
    const tampered = BODY.replace("7", "8");
    expect(outcome(() => verifyCallback({ headers, body: tampered, secret: SECRET }))).toBe("bad_signature");
    expect(outcome(() => verifyCallback({ headers, body: BODY, secret: OTHER_SECRET }))).toBe(
      "bad_signature",
    );

    const old = sign(BODY, SECRET, nowSeconds() - 600).headers;
    expect(outcome(() => verifyCallback({ headers: old, body: BODY, secret: SECRET }))).toBe(
      "timestamp_too_old",
    );
    // A wider tolerance accepts it.
    expect(
      outcome(() => verifyCallback({ headers: old, body: BODY, secret: SECRET, toleranceSeconds: 900 })),
    ).toBe("ok");
    const future = sign(BODY, SECRET, nowSeconds() + 600).headers;
    expect(outcome(() => verifyCallback({ headers: future, body: BODY, secret: SECRET }))).toBe(
      "timestamp_too_new",
    );

    const { "webhook-signature": _, ...unsigned } = headers;
    expect(outcome(() => verifyCallback({ headers: unsigned, body: BODY, secret: SECRET }))).toBe(
      "missing_headers",
    );
    expect(() => verifyCallback({ headers: unsigned, body: BODY, secret: SECRET })).toThrow(
      /webhook-signature/,
    );
  });

  it("accepts a rotation's two signatures when one matches, and several receiver secrets", () => {
    const { headers } = sign(BODY, [OTHER_SECRET, SECRET]);
    expect(headers["webhook-signature"]?.split(" ")).toHaveLength(2);
    expect(outcome(() => verifyCallback({ headers, body: BODY, secret: SECRET }))).toBe("ok");
    const single = sign(BODY, OTHER_SECRET).headers;
    expect(
      outcome(() => verifyCallback({ headers: single, body: BODY, secret: [SECRET, OTHER_SECRET] })),
    ).toBe("ok");
  });

  it("rejects a signed body that is not a JSON callback as invalid_json", () => {
    for (const body of ["not json", "[1,2]", '{"result":7}']) {
      const { headers } = sign(body);
      expect(outcome(() => verifyCallback({ headers, body, secret: SECRET }))).toBe("invalid_json");
    }
  });

  it("returns the failure shape, told apart by isFailedCallback", () => {
    const body =
      '{"task_id":"tsk_1","status":"FAILURE","result":null,"error":"ValueError: boom","traceback":null}';
    const payload = verifyCallback({ headers: sign(body).headers, body, secret: SECRET });
    expect(isFailedCallback(payload)).toBe(true);
    if (isFailedCallback(payload)) expect(payload.error).toBe("ValueError: boom");
    expect(
      isFailedCallback(verifyCallback({ headers: sign(BODY).headers, body: BODY, secret: SECRET })),
    ).toBe(false);
  });

  it("throws a TypeError (a configuration mistake, not a forged callback) for a malformed secret", () => {
    const { headers } = sign(BODY);
    expect(() => verifyCallback({ headers, body: BODY, secret: "whsec_not base64!" })).toThrow(TypeError);
  });
});

describe("createCallbackHandler on a real HTTP server", () => {
  const servers: Server[] = [];

  afterEach(async () => {
    for (const server of servers.splice(0)) {
      server.closeAllConnections();
      server.close();
      await once(server, "close");
    }
  });

  async function listen(handler: (req: IncomingMessage, res: import("node:http").ServerResponse) => void) {
    const server = createServer(handler);
    servers.push(server);
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/launch`;
  }

  /** A receiver recording what `onCallback` got; `fail` makes it throw for the first n calls. */
  async function receiver(options: Partial<CallbackHandlerOptions> & { fail?: number } = {}) {
    const calls: { payload: CallbackPayload; meta: CallbackMeta; authorization: string | undefined }[] = [];
    const errors: unknown[] = [];
    let failures = options.fail ?? 0;
    const url = await listen(
      createCallbackHandler({
        secret: SECRET,
        onError: (error) => errors.push(error),
        ...options,
        onCallback:
          options.onCallback ??
          ((payload, meta) => {
            calls.push({ payload, meta, authorization: meta.request.headers.authorization });
            if (failures > 0) {
              failures -= 1;
              throw new Error("database is down");
            }
          }),
      }),
    );
    return { url, calls, errors };
  }

  const post = (url: string, body: string, headers: Record<string, string>) =>
    fetch(url, { method: "POST", body, headers });

  it("answers 204 and calls onCallback with the payload, the webhook-id, the timestamp and the request", async () => {
    const { url, calls } = await receiver();
    const signed = sign(BODY);
    const res = await post(url, BODY, { ...signed.headers, authorization: "Basic dXNlcjpwYXNz" });
    expect(res.status).toBe(204);
    expect(calls).toEqual([
      {
        payload: JSON.parse(BODY),
        meta: expect.objectContaining({ webhookId: "dlv_1", timestamp: signed.timestamp }),
        authorization: "Basic dXNlcjpwYXNz",
      },
    ]);
  });

  it("answers 401 for a tampered body, an old timestamp and a wrong secret, without calling onCallback", async () => {
    const { url, calls } = await receiver();
    const tampered = await post(url, BODY.replace("7", "8"), sign(BODY).headers);
    expect(tampered.status).toBe(401);
    expect(((await tampered.json()) as { detail: string }).detail).toMatch(/no webhook-signature matches/);
    const old = await post(url, BODY, sign(BODY, SECRET, nowSeconds() - 3600).headers);
    expect(old.status).toBe(401);
    expect(((await old.json()) as { detail: string }).detail).toMatch(/old/);
    expect((await post(url, BODY, sign(BODY, OTHER_SECRET).headers)).status).toBe(401);
    expect((await post(url, BODY, { "content-type": "application/json" })).status).toBe(401);
    expect(calls).toEqual([]);
  });

  it("answers 204 during a rotation: two signatures, one by the receiver's secret", async () => {
    const { url, calls } = await receiver();
    const res = await post(url, BODY, sign(BODY, [OTHER_SECRET, SECRET]).headers);
    expect(res.status).toBe(204);
    expect(calls).toHaveLength(1);
    // And a receiver that holds both secrets while it switches.
    const both = await receiver({ secret: [OTHER_SECRET, SECRET] });
    expect((await post(both.url, BODY, sign(BODY, OTHER_SECRET).headers)).status).toBe(204);
  });

  it("answers 400 for a signed body that is not JSON", async () => {
    const { url, calls } = await receiver();
    const res = await post(url, "{oops", sign("{oops").headers);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { detail: string }).detail).toMatch(/not JSON/);
    expect(calls).toEqual([]);
  });

  it("answers 413 over maxBodyBytes, declared or streamed", async () => {
    const { url, calls } = await receiver({ maxBodyBytes: 1024 });
    const big = JSON.stringify({ task_id: "tsk_1", result: "x".repeat(2000) });
    expect((await post(url, big, sign(big).headers)).status).toBe(413);

    // Chunked, no content-length: the limit is enforced while reading.
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(url, { method: "POST", headers: sign(big).headers }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      for (let i = 0; i < big.length; i += 500) req.write(big.slice(i, i + 500));
      req.end();
    });
    expect(status).toBe(413);
    expect(calls).toEqual([]);
    // Under the limit it is accepted.
    expect((await post(url, BODY, sign(BODY).headers)).status).toBe(204);
  });

  it("answers 500 when onCallback throws (so Launch retries) and 204 on the retry", async () => {
    const { url, calls, errors } = await receiver({ fail: 1 });
    const signed = sign(BODY);
    const first = await post(url, BODY, signed.headers);
    expect(first.status).toBe(500);
    expect(JSON.stringify(await first.json())).not.toContain("database is down");
    expect(errors).toEqual([new Error("database is down")]);
    expect((await post(url, BODY, signed.headers)).status).toBe(204);
    expect(calls).toHaveLength(2);
  });

  it("drops duplicates by webhook-id with `seen`, but not a delivery that failed", async () => {
    const seen = new Set<string>();
    const { url, calls } = await receiver({ seen, fail: 1 });
    const a = sign(BODY, SECRET, nowSeconds(), "dlv_a");
    expect((await post(url, BODY, a.headers)).status).toBe(500);
    expect(seen.has("dlv_a")).toBe(false);
    expect((await post(url, BODY, a.headers)).status).toBe(204);
    expect((await post(url, BODY, sign(BODY, SECRET, nowSeconds(), "dlv_a").headers)).status).toBe(204);
    expect((await post(url, BODY, sign(BODY, SECRET, nowSeconds(), "dlv_b").headers)).status).toBe(204);
    expect(calls.map((c) => c.meta.webhookId)).toEqual(["dlv_a", "dlv_a", "dlv_b"]);
    expect([...seen]).toEqual(["dlv_a", "dlv_b"]);
  });

  it("makes a duplicate that arrives while the first copy is handled wait for it", async () => {
    const seen = new Set<string>();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => {
      entered = resolve;
    });
    let calls = 0;
    const handler = createCallbackHandler({
      secret: SECRET,
      seen,
      async onCallback() {
        calls += 1;
        entered();
        await gate;
      },
    });
    let requests = 0;
    const url = await listen((req, res) => {
      requests += 1;
      handler(req, res);
      // The duplicate's body is read and verified in the microtasks after 'end'; it then waits on the
      // first copy. setImmediate runs after those microtasks.
      if (requests === 2) req.on("end", () => setImmediate(release));
    });
    const signed = sign(BODY, SECRET, nowSeconds(), "dlv_c");
    const first = post(url, BODY, signed.headers);
    await inside;
    const second = post(url, BODY, signed.headers);
    expect([(await first).status, (await second).status]).toEqual([204, 204]);
    expect(calls).toBe(1);
  });

  it("reads a body a framework already read raw into req.body, and refuses a parsed one", async () => {
    const calls: CallbackPayload[] = [];
    const errors: unknown[] = [];
    const handler = createCallbackHandler({
      secret: SECRET,
      onCallback: (payload) => void calls.push(payload),
      onError: (error) => void errors.push(error),
    });
    const url = await listen(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const raw = Buffer.concat(chunks);
      (req as { body?: unknown }).body = req.url?.endsWith("parsed") ? JSON.parse(raw.toString()) : raw;
      handler(req, res);
    });
    expect((await post(url, BODY, sign(BODY).headers)).status).toBe(204);
    expect(calls).toEqual([JSON.parse(BODY)]);
    expect((await post(`${url}/parsed`, BODY, sign(BODY).headers)).status).toBe(500);
    expect(String(errors[0])).toMatch(/already parsed as JSON/);
  });

  it("answers 405 to anything but POST", async () => {
    const { url } = await receiver();
    const res = await fetch(url);
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("POST");
  });

  it("refuses a malformed or missing secret when it is created", () => {
    const onCallback = () => undefined;
    expect(() => createCallbackHandler({ secret: "whsec_***", onCallback })).toThrow(/whsec_/);
    expect(() => createCallbackHandler({ secret: [], onCallback })).toThrow(/at least one/);
    expect(() => createCallbackHandler({ secret: undefined as unknown as string, onCallback })).toThrow(
      /secret is required/,
    );
  });
});
