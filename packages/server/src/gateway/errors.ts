import { type ErrorBody, isLaunchError, LaunchError, type ValidationIssue } from "@launch/protocol";
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";

/**
 * The one function that turns any error into a response: LaunchErrors by the code table, Fastify's
 * schema and body errors into the reference's 422 and 413 shapes, anything else into a logged 500.
 */
export function toLaunchError(error: unknown, bodyLimit: number): LaunchError {
  if (isLaunchError(error)) return error;
  const fe = error as FastifyError & { validation?: AjvIssue[]; validationContext?: string };
  if (Array.isArray(fe.validation)) {
    return LaunchError.validation(issuesFromAjv(fe.validation, fe.validationContext ?? "body"));
  }
  switch (fe.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new LaunchError(
        "payload_too_large",
        `Request body is larger than the limit of ${bodyLimit} bytes (LAUNCH_BODY_LIMIT_BYTES).`,
      );
    case "FST_ERR_CTP_INVALID_JSON_BODY":
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return LaunchError.validation([{ loc: ["body"], msg: fe.message, type: "json_invalid" }]);
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return new LaunchError(
        "bad_request",
        `Unsupported content type; send application/json. (${fe.message})`,
      );
  }
  if (typeof fe.statusCode === "number" && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new LaunchError("bad_request", fe.message);
  }
  return new LaunchError("internal", "Internal server error", { cause: error });
}

export interface AjvIssue {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
  /** Present because the gateway's Ajv runs with `verbose: true`. */
  parentSchema?: unknown;
}

/** The values a discriminated union accepts for its tag, read from the schema's `oneOf` branches. */
function variantTags(schema: unknown, tag: string): string[] {
  const branches =
    (schema as { oneOf?: { properties?: Record<string, { const?: unknown }> }[] })?.oneOf ?? [];
  return branches.map((b) => b.properties?.[tag]?.const).filter((v): v is string => typeof v === "string");
}

/**
 * Ajv's errors as the reference's 422 entries: one per field and kind (a missing union tag is reported
 * once, not by both `required` and `discriminator`), without the `if` wrapper errors of conditional
 * schemas (their `then` errors already name the field).
 */
export function issuesFromAjv(errors: AjvIssue[], context: string): ValidationIssue[] {
  const seen = new Set<string>();
  const out: ValidationIssue[] = [];
  for (const error of errors) {
    if (error.keyword === "if") continue;
    const issue = fromAjv(error, context);
    const id = JSON.stringify([issue.loc, issue.type]);
    if (seen.has(id)) continue;
    seen.add(id);
    out.push(issue);
  }
  return out;
}

function fromAjv(issue: AjvIssue, context: string): ValidationIssue {
  const loc: (string | number)[] = [context === "querystring" ? "query" : context];
  for (const part of issue.instancePath.split("/").slice(1)) {
    const unescaped = part.replace(/~1/g, "/").replace(/~0/g, "~");
    loc.push(/^\d+$/.test(unescaped) ? Number(unescaped) : unescaped);
  }
  const field = loc.slice(1).join(".") || context;
  switch (issue.keyword) {
    case "required": {
      const missing = String(issue.params.missingProperty);
      return {
        loc: [...loc, missing],
        msg: `Field required: ${[...loc.slice(1), missing].join(".")}`,
        type: "missing",
      };
    }
    case "additionalProperties":
      return {
        loc: [...loc, String(issue.params.additionalProperty)],
        msg: `Extra field not permitted: ${String(issue.params.additionalProperty)}`,
        type: "extra_forbidden",
      };
    case "discriminator": {
      // `{flavor: ...}` unions: the tag is missing, not a string, or names no known variant.
      const tag = String(issue.params.tag);
      const tagValue = issue.params.tagValue;
      const where = [...loc.slice(1), tag].join(".");
      return issue.params.error === "mapping"
        ? {
            loc: [...loc, tag],
            msg: `${where} is ${JSON.stringify(tagValue)}; expected one of: ${variantTags(issue.parentSchema, tag).join(", ")}`,
            type: "union_tag_invalid",
          }
        : { loc: [...loc, tag], msg: `Field required: ${where} (a string)`, type: "missing" };
    }
    case "const":
      return {
        loc,
        msg: `${field} must be ${JSON.stringify(issue.params.allowedValue)}`,
        type: "literal_error",
      };
    case "enum":
      return {
        loc,
        msg: `${field} must be one of: ${(issue.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`,
        type: "enum",
      };
    case "type":
      return {
        loc,
        msg: `${field} must be ${String(issue.params.type).split(",").join(" or ")}`,
        type: "type_error",
      };
    default:
      return { loc, msg: `${field} ${issue.message ?? "is invalid"}`, type: "value_error" };
  }
}

export function sendError(reply: FastifyReply, error: LaunchError): FastifyReply {
  if (error.headers) reply.headers(error.headers);
  const body: ErrorBody = error.toBody();
  return reply.code(error.status).send(body);
}

export function errorHandler(bodyLimit: number) {
  return (error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const launchError = toLaunchError(error, bodyLimit);
    if (launchError.code === "internal") {
      request.log.error({ err: error }, "unhandled error");
    }
    return sendError(reply, launchError);
  };
}
