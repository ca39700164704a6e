import { callbackSecretSchema, endpointIdParamsSchema, errorBodySchema } from "@launch/protocol";
import type { FastifyPluginAsync } from "fastify";
import type { GatewayDeps } from "../deps.js";

const tags = ["Callbacks"];
const errors = {
  401: { ...errorBodySchema, description: "No credentials, or an unknown key." },
  404: { ...errorBodySchema, description: "No such endpoint in your team." },
} as const;

type IdParams = { model_endpoint_id: string };

/**
 * `GET` and `POST /v1/model-endpoints/{id}/callback-secret` [ext]: read and rotate the `whsec_` secret
 * that signs the endpoint's callbacks. The one place a secret is returned, to the endpoint's team only;
 * responses are never cached.
 */
export const callbackSecretRoutes: FastifyPluginAsync<{ deps: GatewayDeps }> = async (app, { deps }) => {
  const secrets = deps.callbackSecrets;

  app.get<{ Params: IdParams }>(
    "/v1/model-endpoints/:model_endpoint_id/callback-secret",
    {
      schema: {
        tags,
        summary: "Read the endpoint's callback signing secret [ext]",
        description:
          "The `whsec_…` secret that signs every callback of the endpoint (Standard Webhooks `webhook-signature`). Verify callbacks with it, e.g. with the SDK's `verifyCallback`.",
        params: endpointIdParamsSchema,
        response: { 200: callbackSecretSchema, ...errors },
      },
    },
    async (request, reply) => {
      reply.header("cache-control", "no-store");
      return secrets.read(request.principal, request.params.model_endpoint_id);
    },
  );

  app.post<{ Params: IdParams }>(
    "/v1/model-endpoints/:model_endpoint_id/callback-secret",
    {
      schema: {
        tags,
        summary: "Rotate the endpoint's callback signing secret [ext]",
        description:
          "Makes a new secret and answers it. The previous secret keeps signing too (a second signature in `webhook-signature`) until `previous_secret_expires_at`, so receivers can switch without rejecting a callback.",
        params: endpointIdParamsSchema,
        response: { 200: callbackSecretSchema, ...errors, 409: errorBodySchema },
      },
    },
    async (request, reply) => {
      reply.header("cache-control", "no-store");
      return secrets.rotate(request.principal, request.params.model_endpoint_id);
    },
  );
};
