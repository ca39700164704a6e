import type { FastifyPluginAsync } from "fastify";
import { PROMETHEUS_CONTENT_TYPE } from "../../metrics/registry.js";
import type { GatewayDeps } from "../deps.js";

/**
 * `GET /metrics`: the server's counters and histograms in the Prometheus text format (callback
 * deliveries, attempts and latency from the dispatcher; submitted and finished tasks). Public, like the
 * health checks, because Prometheus scrapers usually carry no API key: it holds counts only, no ids, no
 * URLs and no secrets. Restrict it at the network level if even counts are private.
 */
export const metricsRoutes: FastifyPluginAsync<{ deps: GatewayDeps }> = async (app, { deps }) => {
  app.get(
    "/metrics",
    {
      config: { public: true },
      // Scrapers hit it every few seconds; their request lines would drown the log at info.
      logLevel: "warn",
      schema: {
        summary: "Prometheus metrics",
        tags: ["Metrics"],
        security: [],
        response: {
          200: {
            description: "Prometheus text exposition format 0.0.4.",
            content: { "text/plain": { schema: { type: "string" } } },
          },
        },
      },
    },
    async (_request, reply) => reply.type(PROMETHEUS_CONTENT_TYPE).send(deps.metrics.render()),
  );
};
