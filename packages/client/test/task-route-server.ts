/**
 * A small real HTTP server on 127.0.0.1 that speaks the task routes of `wire-protocol.md` §5 and the
 * `?wait=` long-poll [ext], for SDK and CLI tests that need to see exactly what the client sent and
 * to control when tasks finish. It records every request.
 *
 * @example
 * const server = await startTaskRouteServer();
 * const taskId = server.addTask();
 * server.finish(taskId, { status: "SUCCESS", result: { result: 7 }, traceback: null, status_code: 200 });
 * await server.close();
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Endpoint, SyncTaskResponse, TaskResponse } from "@launch/protocol";

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage["headers"];
  body: unknown;
}

export interface TaskRouteServer {
  url: string;
  requests: RecordedRequest[];
  /** Whether `GET /v1/async-tasks/{id}?wait=` holds the request (true) or answers at once (false). */
  honourWait: boolean;
  /** Answers `POST /v1/sync-tasks`; default: SUCCESS with the args echoed. */
  onSync: (body: Record<string, unknown>) => SyncTaskResponse;
  /** Writes `POST /v1/streaming-tasks` responses; default: one event echoing the args. */
  onStream: (body: Record<string, unknown>, response: ServerResponse) => void | Promise<void>;
  /**
   * Endpoint views by id: each `GET /v1/model-endpoints/{id}` answers the next view of the list and the
   * last one from then on (a deployment's progress). `PUT` answers the id; `GET ?name=` the last views.
   */
  endpoints: Map<string, Endpoint[]>;
  /** What `GET /v1/model-endpoints/{id}/logs` answers (before `tail`). */
  logs: { worker_id: string; time: string; stream: "stdout" | "stderr"; line: string }[];
  /** A new PENDING task; returns its id. */
  addTask(): string;
  /** Sets a task's final (or any) state and answers the long-polls waiting on it. */
  finish(taskId: string, state: Omit<TaskResponse, "task_id">): void;
  /** Resolves with the first request (already received or future) that matches. */
  nextRequest(match: (request: RecordedRequest) => boolean): Promise<RecordedRequest>;
  close(): Promise<void>;
}

