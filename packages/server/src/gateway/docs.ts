import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { FastifyInstance } from "fastify";

/** Where the OpenAPI document and the browsable docs are served; both need no API key. */
export const OPENAPI_PATH = "/openapi.json";
export const DOCS_PREFIX = "/docs";

/**
 * Registers OpenAPI generation (from every route's schema, `summary` and `tags`), `GET /openapi.json`
 * and the Swagger UI at `/docs`. Call it on the root instance before any route module, so that every
 * route is collected.
 */
export async function registerDocs(app: FastifyInstance): Promise<void> {
  app.addHook("onRoute", (route) => {
    if (route.url === OPENAPI_PATH || route.url.startsWith(DOCS_PREFIX)) {
      route.config = { ...(route.config as object), public: true };
    }
  });
  await app.register(swagger, {
    openapi: {
      openapi: "3.0.3",
      info: {
        title: "Launch API",
        description:
          "The Launch REST API: model bundles, model endpoints and tasks. Every route also answers under " +
          "the `/v1/launch` prefix. Authenticate with HTTP Basic (the API key as username, empty password) " +
          "or `Authorization: Bearer <key>`.",
        version: "1",
      },
      components: {
        securitySchemes: {
          basic: { type: "http", scheme: "basic", description: "API key as username, empty password." },
          bearer: { type: "http", scheme: "bearer", description: "The API key as a bearer token." },
        },
      },
      security: [{ basic: [] }, { bearer: [] }],
      tags: [
        { name: "Model Bundles", description: "Immutable, versioned descriptions of how to run a model." },
        { name: "Model Endpoints", description: "Deployed bundles." },
        { name: "Artifacts", description: "Uploads and downloads of bundle artifacts and results." },
        {
          name: "Callbacks",
          description: "Callback signing secrets, the delivery log and replays [ext].",
        },
        { name: "Health", description: "Unauthenticated liveness and readiness checks." },
        { name: "Metrics", description: "Unauthenticated Prometheus metrics (counts only)." },
      ],
    },
  });
  app.get(OPENAPI_PATH, { schema: { hide: true } as object }, async () => app.swagger());
  await app.register(swaggerUi, { routePrefix: DOCS_PREFIX });
}
