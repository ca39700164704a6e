import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  generateWebhookSecret,
  signWebhook,
  verifyWebhook,
  WebhookVerificationError,
  type WebhookVerificationReason,
} from "./webhooks.js";

// The Standard Webhooks example vector; the signature was computed once with
// `openssl dgst -sha256 -mac HMAC -macopt hexkey:<key> -binary | base64`.
const VECTOR = {
  secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
  id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
};

const independentHmac = (secret: string, id: string, timestamp: number, body: string): string =>
  createHmac("sha256", Buffer.from(secret.slice("whsec_".length), "base64"))
    .update(`${id}.${timestamp}.${body}`)
    .digest("base64");

function reasonOf(run: () => unknown): WebhookVerificationReason | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(WebhookVerificationError);
    return (error as WebhookVerificationError).reason;
  }
}

describe("webhook signing", () => {
  it("matches the known vector", () => {
    expect(signWebhook(VECTOR)).toBe(VECTOR.signature);
  });

  it("generates whsec_ secrets of 32 random bytes, different each time", () => {
    const a = generateWebhookSecret();
    const b = generateWebhookSecret();
    expect(a).toMatch(/^whsec_[A-Za-z0-9+/]+={0,2}$/);
    expect(Buffer.from(a.slice(6), "base64")).toHaveLength(32);
    expect(a).not.toBe(b);
  });

  it("signs with an HMAC a receiver can compute on its own", () => {
    const secret = generateWebhookSecret();
    const body = '{"task_id":"tsk_1","result":7}';
    const signature = signWebhook({ secret, id: "dlv_1", timestamp: 1700000000, body });
    expect(signature).toBe(`v1,${independentHmac(secret, "dlv_1", 1700000000, body)}`);
    // Bytes and text give the same signature.
    expect(signWebhook({ secret, id: "dlv_1", timestamp: 1700000000, body: Buffer.from(body) })).toBe(
      signature,
    );
  });

  it("signs with every secret during a rotation, space-separated", () => {
    const [oldSecret, newSecret] = [generateWebhookSecret(), generateWebhookSecret()];
    const input = { id: "dlv_2", timestamp: 1700000001, body: "{}" };
    const value = signWebhook({ ...input, secret: [oldSecret, newSecret] });
    expect(value.split(" ")).toEqual([
      signWebhook({ ...input, secret: oldSecret }),
      signWebhook({ ...input, secret: newSecret }),
    ]);
    const headers = { "webhook-id": "dlv_2", "webhook-timestamp": "1700000001", "webhook-signature": value };
    // A receiver holding either secret accepts it.
    for (const secret of [oldSecret, newSecret]) {
      expect(verifyWebhook({ headers, body: "{}", secret, now: 1700000001_000 }).id).toBe("dlv_2");
    }
  });

  it("refuses a malformed secret and a fractional timestamp", () => {
    expect(() => signWebhook({ ...VECTOR, secret: "whsec_" })).toThrow(/whsec_/);
    expect(() => signWebhook({ ...VECTOR, secret: "whsec_not base64!" })).toThrow(/base64/);
    expect(() => signWebhook({ ...VECTOR, secret: [] })).toThrow(/at least one secret/);
    expect(() => signWebhook({ ...VECTOR, timestamp: 1.5 })).toThrow(/Unix seconds/);
  });
});

describe("verifyWebhook", () => {
  const now = VECTOR.timestamp * 1000;
  const headers = {
    "webhook-id": VECTOR.id,
    "webhook-timestamp": String(VECTOR.timestamp),
    "webhook-signature": VECTOR.signature,
  };

  it("accepts a good callback from a plain object, mixed-case keys or fetch Headers", () => {
    expect(verifyWebhook({ headers, body: VECTOR.body, secret: VECTOR.secret, now })).toEqual({
      id: VECTOR.id,
      timestamp: VECTOR.timestamp,
    });
    const mixed = {
      "Webhook-Id": VECTOR.id,
      "Webhook-Timestamp": headers["webhook-timestamp"],
      "WEBHOOK-SIGNATURE": VECTOR.signature,
    };
    expect(verifyWebhook({ headers: mixed, body: VECTOR.body, secret: VECTOR.secret, now }).id).toBe(
      VECTOR.id,
    );
    expect(
      verifyWebhook({
        headers: new Headers(headers),
        body: Buffer.from(VECTOR.body),
        secret: VECTOR.secret,
        now,
      }).id,
    ).toBe(VECTOR.id);
  });

  it("accepts when any of several signatures matches, ignoring other versions", () => {
    const signature = `v2,abc v1,${Buffer.alloc(32).toString("base64")} ${VECTOR.signature}`;
    const result = verifyWebhook({
      headers: { ...headers, "webhook-signature": signature },
      body: VECTOR.body,
      secret: VECTOR.secret,
      now,
    });
    expect(result.id).toBe(VECTOR.id);
  });

  it("refuses a tampered body, a wrong secret and a changed id", () => {
    expect(
      reasonOf(() => verifyWebhook({ headers, body: '{"test": 2432232315}', secret: VECTOR.secret, now })),
    ).toBe("bad_signature");
    expect(
      reasonOf(() => verifyWebhook({ headers, body: VECTOR.body, secret: generateWebhookSecret(), now })),
    ).toBe("bad_signature");
    expect(
      reasonOf(() =>
        verifyWebhook({
          headers: { ...headers, "webhook-id": "msg_other" },
          body: VECTOR.body,
          secret: VECTOR.secret,
          now,
        }),
      ),
    ).toBe("bad_signature");
    expect(
      reasonOf(() =>
        verifyWebhook({
          headers: { ...headers, "webhook-signature": "v1,short" },
          body: VECTOR.body,
          secret: VECTOR.secret,
          now,
        }),
      ),
    ).toBe("bad_signature");
  });

  it("refuses timestamps outside the tolerance, both ways", () => {
    const at = (offsetSeconds: number, toleranceSeconds?: number) =>
      reasonOf(() =>
        verifyWebhook({
          headers,
          body: VECTOR.body,
          secret: VECTOR.secret,
          now: now + offsetSeconds * 1000,
          toleranceSeconds,
        }),
      );
    expect(at(300)).toBeUndefined();
    expect(at(301)).toBe("timestamp_too_old");
    expect(at(-301)).toBe("timestamp_too_new");
    expect(at(61, 60)).toBe("timestamp_too_old");
    expect(() =>
      verifyWebhook({ headers, body: VECTOR.body, secret: VECTOR.secret, now: now + 3_600_000 }),
    ).toThrow(/3600 s old; at most 300 s/);
  });

  it("names missing headers and rejects a non-numeric timestamp", () => {
    expect(() =>
      verifyWebhook({ headers: { "webhook-id": "x" }, body: "", secret: VECTOR.secret, now }),
    ).toThrow("missing callback header(s): webhook-timestamp, webhook-signature");
    expect(
      reasonOf(() =>
        verifyWebhook({
          headers: { ...headers, "webhook-timestamp": "12.5" },
          body: VECTOR.body,
          secret: VECTOR.secret,
          now,
        }),
      ),
    ).toBe("bad_timestamp");
  });
});
