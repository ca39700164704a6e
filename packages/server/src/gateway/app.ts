import { LaunchError } from "@launch/protocol";
import Fastify, { type FastifyInstance, type FastifyServerOptions } from "fastify";
import { authenticate } from "../services/keys.js";
import type { GatewayDeps, GatewayServices } from "./deps.js";
import { errorHandler, sendError } from "./errors.js";
import "./principal.js";
import { registerDocs } from "./docs.js";
import { artifactRoutes } from "./routes/artifacts.js";
import { bundleRoutes } from "./routes/bundles.js";
import { callbackSecretRoutes } from "./routes/callback-secrets.js";
import { callbackRoutes } from "./routes/callbacks.js";
import { endpointLogRoutes } from "./routes/endpoint-logs.js";
import { endpointRoutes } from "./routes/endpoints.js";
import { healthRoutes } from "./routes/health.js";
import { metricsRoutes } from "./routes/metrics.js";
import { taskRoutes } from "./routes/tasks.js";
import { workerRoutes } from "./routes/workers.js";

/** A 422 that says where the JSON breaks (Fastify's own error does not). */
function invalidJson(body: string): LaunchError {
  let msg: string;
  try {
    JSON.parse(body);
    msg = "Request body holds a forbidden key (__proto__ or constructor.prototype)";
  } catch (error) {
    msg = `Request body is not valid JSON: ${error instanceof Error ? error.message : String(error)}`;
  }
  return LaunchError.validation([{ loc: ["body"], msg, type: "json_invalid" }]);
}

/** Prefix the Python client uses with `use_path_with_custom_endpoint=True`; every route answers under it too. */
export const ALIAS_PREFIX = "/v1/launch";

/** The built gateway and the dependencies its routes use (with the gateway's logger). */
export interface Gateway {
  app: FastifyInstance;
  deps: GatewayDeps;
}

export interface GatewayOptions {
  /** Fastify/pino logger options (see `loggerOptions` in `compose.ts`); `false` for none. */
  logger?: FastifyServerOptions["logger"];
  /**
   * `all` (default): the whole API. `ops`: only health and metrics, for processes without the gateway
   * role (a dispatcher or a controller), so a load balancer and Prometheus can still watch them.
   */
  routes?: "all" | "ops";
}

/**
 * Builds the HTTP gateway: schema validation, authentication, the error table, OpenAPI docs and every
 * route module. It does not listen; the caller does.
 *
 * Response schemas document the routes in OpenAPI; they do not filter responses (the serializer is
 * plain `JSON.stringify`), so fields a schema does not list, such as `triton_*` flavor fields, are kept.
 */
export async function buildGateway(
  services: GatewayServices,
  options: GatewayOptions = {},
): Promise<Gateway> {
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: services.config.bodyLimitBytes,
    // `/v1/launch/v1/...` is the same as `/v1/...`.
    rewriteUrl: (req) => {
      const url = (req.url ?? "/").replace(/^\/{2,}/, "/");
      return url.startsWith(`${ALIAS_PREFIX}/`) ? url.slice(ALIAS_PREFIX.length) : url;
    },
    ajv: {
      customOptions: {
        allErrors: true,
        coerceTypes: "array",
        useDefaults: true,
        removeAdditional: false,
        discriminator: true,
        // `type: ["string", "number"]` is how quantities such as `cpus` are written.
        allowUnionTypes: true,
        // Error objects carry their schema, so union errors can list the accepted tags.
        verbose: true,
      },
    },
    // Upload URLs carry a signed grant (~150 characters) as one path parameter. `//v1/...` is `/v1/...`:
    // the Python client joins its `endpoint` and the path as strings, so an endpoint given with a
    // trailing slash (`http://host:5001/`) would otherwise miss every route.
    routerOptions: { ignoreTrailingSlash: true, ignoreDuplicateSlashes: true, maxParamLength: 2048 },
  });
  const deps: GatewayDeps = { ...services, log: app.log };

  app.setErrorHandler(errorHandler(deps.config.bodyLimitBytes));
  app.setNotFoundHandler((_request, reply) => sendError(reply, new LaunchError("not_found", "Not Found")));
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));

  // An empty body with `content-type: application/json` counts as no body (some clients send the header
  // on every POST); the route's schema then says whether a body was required. Anything else goes to
  // Fastify's parser, which guards against prototype poisoning.
  const jsonParser = app.getDefaultJsonParser("error", "error");
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) => {
    if (typeof body === "string" && body.trim() === "") {
      done(null, undefined);
      return;
    }
    jsonParser(request, body as string, (error, parsed) => {
      if (error) done(invalidJson(body as string), undefined);
      else done(null, parsed);
    });
  });

  app.decorateRequest("principal", undefined as never);
  app.addHook("onRequest", async (request) => {
    if (request.is404 || request.routeOptions.config.public) return;
    request.principal = await authenticate(
      deps.store,
      deps.config,
      request.headers.authorization,
      deps.now(),
      request.log,
    );
  });

  await app.register(healthRoutes, { deps });
  await app.register(metricsRoutes, { deps });
  if (options.routes === "ops") return { app, deps };
  await registerDocs(app);
  await app.register(bundleRoutes, { deps });
  await app.register(artifactRoutes, { deps });
  await app.register(endpointRoutes, { deps });
  await app.register(endpointLogRoutes, { deps });
  await app.register(taskRoutes, { deps });
  await app.register(callbackSecretRoutes, { deps });
  await app.register(callbackRoutes, { deps });
  await app.register(workerRoutes, { deps });
  return { app, deps };
}
