import { errorBodySchema, type TaskOutcome } from "@launch/protocol";
import type { FastifyPluginAsync } from "fastify";
import { ExternalOrchestrator } from "../../orchestration/external.js";
import {
  ExternalWorkerService,
  type HeldLease,
  type WorkerRegistration,
} from "../../services/external-workers.js";
import { ClientSignals } from "../client-signals.js";
import type { GatewayDeps } from "../deps.js";

const tags = ["Workers"];
const errors = {
  401: { ...errorBodySchema, description: "No credentials, or an unknown key." },
  404: {
    ...errorBodySchema,
    description: "No such endpoint in your team, or an unknown worker (register again).",
  },
  409: { ...errorBodySchema, description: "The server's orchestration is not `external`." },
} as const;

const leaseItems = {
  type: "array",
  maxItems: 10_000,
  items: {
    type: "object",
    properties: { id: { type: "string" }, token: { type: "string" } },
    required: ["id", "token"],
  },
} as const;

type WorkerParams = { worker_id: string };
const workerParams = {
  type: "object",
  properties: { worker_id: { type: "string", minLength: 1 } },
  required: ["worker_id"],
} as const;

/**
 * The external worker API [ext] (`LAUNCH_ORCHESTRATION=external`, `services/external-workers.ts`):
 * `launch-worker --endpoint <id>` processes bootstrap, register, lease tasks, send results and heartbeat
 * through any gateway, with an API key of the endpoint's team.
 */
export const workerRoutes: FastifyPluginAsync<{ deps: GatewayDeps }> = async (app, { deps }) => {
  const service = new ExternalWorkerService({
    store: deps.store,
    queue: deps.queue,
    artifacts: deps.artifacts,
    registry: deps.workers,
    config: deps.config,
    onStartFailed: async (endpointId, reason) => {
      if (deps.orchestrator instanceof ExternalOrchestrator)
        await deps.orchestrator.workerStartFailed(endpointId, reason);
    },
  });
  const clients = new ClientSignals();
  app.addHook("preClose", async () => clients.endLasting());

  app.get<{ Querystring: { endpoint_id: string } }>(
    "/v1/workers/bootstrap",
    {
      schema: {
        tags,
        summary: "What an external worker of an endpoint runs [ext]",
        description:
          "The endpoint's bundle, the artifact to download (`GET /v1/artifacts/{bucket}/{key}`), the concurrency and the lease and heartbeat timings.",
        querystring: {
          type: "object",
          properties: { endpoint_id: { type: "string", minLength: 1 } },
          required: ["endpoint_id"],
        },
        response: errors,
      },
    },
    async (request) => service.bootstrap(request.principal, request.query.endpoint_id),
  );

  app.post<{ Body: WorkerRegistration }>(
    "/v1/workers",
    {
      schema: {
        tags,
        summary: "Register an external worker whose model is ready [ext]",
        body: {
          type: "object",
          properties: {
            endpoint_id: { type: "string", minLength: 1 },
            url: { type: "string", pattern: "^https?://" },
            concurrency: { type: "integer", minimum: 1 },
            pid: { type: ["integer", "null"] },
            hostname: { type: "string" },
            model_url: { type: ["string", "null"] },
            model_predict_route: { type: ["string", "null"], pattern: "^/" },
            sync_token: { type: ["string", "null"], maxLength: 512 },
          },
          required: ["endpoint_id", "url", "concurrency"],
        },
        response: errors,
      },
    },
    async (request) => service.register(request.principal, request.body, deps.now().getTime()),
  );

  app.post<{ Params: WorkerParams; Body: { max: number; wait_seconds?: number } }>(
    "/v1/workers/:worker_id/lease",
    {
      schema: {
        tags,
        summary: "Lease up to `max` queued tasks, waiting up to `wait_seconds` for one [ext]",
        params: workerParams,
        body: {
          type: "object",
          properties: {
            max: { type: "integer", minimum: 1, maximum: 1000 },
            wait_seconds: { type: "number", minimum: 0, maximum: 30 },
          },
          required: ["max"],
        },
        response: errors,
      },
    },
    async (request, reply) =>
      service.lease(
        request.principal,
        request.params.worker_id,
        request.body.max,
        request.body.wait_seconds ?? 0,
        clients.untilGone(reply, true),
      ),
  );

  app.post<{ Params: WorkerParams; Body: { items: { id: string; token: string; outcome: TaskOutcome }[] } }>(
    "/v1/workers/:worker_id/results",
    {
      schema: {
        tags,
        summary: "Record how leased tasks ended [ext]",
        params: workerParams,
        body: {
          type: "object",
          properties: {
            items: {
              type: "array",
              maxItems: 10_000,
              items: {
                type: "object",
                properties: {
                  id: { type: "string" },
                  token: { type: "string" },
                  outcome: { type: "object", properties: { ok: { type: "boolean" } }, required: ["ok"] },
                },
                required: ["id", "token", "outcome"],
              },
            },
          },
          required: ["items"],
        },
        response: errors,
      },
    },
    async (request) => service.results(request.principal, request.params.worker_id, request.body.items),
  );

  app.post<{ Params: WorkerParams; Body: { items: HeldLease[] } }>(
    "/v1/workers/:worker_id/release",
    {
      schema: {
        tags,
        summary: "Give leased tasks back, unstarted or unfinished [ext]",
        params: workerParams,
        body: { type: "object", properties: { items: leaseItems }, required: ["items"] },
        response: errors,
      },
    },
    async (request) => service.release(request.principal, request.params.worker_id, request.body.items),
  );

  app.post<{ Params: WorkerParams; Body: { in_flight?: number; leases?: HeldLease[] } }>(
    "/v1/workers/:worker_id/heartbeat",
    {
      schema: {
        tags,
        summary: "Keep a worker registered and its leases alive [ext]",
        params: workerParams,
        body: {
          type: "object",
          properties: { in_flight: { type: "integer", minimum: 0 }, leases: leaseItems },
        },
        response: errors,
      },
    },
    async (request) =>
      service.heartbeat(request.principal, request.params.worker_id, request.body.leases ?? []),
  );

  app.delete<{ Params: WorkerParams }>(
    "/v1/workers/:worker_id",
    {
      schema: {
        tags,
        summary: "Unregister a worker that is stopping [ext]",
        params: workerParams,
        response: errors,
      },
    },
    async (request) => service.remove(request.principal, request.params.worker_id),
  );

  app.post<{ Body: { endpoint_id: string; reason: string; hostname?: string } }>(
    "/v1/workers/start-failed",
    {
      schema: {
        tags,
        summary: "Report a worker whose model could not start [ext]",
        body: {
          type: "object",
          properties: {
            endpoint_id: { type: "string", minLength: 1 },
            reason: { type: "string", maxLength: 20_000 },
            hostname: { type: "string" },
          },
          required: ["endpoint_id", "reason"],
        },
        response: errors,
      },
    },
    async (request) =>
      service.startFailed(
        request.principal,
        request.body.endpoint_id,
        request.body.reason,
        request.body.hostname ?? "",
      ),
  );
};
