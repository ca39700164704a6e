import Fastify, { type FastifyInstance } from "fastify";
import { authenticate } from "../services/keys.js";
import type { GatewayDeps } from "./deps.js";
import { errorHandler } from "./errors.js";
import "./principal.js";
import { bundleRoutes } from "./routes/bundles.js";
import { endpointRoutes } from "./routes/endpoints.js";
import { healthRoutes } from "./routes/health.js";

/** Prefix the Python client uses with `use_path_with_custom_endpoint=True`; every route answers under it too. */
export const ALIAS_PREFIX = "/v1/launch";

/**
 * Builds the HTTP gateway: schema validation, authentication, the error table, and every route module.
 * It does not listen; the caller does.
 */
export async function buildGateway(deps: GatewayDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.log,
    bodyLimit: deps.config.bodyLimitBytes,
    disableRequestLogging: false,
    // `/v1/launch/v1/...` is the same as `/v1/...`.
    rewriteUrl: (req) => {
      const url = req.url ?? "/";
      return url.startsWith(`${ALIAS_PREFIX}/`) ? url.slice(ALIAS_PREFIX.length) : url;
    },
    ajv: {
      customOptions: {
        allErrors: true,
        coerceTypes: "array",
        useDefaults: true,
        removeAdditional: false,
        discriminator: true,
      },
    },
    routerOptions: { ignoreTrailingSlash: true },
  });

  app.setErrorHandler(errorHandler(deps.config.bodyLimitBytes));
  app.setNotFoundHandler((_request, reply) =>
    reply.code(404).send({ detail: "Not Found", code: "not_found" }),
  );

  app.decorateRequest("principal", undefined as never);
  app.addHook("onRequest", async (request) => {
    if (request.routeOptions.config.public) return;
    request.principal = await authenticate(
      deps.store,
      deps.config,
      request.headers.authorization,
      deps.now(),
    );
  });

  await app.register(healthRoutes, { deps });
  await app.register(bundleRoutes, { deps });
  await app.register(endpointRoutes, { deps });
  return app;
}
