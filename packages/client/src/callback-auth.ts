/**
 * Callback credentials from the SDK's flat options (`...AuthKind`, `...AuthUsername`, ...) to the wire's
 * `{kind, ...}` object, shared by endpoint settings (`default_callback_auth`) and task requests
 * (`callback_auth`).
 */
import type { CallbackAuth, CallbackAuthKind, ValidationIssue } from "@launch/protocol";
import { CALLBACK_AUTH_KINDS } from "@launch/protocol";
import { ValidationError } from "./errors.js";

/** The four credential fields, as given (any may be undefined). */
export interface CallbackCredentials {
  username?: string | undefined;
  password?: string | undefined;
  cert?: string | undefined;
  key?: string | undefined;
}

/**
 * The wire callback auth for a kind and its credentials, or undefined when no kind is given.
 * Credentials that do not belong to the kind, or that come without one, are rejected here rather than
 * silently dropped; `optionPrefix` names the SDK options in messages (`defaultCallbackAuth`,
 * `callbackAuth`) and `field` the wire field in `loc`. Missing credentials are left for the server to
 * name in its 422.
 *
 * @example buildCallbackAuth("basic", { username: "u", password: "p" }, "callbackAuth", "callback_auth")
 * // { kind: "basic", username: "u", password: "p" }
 */
export function buildCallbackAuth(
  kind: CallbackAuthKind | undefined,
  given: CallbackCredentials,
  optionPrefix: string,
  field: string,
): CallbackAuth | undefined {
  const issues: ValidationIssue[] = [];
  if (kind !== undefined && !(CALLBACK_AUTH_KINDS as readonly string[]).includes(kind)) {
    issues.push({
      loc: ["body", field, "kind"],
      msg: `${optionPrefix}Kind must be "basic" or "mtls", not ${JSON.stringify(kind)}`,
      type: "value_error",
    });
  }
  const allowed: (keyof CallbackCredentials)[] =
    kind === "basic" ? ["username", "password"] : kind === "mtls" ? ["cert", "key"] : [];
  for (const [name, value] of Object.entries(given)) {
    if (value === undefined || allowed.includes(name as keyof CallbackCredentials)) continue;
    const option = `${optionPrefix}${name[0]!.toUpperCase()}${name.slice(1)}`;
    issues.push({
      loc: ["body", field, name],
      msg:
        kind === undefined
          ? `${option} needs ${optionPrefix}Kind ("basic" or "mtls")`
          : `${option} does not apply to ${optionPrefix}Kind "${kind}"`,
      type: "value_error",
    });
  }
  if (issues.length > 0) {
    throw new ValidationError({ status: 422, code: "validation_failed", detail: issues });
  }
  if (kind === undefined) return undefined;
  if (kind === "basic") return { kind, username: given.username, password: given.password } as CallbackAuth;
  return { kind, cert: given.cert, key: given.key } as CallbackAuth;
}
