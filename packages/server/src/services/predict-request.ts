/**
 * Checks a `PredictRequest` body (async, sync and streaming tasks) beyond its JSON schema, before anything
 * is queued or forwarded, reporting every problem at once as a 422 naming the field:
 *
 * - the input: `args` (any JSON value but null) or `url` (an absolute URL) must be given. The Python
 *   harness would fail such a task later ("Input needs either url or args"); refusing it up front is
 *   clearer. `cloudpickle` inputs (Python bundles) are not accepted yet and say so;
 * - the per-task callback override: `callback_url` (an absolute http(s) URL without credentials) and
 *   `callback_auth` (`basic`: username and password; `mtls`: a PEM certificate and its key).
 */
import {
  type CallbackAuth,
  type CallbackEvent,
  LaunchError,
  type PredictRequest,
  type ValidationIssue,
} from "@launch/protocol";
import type { SecretsBox } from "../domain/secrets-box.js";
import { checkCallbackAuth, sealCallbackAuth } from "./callback-auth.js";
import { checkCallbackUrl } from "./endpoint-validation.js";
import type { TaskPayload } from "./task-payload.js";

/** A checked request, credentials still in clear (seal them with `taskPayload`). */
export interface CheckedPredictRequest {
  args?: unknown;
  url?: string;
  returnPickled: boolean;
  /** The task's callback override; null when it gave none of `callback_url`, `callback_auth`, `callback_events`. */
  callback: { url: string | null; auth: CallbackAuth | null; events: CallbackEvent[] | null } | null;
}

/**
 * Checks a predict request body (already shaped by its JSON schema).
 *
 * @example checkPredictRequest({ args: { x: 2, y: "hello" } }) // { args: { x: 2, y: "hello" }, returnPickled: false, callback: null }
 */
export function checkPredictRequest(body: PredictRequest): CheckedPredictRequest {
  const issues: ValidationIssue[] = [];
  const hasArgs = body.args !== undefined && body.args !== null;
  const url = body.url ?? undefined;
  if (url !== undefined) {
    // Only the web: a file: (or any other) URL would let a task read the worker host's files.
    const scheme = URL.canParse(url) ? new URL(url).protocol : undefined;
    if (scheme !== "http:" && scheme !== "https:") {
      issues.push({
        loc: ["body", "url"],
        msg: `url is ${JSON.stringify(url.slice(0, 200))}; expected an absolute http or https URL of the input, like "https://example.com/input.json"`,
        type: "value_error",
      });
    }
  } else if (!hasArgs) {
    const pickled = typeof body.cloudpickle === "string" && body.cloudpickle !== "";
    issues.push({
      loc: ["body", "args"],
      msg: pickled
        ? "cloudpickle inputs are not supported yet; send the input as args (any JSON value) or url"
        : "The request has no input: give args (any JSON value) or url (a URL of a JSON input)",
      type: "missing",
    });
  }

  let callbackUrl: string | null = null;
  if (body.callback_url !== undefined && body.callback_url !== null) {
    const msg = checkCallbackUrl(body.callback_url, "callback_url");
    if (msg === undefined) callbackUrl = body.callback_url;
    else issues.push({ loc: ["body", "callback_url"], msg, type: "value_error" });
  }
  let auth: CallbackAuth | null = null;
  if (body.callback_auth !== undefined && body.callback_auth !== null) {
    const checked = checkCallbackAuth(body.callback_auth, ["body", "callback_auth"]);
    if (checked.ok) auth = checked.value;
    else issues.push(...checked.issues);
  }
  if (issues.length > 0) throw LaunchError.validation(issues);

  const events = body.callback_events ? [...new Set(body.callback_events)] : null;
  const checked: CheckedPredictRequest = {
    returnPickled: body.return_pickled === true,
    callback:
      callbackUrl !== null || auth !== null || events !== null ? { url: callbackUrl, auth, events } : null,
  };
  if (hasArgs) checked.args = body.args;
  if (url !== undefined) checked.url = url;
  return checked;
}

/** What is stored with an async task (and handed to sync hooks): the request with its secrets sealed. */
export function taskPayload(checked: CheckedPredictRequest, box: SecretsBox): TaskPayload {
  const payload: TaskPayload = { returnPickled: checked.returnPickled };
  if (checked.args !== undefined) payload.args = checked.args;
  if (checked.url !== undefined) payload.url = checked.url;
  payload.callback =
    checked.callback === null
      ? null
      : {
          url: checked.callback.url,
          auth: checked.callback.auth === null ? null : sealCallbackAuth(checked.callback.auth, box),
          events: checked.callback.events,
        };
  return payload;
}

/** The body a worker's `/predict` and `/stream` take, as JSON text: `{args?, url?, return_pickled?}`. */
export function workerRequestBody(checked: CheckedPredictRequest): string {
  const body: { args?: unknown; url?: string; return_pickled?: boolean } = {};
  if (checked.args !== undefined) body.args = checked.args;
  if (checked.url !== undefined) body.url = checked.url;
  if (checked.returnPickled) body.return_pickled = true;
  return JSON.stringify(body);
}
