import {
  createEndpointBodySchema,
  type EndpointOrderBy,
  endpointCreatedSchema,
  endpointDeletedSchema,
  endpointIdParamsSchema,
  endpointRestartedSchema,
  endpointSchema,
  errorBodySchema,
  listEndpointsQuerySchema,
  listEndpointsResponseSchema,
  updateEndpointBodySchema,
} from "@launch/protocol";
import type { FastifyPluginAsync } from "fastify";
import { EndpointService } from "../../services/endpoints.js";
import type { GatewayDeps } from "../deps.js";

const tags = ["Model Endpoints"];
const notFound = { ...errorBodySchema, description: "No such endpoint or bundle in your team." };
const errors = {
  401: { ...errorBodySchema, description: "No credentials, or an unknown key." },
  404: notFound,
  409: { ...errorBodySchema, description: "The endpoint is being deleted." },
} as const;
const bodyErrors = {
  ...errors,
  400: {
    ...errorBodySchema,
    description:
      "Duplicate name, unknown post-inference hook, or a sync/streaming endpoint with min_workers 0.",
  },
  422: { description: "A field is missing or wrong; `detail` names each one." },
} as const;

type IdParams = { model_endpoint_id: string };
type Body = Record<string, unknown>;

/**
 * `/v1/model-endpoints`: create, list, get, update (patch), delete and restart (`wire-protocol.md` §4).
 * Everything is scoped to the caller's team; another team's endpoint answers 404 like a missing one.
 */
export const endpointRoutes: FastifyPluginAsync<{ deps: GatewayDeps }> = async (app, { deps }) => {
  const endpoints = new EndpointService({
    store: deps.store,
    secrets: deps.secrets,
    orchestrator: deps.orchestrator,
    queue: deps.queue,
    now: deps.now,
  });

  app.post<{ Body: Body }>(
    "/v1/model-endpoints",
    {
      schema: {
        tags,
        summary: "Create a model endpoint",
        description:
          "Validates everything first (nothing is created on an error), then records the endpoint as UPDATE_PENDING. Callback credentials are stored encrypted and never returned.",
        body: createEndpointBodySchema,
        response: { 200: endpointCreatedSchema, ...bodyErrors },
      },
    },
    async (request) => endpoints.create(request.principal, request.body),
  );

  app.get<{ Querystring: { name?: string; order_by?: EndpointOrderBy } }>(
    "/v1/model-endpoints",
    {
      schema: {
        tags,
        summary: "List your team's model endpoints",
        querystring: listEndpointsQuerySchema,
        response: { 200: listEndpointsResponseSchema, 401: errors[401] },
      },
    },
    async (request) =>
      endpoints.list(request.principal, { name: request.query.name, orderBy: request.query.order_by }),
  );

  app.get<{ Params: IdParams }>(
    "/v1/model-endpoints/:model_endpoint_id",
    {
      schema: {
        tags,
        summary: "Get a model endpoint",
        params: endpointIdParamsSchema,
        response: { 200: endpointSchema, 401: errors[401], 404: notFound },
      },
    },
    async (request) => endpoints.get(request.principal, request.params.model_endpoint_id),
  );

  app.put<{ Params: IdParams; Body: Body }>(
    "/v1/model-endpoints/:model_endpoint_id",
    {
      schema: {
        tags,
        summary: "Update a model endpoint (patch)",
        description:
          "Absent or null fields keep their value; labels merge into the current labels; hooks, callback URL and callback credentials replace. The endpoint goes back to UPDATE_PENDING.",
        params: endpointIdParamsSchema,
        body: updateEndpointBodySchema,
        response: { 200: endpointCreatedSchema, ...bodyErrors },
      },
    },
    async (request) =>
      endpoints.update(request.principal, request.params.model_endpoint_id, request.body ?? {}),
  );

  app.delete<{ Params: IdParams }>(
    "/v1/model-endpoints/:model_endpoint_id",
    {
      schema: {
        tags,
        summary: "Delete a model endpoint",
        params: endpointIdParamsSchema,
        response: { 200: endpointDeletedSchema, ...errors },
      },
    },
    async (request) => endpoints.delete(request.principal, request.params.model_endpoint_id),
  );

  app.post<{ Params: IdParams }>(
    "/v1/model-endpoints/:model_endpoint_id/restart",
    {
      schema: {
        tags,
        summary: "Restart a model endpoint's workers",
        params: endpointIdParamsSchema,
        response: { 200: endpointRestartedSchema, ...errors },
      },
    },
    async (request) => endpoints.restart(request.principal, request.params.model_endpoint_id),
  );
};
