import type { AddressInfo } from "node:net";
import { errorBodySchema, isLaunchError, LaunchError } from "@launch/protocol";
import type { FastifyPluginAsync, FastifyRequest } from "fastify";
import { verifyUploadGrant } from "../../services/upload-grants.js";
import { artifactNotFound, canRead, createUploadUrl, uploadSigningKey } from "../../services/uploads.js";
import type { GatewayDeps } from "../deps.js";

const tags = ["Artifacts"];

/**
 * Artifact uploads and downloads (`wire-protocol.md` §3 "Artifact uploads"):
 * - `POST /v1/hosted_inference/model_bundle_upload` hands out `{signedUrl, bucket, key}`;
 * - `PUT /v1/uploads/<grant>` (no API key: the grant in the URL is the permission) stores raw bytes;
 * - `GET /v1/artifacts/<bucket>/<key>` [ext] lets the owning team download them.
 */
export const artifactRoutes: FastifyPluginAsync<{ deps: GatewayDeps }> = async (app, { deps }) => {
  const { artifacts, config } = deps;

  app.post(
    "/v1/hosted_inference/model_bundle_upload",
    {
      schema: {
        summary: "Get a URL to upload a bundle artifact to",
        description:
          "Body `{}`. PUT the raw bytes to `signedUrl` (no Authorization header) before it expires, then " +
          "use `s3://{bucket}/{key}` as the bundle's `location` or `schema_location`.",
        tags,
        response: {
          200: {
            type: "object",
            properties: {
              signedUrl: { type: "string" },
              bucket: { type: "string" },
              key: { type: "string" },
            },
            required: ["signedUrl", "bucket", "key"],
          },
        },
      },
    },
    async (request) =>
      createUploadUrl(deps, request.principal.teamId, baseUrl(request, config.publicUrl), deps.now()),
  );

  // The upload route takes any content type and streams the body itself, so it lives in its own
  // context without the JSON parser and the body limit.
  await app.register(async (uploads) => {
    uploads.removeAllContentTypeParsers();
    uploads.addContentTypeParser("*", (_request, _payload, done) => done(null));
    uploads.put<{ Params: { token: string } }>(
      "/v1/uploads/:token",
      {
        config: { public: true },
        schema: {
          summary: "Upload an artifact to an upload URL",
          description: "Raw bytes of any content type; the URL's grant names the bucket and key.",
          tags,
          security: [],
          params: { type: "object", properties: { token: { type: "string" } }, required: ["token"] },
          response: {
            200: {
              type: "object",
              properties: { bucket: { type: "string" }, key: { type: "string" }, size: { type: "integer" } },
            },
            403: { ...errorBodySchema, description: "The upload URL is invalid or expired." },
            413: { ...errorBodySchema, description: "Larger than LAUNCH_UPLOAD_LIMIT_BYTES." },
          },
        },
      },
      async (request) => {
        const grant = verifyUploadGrant(uploadSigningKey(deps.secrets), request.params.token, deps.now());
        const declared = Number(request.headers["content-length"] ?? Number.NaN);
        if (declared > config.uploadLimitBytes) throw tooLarge(config.uploadLimitBytes);
        const info = await artifacts
          .put(grant.bucket, grant.key, request.raw, config.uploadLimitBytes)
          .catch((error: unknown) => {
            throw isLaunchError(error) && error.code === "payload_too_large"
              ? tooLarge(config.uploadLimitBytes)
              : error;
          });
        request.log.info({ bucket: info.bucket, key: info.key, size: info.size }, "artifact uploaded");
        return { bucket: info.bucket, key: info.key, size: info.size };
      },
    );
  });

  app.get<{ Params: { bucket: string; "*": string } }>(
    "/v1/artifacts/:bucket/*",
    {
      schema: {
        summary: "Download an artifact your team owns",
        description: "[ext] The bytes behind `s3://{bucket}/{key}`, for uploads and pickled results.",
        tags,
        response: { 404: { ...errorBodySchema, description: "Missing, or not your team's." } },
      },
    },
    async (request, reply) => {
      const { bucket, "*": key } = request.params;
      if (!canRead(request.principal.teamId, bucket, key)) throw artifactNotFound();
      const info = await artifacts.stat(bucket, key);
      const stream = info && (await artifacts.open(bucket, key));
      if (!info || !stream) throw artifactNotFound();
      return reply.type("application/octet-stream").header("content-length", String(info.size)).send(stream);
    },
  );
};

function tooLarge(limit: number): LaunchError {
  return new LaunchError(
    "payload_too_large",
    `The upload is larger than the limit of ${limit} bytes (LAUNCH_UPLOAD_LIMIT_BYTES).`,
  );
}

/**
 * The base of URLs handed to clients: `LAUNCH_PUBLIC_URL` when set, else the address the gateway
 * listens on (or, when it listens on every interface, the Host the client used).
 */
function baseUrl(request: FastifyRequest, configured: string): string {
  if (configured) return configured.replace(/\/+$/, "");
  const address = request.server.server.address() as AddressInfo | null;
  const wildcard = !address || address.address === "0.0.0.0" || address.address === "::";
  if (wildcard && request.headers.host) return `${request.protocol}://${request.headers.host}`;
  const host = address?.address.includes(":") ? `[${address.address}]` : address?.address;
  return `http://${host}:${address?.port}`;
}
