import {
  authenticatedErrorResponses,
  type BundleOrderBy,
  bundleCreatedSchema,
  bundleIdParamsSchema,
  bundleV1Schema,
  bundleV2Schema,
  type CloneBundleRequest,
  type CreateBundleV1Request,
  type CreateBundleV2Request,
  cloneBundleBodySchema,
  createBundleV1BodySchema,
  createBundleV2BodySchema,
  errorBodySchema,
  latestBundleQuerySchema,
  listBundlesQuerySchema,
  listBundlesV1ResponseSchema,
  listBundlesV2ResponseSchema,
} from "@launch/protocol";
import type { FastifyPluginAsync } from "fastify";
import {
  cloneBundle,
  createBundleV1,
  createBundleV2,
  getOwnedBundle,
  latestOwnedBundle,
  listOwnedBundles,
} from "../../services/bundles.js";
import type { GatewayDeps } from "../deps.js";
import { toBundleV1, toBundleV2 } from "../views/bundles.js";

const tags = ["Model Bundles"];
const notFound = { 404: { ...errorBodySchema, description: "No such bundle in your team." } };

interface ListQuery {
  model_name?: string;
  order_by?: BundleOrderBy;
}

/**
 * The model bundle routes, v2 (current) and v1 (legacy, still used by the Python client to resolve
 * names), `wire-protocol.md` §3. Another team's bundle answers 404 everywhere.
 */
export const bundleRoutes: FastifyPluginAsync<{ deps: GatewayDeps }> = async (app, { deps }) => {
  const { store } = deps;

  // --- v2 ---
  app.post<{ Body: CreateBundleV2Request }>(
    "/v2/model-bundles",
    {
      schema: {
        summary: "Create a model bundle",
        description: "Fills the flavor's defaults and stores an immutable bundle owned by your team.",
        tags,
        body: createBundleV2BodySchema,
        response: { 200: bundleCreatedSchema, ...authenticatedErrorResponses },
      },
    },
    async (request) => {
      const record = await createBundleV2(store, request.principal, request.body, deps.now());
      return { model_bundle_id: record.id };
    },
  );

  app.get<{ Querystring: ListQuery }>(
    "/v2/model-bundles",
    {
      schema: {
        summary: "List model bundles",
        tags,
        querystring: listBundlesQuerySchema,
        response: { 200: listBundlesV2ResponseSchema, ...authenticatedErrorResponses },
      },
    },
    async (request) => {
      const records = await listOwnedBundles(store, request.principal, {
        name: request.query.model_name,
        orderBy: request.query.order_by,
      });
      return { model_bundles: records.map(toBundleV2) };
    },
  );

  app.get<{ Querystring: { model_name: string } }>(
    "/v2/model-bundles/latest",
    {
      schema: {
        summary: "Get the newest model bundle of a name",
        tags,
        querystring: latestBundleQuerySchema,
        response: { 200: bundleV2Schema, ...notFound, ...authenticatedErrorResponses },
      },
    },
    async (request) =>
      toBundleV2(await latestOwnedBundle(store, request.principal, request.query.model_name)),
  );

  app.post<{ Body: CloneBundleRequest }>(
    "/v2/model-bundles/clone-with-changes",
    {
      schema: {
        summary: "Clone a model bundle with a new app_config",
        tags,
        body: cloneBundleBodySchema,
        response: { 200: bundleCreatedSchema, ...notFound, ...authenticatedErrorResponses },
      },
    },
    async (request) => {
      const record = await cloneBundle(store, request.principal, request.body, deps.now());
      return { model_bundle_id: record.id };
    },
  );

  app.get<{ Params: { model_bundle_id: string } }>(
    "/v2/model-bundles/:model_bundle_id",
    {
      schema: {
        summary: "Get a model bundle",
        tags,
        params: bundleIdParamsSchema,
        response: { 200: bundleV2Schema, ...notFound, ...authenticatedErrorResponses },
      },
    },
    async (request) =>
      toBundleV2(await getOwnedBundle(store, request.principal, request.params.model_bundle_id)),
  );

  // --- v1 (legacy) ---
  app.post<{ Body: CreateBundleV1Request }>(
    "/v1/model-bundles",
    {
      schema: {
        summary: "Create a model bundle (v1)",
        description: "Legacy form: `location`, `env_params` and `packaging_type` instead of a flavor.",
        tags,
        body: createBundleV1BodySchema,
        response: { 200: bundleCreatedSchema, ...authenticatedErrorResponses },
      },
    },
    async (request) => {
      const record = await createBundleV1(store, request.principal, request.body, deps.now());
      return { model_bundle_id: record.id };
    },
  );

  app.get<{ Querystring: ListQuery }>(
    "/v1/model-bundles",
    {
      schema: {
        summary: "List model bundles (v1)",
        tags,
        querystring: listBundlesQuerySchema,
        response: { 200: listBundlesV1ResponseSchema, ...authenticatedErrorResponses },
      },
    },
    async (request) => {
      const records = await listOwnedBundles(store, request.principal, {
        name: request.query.model_name,
        orderBy: request.query.order_by,
      });
      return { model_bundles: records.map(toBundleV1) };
    },
  );

  app.get<{ Querystring: { model_name: string } }>(
    "/v1/model-bundles/latest",
    {
      schema: {
        summary: "Get the newest model bundle of a name (v1)",
        tags,
        querystring: latestBundleQuerySchema,
        response: { 200: bundleV1Schema, ...notFound, ...authenticatedErrorResponses },
      },
    },
    async (request) =>
      toBundleV1(await latestOwnedBundle(store, request.principal, request.query.model_name)),
  );

  app.post<{ Body: CloneBundleRequest }>(
    "/v1/model-bundles/clone-with-changes",
    {
      schema: {
        summary: "Clone a model bundle with a new app_config (v1)",
        tags,
        body: cloneBundleBodySchema,
        response: { 200: bundleCreatedSchema, ...notFound, ...authenticatedErrorResponses },
      },
    },
    async (request) => {
      const record = await cloneBundle(store, request.principal, request.body, deps.now());
      return { model_bundle_id: record.id };
    },
  );

  app.get<{ Params: { model_bundle_id: string } }>(
    "/v1/model-bundles/:model_bundle_id",
    {
      schema: {
        summary: "Get a model bundle (v1)",
        tags,
        params: bundleIdParamsSchema,
        response: { 200: bundleV1Schema, ...notFound, ...authenticatedErrorResponses },
      },
    },
    async (request) =>
      toBundleV1(await getOwnedBundle(store, request.principal, request.params.model_bundle_id)),
  );
};
