import type { FastifyPluginAsync } from "fastify";
import type { GatewayDeps } from "../deps.js";

/** Placeholder: being written. */
export const endpointRoutes: FastifyPluginAsync<{ deps: GatewayDeps }> = async () => {};
