import type { FastifyPluginAsync } from "fastify";
import type { GatewayDeps } from "../deps.js";

/** Placeholder: being written. */
export const bundleRoutes: FastifyPluginAsync<{ deps: GatewayDeps }> = async () => {};
