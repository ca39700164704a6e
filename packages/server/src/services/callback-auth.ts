/**
 * Callback credentials: checking them as they arrive (endpoint `default_callback_auth`, task
 * `callback_auth`), sealing them before they reach the store, opening them to send a callback, and the
 * view that responses show (kind and basic username only; never a password or key).
 */
import { createPrivateKey, type KeyObject, X509Certificate } from "node:crypto";
import {
  CALLBACK_AUTH_KINDS,
  type CallbackAuth,
  type CallbackAuthView,
  type ValidationIssue,
} from "@launch/protocol";
import type { SecretsBox } from "../domain/secrets-box.js";
import type { StoredCallbackAuth } from "../store/port.js";

/** A value that is either good or a list of issues naming each bad field. */
export type Checked<T> = { ok: true; value: T } | { ok: false; issues: ValidationIssue[] };

/**
 * Checks callback credentials as sent by a client. `loc` is where they sit in the request, e.g.
 * `["body", "default_callback_auth"]` or `["body", "callback_auth"]`; every issue names the field below it.
 *
 * - `basic` needs `username` (non-empty) and `password` (a string; empty is allowed).
 * - `mtls` needs `cert` (a PEM X.509 certificate) and `key` (an unencrypted PEM private key) that belong
 *   together. Fields of the other kind are ignored.
 *
 * @example checkCallbackAuth({ kind: "basic", username: "u" }, ["body", "callback_auth"])
 * // { ok: false, issues: [{ loc: ["body", "callback_auth", "password"], msg: "callback_auth.password is required for kind 'basic'", type: "missing" }] }
 */
export function checkCallbackAuth(value: unknown, loc: readonly (string | number)[]): Checked<CallbackAuth> {
  const field = loc.filter((part) => part !== "body").join(".");
  const issue = (sub: string, msg: string, type = "value_error"): ValidationIssue => ({
    loc: [...loc, sub],
    msg,
    type,
  });
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return {
      ok: false,
      issues: [
        {
          loc: [...loc],
          msg: `${field} must be an object with kind 'basic' (username, password) or 'mtls' (cert, key)`,
          type: "type_error",
        },
      ],
    };
  }
  const body = value as Record<string, unknown>;
  const kind = body.kind;
  if (kind === undefined || kind === null) {
    return {
      ok: false,
      issues: [
        issue("kind", `${field}.kind is required: one of ${CALLBACK_AUTH_KINDS.join(", ")}`, "missing"),
      ],
    };
  }
  if (kind !== "basic" && kind !== "mtls") {
    return {
      ok: false,
      issues: [
        issue(
          "kind",
          `${field}.kind is ${JSON.stringify(kind)}; expected one of ${CALLBACK_AUTH_KINDS.join(", ")}`,
        ),
      ],
    };
  }
  const needed = kind === "basic" ? (["username", "password"] as const) : (["cert", "key"] as const);
  const issues: ValidationIssue[] = [];
  for (const name of needed) {
    const v = body[name];
    if (v === undefined || v === null) {
      issues.push(issue(name, `${field}.${name} is required for kind '${kind}'`, "missing"));
    } else if (typeof v !== "string") {
      issues.push(issue(name, `${field}.${name} must be a string`, "type_error"));
    }
  }
  if (issues.length > 0) return { ok: false, issues };

  if (kind === "basic") {
    const username = body.username as string;
    if (username === "") issues.push(issue("username", `${field}.username must not be empty`));
    if (username.includes(":")) {
      issues.push(issue("username", `${field}.username must not contain ':' (basic auth cannot carry it)`));
    }
    if (issues.length > 0) return { ok: false, issues };
    return { ok: true, value: { kind, username, password: body.password as string } };
  }

  const certPem = body.cert as string;
  const keyPem = body.key as string;
  let cert: X509Certificate | undefined;
  let key: KeyObject | undefined;
  if (!certPem.includes("-----BEGIN CERTIFICATE-----")) {
    issues.push(
      issue("cert", `${field}.cert is not a PEM certificate (expected '-----BEGIN CERTIFICATE-----')`),
    );
  } else {
    try {
      cert = new X509Certificate(certPem);
    } catch (error) {
      issues.push(
        issue(
          "cert",
          `${field}.cert is not a valid PEM certificate: ${(error as Error).message || "unreadable"}`,
        ),
      );
    }
  }
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(keyPem)) {
    issues.push(issue("key", `${field}.key is encrypted; send the private key unencrypted (PEM)`));
  } else if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(keyPem)) {
    issues.push(
      issue("key", `${field}.key is not a PEM private key (expected '-----BEGIN PRIVATE KEY-----')`),
    );
  } else {
    try {
      key = createPrivateKey({ key: keyPem, format: "pem" });
    } catch (error) {
      issues.push(
        issue(
          "key",
          `${field}.key is not a valid PEM private key: ${(error as Error).message || "unreadable"}`,
        ),
      );
    }
  }
  if (cert && key && !cert.checkPrivateKey(key)) {
    issues.push(
      issue("key", `${field}.key does not match ${field}.cert (the key is not the certificate's key)`),
    );
  }
  if (issues.length > 0) return { ok: false, issues };
  return { ok: true, value: { kind, cert: certPem, key: keyPem } };
}

/** Seals the secret part with the secrets box (AES-GCM), for the store. */
export function sealCallbackAuth(auth: CallbackAuth, box: SecretsBox): StoredCallbackAuth {
  if (auth.kind === "basic")
    return { kind: "basic", username: auth.username, sealed: box.seal(auth.password) };
  return { kind: "mtls", sealed: box.sealJson({ cert: auth.cert, key: auth.key }) };
}

/** Opens stored credentials, to send a callback with them. Never put the result in a response or a log. */
export function openCallbackAuth(stored: StoredCallbackAuth, box: SecretsBox): CallbackAuth {
  if (stored.kind === "basic")
    return { kind: "basic", username: stored.username, password: box.open(stored.sealed) };
  const { cert, key } = box.openJson<{ cert: string; key: string }>(stored.sealed);
  return { kind: "mtls", cert, key };
}

/** What responses show: the kind, and the username for basic auth. */
export function callbackAuthView(stored: StoredCallbackAuth | null): CallbackAuthView | null {
  if (stored === null) return null;
  return stored.kind === "basic" ? { kind: "basic", username: stored.username } : { kind: "mtls" };
}
