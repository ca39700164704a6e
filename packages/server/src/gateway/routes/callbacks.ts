import {
  type CallbackDeliveryStatus,
  callbackDeliveryListSchema,
  callbackDeliverySchema,
  callbackListQuerySchema,
  callbacksReplayedSchema,
  deliveryIdParamsSchema,
  endpointIdParamsSchema,
  errorBodySchema,
  taskIdParamsSchema,
} from "@launch/protocol";
import type { FastifyPluginAsync } from "fastify";
import { CallbackLogService } from "../../services/callback-log.js";
import type { GatewayDeps } from "../deps.js";

const tags = ["Callbacks"];
const unauthenticated = { ...errorBodySchema, description: "No credentials, or an unknown key." };

type EndpointParams = { model_endpoint_id: string };
type ListQuery = { status?: CallbackDeliveryStatus; limit?: number; before?: string };

/**
 * The delivery log [ext] (`callbacks.md` §3): a task's callbacks with every attempt, an endpoint's
 * callbacks by status (`failed` are the dead letters), and replays. Another team's task, endpoint or
 * delivery answers 404. Credentials are never shown, only their kind.
 */
export const callbackRoutes: FastifyPluginAsync<{ deps: GatewayDeps }> = async (app, { deps }) => {
  const log = new CallbackLogService({
    outbox: deps.outbox,
    store: deps.store,
    queue: deps.queue,
    now: deps.now,
  });

  app.get<{ Params: { task_id: string } }>(
    "/v1/async-tasks/:task_id/callbacks",
    {
      schema: {
        tags,
        summary: "List a task's callbacks and their attempts [ext]",
        description:
          "Usually one delivery per task (none when the endpoint has no `callback` hook). A `skipped` delivery says why nothing was sent (e.g. no callback URL).",
        params: taskIdParamsSchema,
        response: {
          200: callbackDeliveryListSchema,
          401: unauthenticated,
          404: { ...errorBodySchema, description: "No such task in your team." },
        },
      },
    },
    async (request) => log.ofTask(request.principal, request.params.task_id),
  );

  app.get<{ Params: EndpointParams; Querystring: ListQuery }>(
    "/v1/model-endpoints/:model_endpoint_id/callbacks",
    {
      schema: {
        tags,
        summary: "List an endpoint's callbacks [ext]",
        description: "Newest first. `?status=failed` lists the dead letters; page with `?before=<last id>`.",
        params: endpointIdParamsSchema,
        querystring: callbackListQuerySchema,
        response: {
          200: callbackDeliveryListSchema,
          401: unauthenticated,
          404: { ...errorBodySchema, description: "No such endpoint in your team." },
          422: { description: "A query parameter is wrong; `detail` names it." },
        },
      },
    },
    async (request) =>
      log.ofEndpoint(request.principal, request.params.model_endpoint_id, {
        status: request.query.status,
        limit: request.query.limit,
        before: request.query.before,
      }),
  );

  app.get<{ Params: { delivery_id: string } }>(
    "/v1/callbacks/:delivery_id",
    {
      schema: {
        tags,
        summary: "Get one callback delivery with its attempts [ext]",
        params: deliveryIdParamsSchema,
        response: {
          200: callbackDeliverySchema,
          401: unauthenticated,
          404: { ...errorBodySchema, description: "No such delivery for your team." },
        },
      },
    },
    async (request) => log.one(request.principal, request.params.delivery_id),
  );

  app.post<{ Params: { delivery_id: string } }>(
    "/v1/callbacks/:delivery_id/replay",
    {
      schema: {
        tags,
        summary: "Replay a callback [ext]",
        description:
          "Sends a delivered or failed callback again, now, with the same `webhook-id` and body; its attempts continue the numbering. A pending one is left as it is.",
        params: deliveryIdParamsSchema,
        response: {
          200: callbackDeliverySchema,
          400: { ...errorBodySchema, description: "The delivery was skipped (it has no URL to send to)." },
          401: unauthenticated,
          404: { ...errorBodySchema, description: "No such delivery for your team." },
        },
      },
    },
    async (request) => log.replay(request.principal, request.params.delivery_id),
  );

  app.post<{ Params: EndpointParams }>(
    "/v1/model-endpoints/:model_endpoint_id/callbacks/replay-failed",
    {
      schema: {
        tags,
        summary: "Replay every dead letter of an endpoint [ext]",
        params: endpointIdParamsSchema,
        response: {
          200: callbacksReplayedSchema,
          401: unauthenticated,
          404: { ...errorBodySchema, description: "No such endpoint in your team." },
        },
      },
    },
    async (request) => log.replayFailed(request.principal, request.params.model_endpoint_id),
  );
};
