import type { FastifyPluginAsync } from "fastify";
import type { GatewayDeps } from "../deps.js";

/** `GET /healthz`, `/readyz`, `/healthcheck`: unauthenticated, 200 while the process serves. */
export const healthRoutes: FastifyPluginAsync<{ deps: GatewayDeps }> = async (app) => {
  for (const path of ["/healthz", "/readyz", "/healthcheck"]) {
    app.get(
      path,
      {
        config: { public: true },
        // Probes hit these every few seconds; their request lines would drown the log at info.
        logLevel: "warn",
        schema: {
          summary: "Health check",
          tags: ["Health"],
          security: [],
          response: {
            200: { type: "object", properties: { status: { type: "string", enum: ["ok"] } } },
          },
        },
      },
      async () => ({ status: "ok" }),
    );
  }
};