/** Starts the server on a free port. */
export async function startTaskRouteServer(): Promise<TaskRouteServer> {
  const tasks = new Map<string, TaskResponse>();
  const waiters = new Map<string, Set<() => void>>();
  const watchers: { match: (r: RecordedRequest) => boolean; resolve: (r: RecordedRequest) => void }[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let counter = 0;

  const state: Omit<TaskRouteServer, "url" | "addTask" | "finish" | "nextRequest" | "close"> = {
    requests: [],
    honourWait: true,
    onSync: (body) => ({
      status: "SUCCESS",
      result: { result: body.args ?? null },
      traceback: null,
      status_code: 200,
    }),
    onStream: (body, response) => {
      response.writeHead(200, { "content-type": "text/event-stream" });
      const event = {
        status: "SUCCESS",
        result: { result: body.args ?? null },
        traceback: null,
        status_code: 200,
      };
      response.end(`data: ${JSON.stringify(event)}\n\n`);
    },
    logs: [],
    endpoints: new Map(),
  };

  const addTask = (): string => {
    counter += 1;
    const taskId = `tsk_test${String(counter).padStart(4, "0")}`;
    tasks.set(taskId, {
      task_id: taskId,
      status: "PENDING",
      result: null,
      traceback: null,
      status_code: null,
    });
    return taskId;
  };

  const finish = (taskId: string, next: Omit<TaskResponse, "task_id">): void => {
    tasks.set(taskId, { task_id: taskId, ...next });
    for (const wake of waiters.get(taskId) ?? []) wake();
    waiters.delete(taskId);
  };

  const json = (response: ServerResponse, status: number, body: unknown) => {
    response.writeHead(status, { "content-type": "application/json" });
    response.end(JSON.stringify(body));
  };

  const handle = async (response: ServerResponse, recorded: RecordedRequest) => {
    const { method, path, query } = recorded;
    const body = (recorded.body ?? {}) as Record<string, unknown>;
    if (method === "POST" && path === "/v1/async-tasks") return json(response, 200, { task_id: addTask() });
    if (method === "POST" && path === "/v1/sync-tasks") return json(response, 200, state.onSync(body));
    if (method === "POST" && path === "/v1/streaming-tasks") return state.onStream(body, response);
    if (method === "GET" && path === "/v1/model-endpoints") {
      const views = [...state.endpoints.values()].map((list) => list[list.length - 1]!);
      const name = query.get("name");
      return json(response, 200, { model_endpoints: views.filter((v) => name === null || v.name === name) });
    }
    const endpoint = /^\/v1\/model-endpoints\/([^/]+)$/.exec(path);
    const views = endpoint ? state.endpoints.get(decodeURIComponent(endpoint[1]!)) : undefined;
    if (endpoint && !views)
      return json(response, 404, { detail: "Model endpoint not found.", code: "not_found" });
    if (method === "GET" && views) return json(response, 200, views.length > 1 ? views.shift() : views[0]);
    if (method === "PUT" && views) return json(response, 200, { endpoint_creation_task_id: views[0]!.id });
    const logs = /^\/v1\/model-endpoints\/([^/]+)\/logs$/.exec(path);
    if (method === "GET" && logs) {
      const tail = Number(query.get("tail") ?? state.logs.length);
      return json(response, 200, { logs: state.logs.slice(-tail) });
    }
    const get = /^\/v1\/async-tasks\/([^/]+)$/.exec(path);
    if (method === "GET" && get) {
      const taskId = decodeURIComponent(get[1]!);
      const task = tasks.get(taskId);
      if (!task) return json(response, 404, { detail: `Task ${taskId} was not found.`, code: "not_found" });
      const wait = Math.min(60, Number(query.get("wait") ?? 0));
      const finished = ["SUCCESS", "FAILURE", "UNDEFINED"].includes(task.status);
      if (finished || !state.honourWait || !(wait > 0)) return json(response, 200, task);
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          timers.delete(timer);
          waiters.get(taskId)?.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, wait * 1000);
        timers.add(timer);
        const set = waiters.get(taskId) ?? new Set();
        set.add(wake);
        waiters.set(taskId, set);
        response.once("close", wake);
      });
      if (!response.destroyed) json(response, 200, tasks.get(taskId));
      return;
    }
    json(response, 404, { detail: `No route ${method} ${path}` });
  };

  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const url = new URL(request.url ?? "/", "http://localhost");
      const text = Buffer.concat(chunks).toString("utf8");
      const recorded: RecordedRequest = {
        method: request.method ?? "GET",
        path: url.pathname,
        query: url.searchParams,
        headers: request.headers,
        body: text === "" ? undefined : JSON.parse(text),
      };
      state.requests.push(recorded);
      for (const watcher of [...watchers]) {
        if (watcher.match(recorded)) {
          watchers.splice(watchers.indexOf(watcher), 1);
          watcher.resolve(recorded);
        }
      }
      handle(response, recorded).catch((error: unknown) => {
        if (!response.headersSent) json(response, 500, { detail: String(error) });
        else response.destroy(error as Error);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return Object.assign(state, {
    url: `http://127.0.0.1:${port}`,
    addTask,
    finish,
    nextRequest(match: (request: RecordedRequest) => boolean): Promise<RecordedRequest> {
      const seen = state.requests.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise<RecordedRequest>((resolve) => watchers.push({ match, resolve }));
    },
    async close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) =>
        server.close((error) => (error ? reject(error) : resolve())),
      );
    },
  });
}

/**
 * A complete endpoint view for `TaskRouteServer.endpoints`, with the given fields replaced.
 *
 * @example server.endpoints.set("end_1", [endpointView({ id: "end_1", status: "UPDATE_PENDING" })]);
 */
export function endpointView(overrides: Partial<Endpoint> = {}): Endpoint {
  return {
    id: "end_01jdq9z6v4k3m8n2p5r7s9t1vw",
    name: "demo",
    endpoint_type: "async",
    destination: "launch-endpoint-id-end_01jdq9z6v4k3m8n2p5r7s9t1vw",
    deployment_name: "demo",
    metadata: {},
    bundle_name: "test-bundle",
    model_bundle_id: "bun_01jdq9z6v4k3m8n2p5r7s9t1vw",
    status: "READY",
    status_reason: null,
    post_inference_hooks: null,
    default_callback_url: null,
    default_callback_auth: null,
    callback_events: ["succeeded"],
    labels: {},
    created_by: "alice",
    created_at: "2025-01-01T00:00:00.000Z",
    last_updated_at: "2025-01-01T00:00:00.000Z",
    public_inference: false,
    num_queued_items: 0,
    deployment_state: {
      min_workers: 1,
      max_workers: 1,
      per_worker: 10,
      concurrent_requests_per_worker: 10,
      available_workers: 1,
      unavailable_workers: 0,
    },
    resource_state: { cpus: 1, gpus: 0, memory: "1Gi", gpu_type: null, storage: "1Gi", nodes_per_worker: 1 },
    high_priority: null,
    prewarm: null,
    billing_tags: null,
    optimize_costs: null,
    task_expires_seconds: null,
    queue_message_timeout_seconds: null,
    forwarder_max_concurrency: null,
    ...overrides,
  };
}
