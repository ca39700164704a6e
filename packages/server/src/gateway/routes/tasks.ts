import {
  asyncTaskCreatedSchema,
  errorBodySchema,
  getTaskQuerySchema,
  modelEndpointQuerySchema,
  type PredictRequest,
  predictRequestBodySchema,
  type SyncPredictRequest,
  syncPredictRequestBodySchema,
  syncTaskResponseSchema,
  taskIdParamsSchema,
  taskResponseSchema,
} from "@launch/protocol";
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import { syncCallbackHook } from "../../services/sync-callbacks.js";
import { SyncTaskService } from "../../services/sync-tasks.js";
import { TaskService } from "../../services/tasks.js";
import { ClientClosedError } from "../../services/worker-forward.js";
import { WorkerPools } from "../../services/worker-pools.js";
import { ClientSignals } from "../client-signals.js";
import type { GatewayDeps } from "../deps.js";

const tags = ["Tasks"];
const unauthenticated = { ...errorBodySchema, description: "No credentials, or an unknown key." };
const endpointNotFound = {
  ...errorBodySchema,
  description: "No such endpoint, or another team's without public_inference.",
};
const submitErrors = {
  400: {
    ...errorBodySchema,
    description: "The endpoint is of another type; the message names the route to use.",
  },
  401: unauthenticated,
  404: endpointNotFound,
  409: { ...errorBodySchema, description: "The endpoint is being deleted." },
  413: {
    ...errorBodySchema,
    description: "The body is larger than the server's limit (named in the message).",
  },
  422: {
    description:
      "A field is missing or wrong (for example callback_auth without its password); `detail` names each one.",
  },
} as const;
const forwardErrors = {
  ...submitErrors,
  503: { ...errorBodySchema, description: "No worker became ready in time, or none could be reached." },
  504: {
    ...errorBodySchema,
    description: "The task did not finish (streaming: start) within timeout_seconds.",
  },
} as const;

type EndpointQuery = { model_endpoint_id: string };

/**
 * The task routes (`wire-protocol.md` §5): async tasks go to the durable queue, sync and streaming tasks
 * to a ready worker at once. Long polls and streams end when the server starts closing, so a shutdown
 * never waits on them.
 */
export const taskRoutes: FastifyPluginAsync<{ deps: GatewayDeps }> = async (app, { deps }) => {
  const pools = new WorkerPools();
  const tasks = new TaskService({
    store: deps.store,
    queue: deps.queue,
    secrets: deps.secrets,
    orchestrator: deps.orchestrator,
    config: deps.config,
    now: deps.now,
  });
  const sync = new SyncTaskService({
    store: deps.store,
    orchestrator: deps.orchestrator,
    pools,
    secrets: deps.secrets,
    config: deps.config,
    artifacts: deps.artifacts,
    // Sync tasks of an endpoint with the `callback` hook send one too (`task_id: null`); streaming never.
    afterSyncTask: syncCallbackHook({
      outbox: deps.outbox,
      log: deps.log.child({ component: "callbacks" }),
      clock: () => deps.now().getTime(),
    }),
  });
  const clients = new ClientSignals();
  app.addHook("preClose", async () => {
    clients.endLasting();
  });
  app.addHook("onClose", async () => {
    await pools.close();
  });

  app.post<{ Querystring: EndpointQuery; Body: PredictRequest }>(
    "/v1/async-tasks",
    {
      schema: {
        tags,
        summary: "Submit an async task",
        description:
          "Queues the task on an async endpoint and answers with its id once the task is durable. Give `args` (any JSON) or `url`. `callback_url`, `callback_auth` and [ext] `callback_events` override the endpoint's callback settings for this task.",
        querystring: modelEndpointQuerySchema,
        body: predictRequestBodySchema,
        response: { 200: asyncTaskCreatedSchema, ...submitErrors },
      },
    },
    async (request) => tasks.submit(request.principal, request.query.model_endpoint_id, request.body),
  );

  app.get<{ Params: { task_id: string }; Querystring: { wait?: number } }>(
    "/v1/async-tasks/:task_id",
    {
      schema: {
        tags,
        summary: "Get an async task's status and result",
        description:
          'PENDING (queued or running; STARTED is not shown, as on the reference): result, traceback and status_code are null. SUCCESS: result is {"result": <output>}. FAILURE: result is the error message, with its traceback. UNDEFINED: the task expired in the queue. [ext] `?wait=<seconds>` answers as soon as the task finishes, or after that long.',
        params: taskIdParamsSchema,
        querystring: getTaskQuerySchema,
        response: {
          200: taskResponseSchema,
          401: unauthenticated,
          404: { ...errorBodySchema, description: "No such task in your team." },
        },
      },
    },
    async (request, reply) => {
      const waitMs = (request.query.wait ?? 0) * 1000;
      const options = waitMs > 0 ? { waitMs, signal: clients.untilGone(reply, true) } : {};
      return tasks.get(request.principal, request.params.task_id, options);
    },
  );

  app.post<{ Querystring: EndpointQuery; Body: SyncPredictRequest }>(
    "/v1/sync-tasks",
    {
      schema: {
        tags,
        summary: "Run a sync task",
        description:
          'Forwards the task to a ready worker of a sync (or streaming) endpoint and answers with its result: {"status": "SUCCESS", "result": {"result": <output>}, ...}. A model error answers 200 with status FAILURE and its traceback.',
        querystring: modelEndpointQuerySchema,
        body: syncPredictRequestBodySchema,
        response: { 200: syncTaskResponseSchema, ...forwardErrors },
      },
    },
    async (request, reply) => {
      const signal = clients.untilGone(reply);
      try {
        const json = await sync.predict(
          request.principal,
          request.query.model_endpoint_id,
          request.body,
          signal,
        );
        return reply.type("application/json").send(json);
      } catch (error) {
        return clientClosed(error, request, reply);
      }
    },
  );

  app.post<{ Querystring: EndpointQuery; Body: SyncPredictRequest }>(
    "/v1/streaming-tasks",
    {
      schema: {
        tags,
        summary: "Run a streaming task",
        description:
          'Forwards the task to a ready worker of a streaming endpoint and passes its server-sent events through as they come: each event is `data: {"status":"SUCCESS","result":{"result":<event>},"traceback":null,"status_code":200}`.',
        querystring: modelEndpointQuerySchema,
        body: syncPredictRequestBodySchema,
        response: {
          200: {
            description: "`text/event-stream`, one `data:` event per event the model streams.",
            content: { "text/event-stream": { schema: { type: "string" } } },
          },
          ...forwardErrors,
        },
      },
    },
    async (request, reply) => {
      const signal = clients.untilGone(reply, true);
      try {
        const stream = await sync.stream(
          request.principal,
          request.query.model_endpoint_id,
          request.body,
          signal,
        );
        return reply
          .type("text/event-stream")
          .header("cache-control", "no-cache")
          .header("x-accel-buffering", "no")
          .send(stream);
      } catch (error) {
        return clientClosed(error, request, reply);
      }
    },
  );
};

/** The client went away before the answer: nothing to send. Any other error goes to the error handler. */
function clientClosed(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (!(error instanceof ClientClosedError)) throw error;
  request.log.info("the client closed the connection before the answer");
  reply.hijack();
  reply.raw.destroy();
  return reply;
}
