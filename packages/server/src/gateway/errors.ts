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
    return LaunchError.validation(
      fe.validation.map((issue) => fromAjv(issue, fe.validationContext ?? "body")),
    );
  }
  switch (fe.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new LaunchError(
        "payload_too_large",
        `Request body is larger than the limit of ${bodyLimit} bytes (LAUNCH_BODY_LIMIT_BYTES).`,
      );
    case "FST_ERR_CTP_INVALID_JSON_BODY":
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return LaunchError.validation([
        { loc: ["body"], msg: `Request body is not valid JSON: ${fe.message}`, type: "json_invalid" },
      ]);
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

interface AjvIssue {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
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
    case "enum":
      return {
        loc,
        msg: `${field} must be one of: ${(issue.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`,
        type: "enum",
      };
    case "type":
      return { loc, msg: `${field} must be ${String(issue.params.type)}`, type: "type_error" };
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
