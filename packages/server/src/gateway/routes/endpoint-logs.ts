import {
  endpointIdParamsSchema,
  endpointLogsQuerySchema,
  endpointLogsResponseSchema,
  errorBodySchema,
  LOG_TAIL_DEFAULT,
} from "@launch/protocol";
import type { FastifyPluginAsync } from "fastify";
import { EndpointService } from "../../services/endpoints.js";
import type { GatewayDeps } from "../deps.js";

/**
 * `GET /v1/model-endpoints/{id}/logs?tail=` [ext]: the most recent lines its workers wrote (stdout and
 * stderr), oldest first. Only the endpoint's team may read them.
 */
export const endpointLogRoutes: FastifyPluginAsync<{ deps: GatewayDeps }> = async (app, { deps }) => {
  const endpoints = new EndpointService({
    store: deps.store,
    secrets: deps.secrets,
    orchestrator: deps.orchestrator,
    queue: deps.queue,
    now: deps.now,
  });

  app.get<{ Params: { model_endpoint_id: string }; Querystring: { tail?: number } }>(
    "/v1/model-endpoints/:model_endpoint_id/logs",
    {
      schema: {
        tags: ["Model Endpoints"],
        summary: "Recent worker output of a model endpoint [ext]",
        params: endpointIdParamsSchema,
        querystring: endpointLogsQuerySchema,
        response: {
          200: endpointLogsResponseSchema,
          401: { ...errorBodySchema, description: "No credentials, or an unknown key." },
          404: { ...errorBodySchema, description: "No such endpoint in your team." },
        },
      },
    },
    async (request) =>
      endpoints.logs(
        request.principal,
        request.params.model_endpoint_id,
        request.query.tail ?? LOG_TAIL_DEFAULT,
      ),
  );
};
