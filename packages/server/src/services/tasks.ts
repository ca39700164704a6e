/**
 * Async tasks: submit (`POST /v1/async-tasks`) and read (`GET /v1/async-tasks/{id}`, with an optional long
 * poll).
 *
 * A submit checks the endpoint (`task-endpoint.ts`) and the request (`predict-request.ts`) first, then
 * puts the task on the endpoint's queue with its callback (resolved now from the endpoint's hooks and
 * defaults and the task's overrides, so an edit of the endpoint applies to tasks submitted after it), and
 * answers only once the queue has made it durable; then it tells the orchestrator that work arrived (to
 * scale from zero without waiting for its next tick).
 *
 * A task belongs to the team that submitted it: with `public_inference`, another team's task on your
 * endpoint is theirs to read, not yours. Another team's task answers 404 like an unknown one [ext: the
 * reference server reads any task id].
 */
import {
  type AsyncTaskCreated,
  LaunchError,
  newId,
  type PredictRequest,
  type TaskResponse,
} from "@launch/protocol";
import type { LaunchConfig } from "../config/schema.js";
import type { SecretsBox } from "../domain/secrets-box.js";
import type { Orchestrator } from "../orchestration/port.js";
import type { TaskQueue } from "../queue/port.js";
import type { Store } from "../store/port.js";
import { resolveCallbackSpec } from "./callback-spec.js";
import type { Caller } from "./endpoints.js";
import { checkPredictRequest, taskPayload } from "./predict-request.js";
import { taskEndpoint } from "./task-endpoint.js";
import { taskView } from "./task-view.js";

/**
 * How long a queued task waits for a worker before it expires (UNDEFINED) when its endpoint sets no
 * `task_expires_seconds`: one day, the reference server's default.
 */
export const DEFAULT_TASK_EXPIRES_SECONDS = 86_400;

export interface TaskServiceDeps {
  store: Pick<Store, "getEndpoint">;
  queue: TaskQueue;
  secrets: SecretsBox;
  orchestrator: Pick<Orchestrator, "notifyWork">;
  config: Pick<LaunchConfig, "taskMaxAttempts" | "resultsAsString">;
  now: () => Date;
}

/**
 * The async task use cases.
 *
 * @example
 * const tasks = new TaskService({ store, queue, secrets, orchestrator, config, now: () => new Date() });
 * const { task_id } = await tasks.submit(caller, "end_…", { args: { x: 2, y: "hello" } });
 * const view = await tasks.get(caller, task_id, { waitMs: 30_000 });
 */
export class TaskService {
  readonly #deps: TaskServiceDeps;

  constructor(deps: TaskServiceDeps) {
    this.#deps = deps;
  }

  /** Queues a task on an async endpoint; resolves once it is durable. */
  async submit(caller: Caller, endpointId: string, body: PredictRequest): Promise<AsyncTaskCreated> {
    const { queue, secrets, config, orchestrator } = this.#deps;
    const endpoint = await taskEndpoint(this.#deps.store, caller, endpointId, "async");
    const checked = checkPredictRequest(body);
    const expiresSeconds = endpoint.spec.taskExpiresSeconds ?? DEFAULT_TASK_EXPIRES_SECONDS;
    const payload = taskPayload(checked, secrets);
    const record = await queue.enqueue({
      id: newId("task"),
      queue: endpoint.id,
      owner: caller.teamId,
      createdBy: caller.userId,
      payload,
      // The callback as the endpoint says now, with the task's overrides (`callback-spec.ts`).
      callback: resolveCallbackSpec(endpoint, payload.callback),
      maxAttempts: config.taskMaxAttempts,
      expiresAt: this.#deps.now().getTime() + expiresSeconds * 1000,
    });
    orchestrator.notifyWork(endpoint.id);
    return { task_id: record.id };
  }

  /**
   * The task as the client sees it. With `waitMs`, waits up to that long for it to finish (aborted by
   * `signal`, when the client goes away) and answers with its state then.
   */
  async get(
    caller: Caller,
    taskId: string,
    options: { waitMs?: number; signal?: AbortSignal } = {},
  ): Promise<TaskResponse> {
    const { queue, config } = this.#deps;
    const waitMs = options.waitMs ?? 0;
    // With a wait, one read serves both the ownership check and the wait: the queue answers another
    // team's task at once, so nobody can wait on it.
    const record =
      waitMs > 0
        ? await queue.waitForFinish(taskId, waitMs, options.signal, { owner: caller.teamId })
        : await queue.get(taskId);
    if (!record || record.owner !== caller.teamId) throw taskNotFound(taskId);
    return taskView(record, { resultsAsString: config.resultsAsString });
  }
}

function taskNotFound(taskId: string): LaunchError {
  return new LaunchError(
    "not_found",
    `Task not found: ${taskId} (unknown, another team's, or deleted after the result retention).`,
  );
}
