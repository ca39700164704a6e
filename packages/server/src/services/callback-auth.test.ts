import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { SecretsBox } from "../domain/secrets-box.js";
import { selfSignedCertificate } from "../testing/certs.js";
import { callbackAuthView, checkCallbackAuth, openCallbackAuth, sealCallbackAuth } from "./callback-auth.js";

const LOC = ["body", "default_callback_auth"];
const one = selfSignedCertificate("one");
const two = selfSignedCertificate("two");

function issuesOf(value: unknown, loc: string[] = LOC) {
  const checked = checkCallbackAuth(value, loc);
  if (checked.ok) throw new Error("expected issues");
  return checked.issues;
}

describe("checkCallbackAuth", () => {
  it("accepts basic and mtls credentials", () => {
    expect(checkCallbackAuth({ kind: "basic", username: "user", password: "password" }, LOC)).toEqual({
      ok: true,
      value: { kind: "basic", username: "user", password: "password" },
    });
    expect(checkCallbackAuth({ kind: "mtls", cert: one.cert, key: one.key }, LOC)).toEqual({
      ok: true,
      value: { kind: "mtls", cert: one.cert, key: one.key },
    });
  });

  it("names each missing field of the kind", () => {
    expect(issuesOf({ kind: "basic", username: "user" })).toEqual([
      {
        loc: ["body", "default_callback_auth", "password"],
        msg: "default_callback_auth.password is required for kind 'basic'",
        type: "missing",
      },
    ]);
    expect(issuesOf({ kind: "mtls" }).map((i) => i.loc)).toEqual([
      ["body", "default_callback_auth", "cert"],
      ["body", "default_callback_auth", "key"],
    ]);
  });

  it("uses the location it is given, for per-task credentials", () => {
    expect(issuesOf({ kind: "basic", password: "p" }, ["body", "callback_auth"])).toEqual([
      {
        loc: ["body", "callback_auth", "username"],
        msg: "callback_auth.username is required for kind 'basic'",
        type: "missing",
      },
    ]);
  });

  it("requires a known kind", () => {
    expect(issuesOf({ username: "u", password: "p" })[0]?.loc).toEqual([...LOC, "kind"]);
    expect(issuesOf({ kind: "digest" })[0]?.msg).toBe(
      'default_callback_auth.kind is "digest"; expected one of basic, mtls',
    );
  });

  it("says which of cert and key is not PEM", () => {
    const issues = issuesOf({ kind: "mtls", cert: "cert", key: "key" });
    expect(issues).toEqual([
      {
        loc: [...LOC, "cert"],
        msg: "default_callback_auth.cert is not a PEM certificate (expected '-----BEGIN CERTIFICATE-----')",
        type: "value_error",
      },
      {
        loc: [...LOC, "key"],
        msg: "default_callback_auth.key is not a PEM private key (expected '-----BEGIN PRIVATE KEY-----')",
        type: "value_error",
      },
    ]);
  });

  it("refuses PEM armour around garbage", () => {
    const cert = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n";
    const key = "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n";
    const issues = issuesOf({ kind: "mtls", cert, key });
    expect(issues.map((i) => i.loc.at(-1))).toEqual(["cert", "key"]);
    expect(issues[0]?.msg).toMatch(/^default_callback_auth\.cert is not a valid PEM certificate/);
    expect(issues[1]?.msg).toMatch(/^default_callback_auth\.key is not a valid PEM private key/);
  });

  it("refuses a key that does not belong to the certificate", () => {
    expect(issuesOf({ kind: "mtls", cert: one.cert, key: two.key })).toEqual([
      {
        loc: [...LOC, "key"],
        msg: "default_callback_auth.key does not match default_callback_auth.cert (the key is not the certificate's key)",
        type: "value_error",
      },
    ]);
  });

  it("refuses an encrypted key with a hint", () => {
    const key = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
    expect(issuesOf({ kind: "mtls", cert: one.cert, key })[0]?.msg).toBe(
      "default_callback_auth.key is encrypted; send the private key unencrypted (PEM)",
    );
  });
});

describe("sealed callback credentials", () => {
  const box = new SecretsBox(randomBytes(32));

  it("keep no secret in clear and open back to what was sent", () => {
    const basic = sealCallbackAuth({ kind: "basic", username: "user", password: "hunter2-secret" }, box);
    expect(JSON.stringify(basic)).not.toContain("hunter2-secret");
    expect(openCallbackAuth(basic, box)).toEqual({
      kind: "basic",
      username: "user",
      password: "hunter2-secret",
    });

    const mtls = sealCallbackAuth({ kind: "mtls", cert: one.cert, key: one.key }, box);
    expect(JSON.stringify(mtls)).not.toContain("PRIVATE KEY");
    expect(openCallbackAuth(mtls, box)).toEqual({ kind: "mtls", cert: one.cert, key: one.key });
  });

  it("show only the kind and the basic username", () => {
    expect(callbackAuthView(sealCallbackAuth({ kind: "basic", username: "u", password: "p" }, box))).toEqual({
      kind: "basic",
      username: "u",
    });
    expect(callbackAuthView(sealCallbackAuth({ kind: "mtls", cert: one.cert, key: one.key }, box))).toEqual({
      kind: "mtls",
    });
    expect(callbackAuthView(null)).toBeNull();
  });
});
