/** Wire types of tasks (`wire-protocol.md` §5). Filled out by the execution issue. */
import type { CallbackAuth, CallbackEvent } from "./endpoints.js";

export const TASK_STATUSES = ["PENDING", "STARTED", "SUCCESS", "FAILURE", "UNDEFINED"] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export interface PredictRequest {
  url?: string | null;
  args?: unknown;
  cloudpickle?: string | null;
  callback_url?: string | null;
  callback_auth?: CallbackAuth | null;
  /** [ext] */
  callback_events?: CallbackEvent[] | null;
  return_pickled?: boolean;
  destination_path?: string | null;
}

export interface SyncPredictRequest extends PredictRequest {
  timeout_seconds?: number | null;
  num_retries?: number | null;
}

export interface TaskResponse {
  task_id: string;
  status: TaskStatus;
  result: unknown;
  traceback: string | null;
  status_code: number | null;
}

export interface SyncTaskResponse {
  status: TaskStatus;
  result: unknown;
  traceback: string | null;
  status_code: number | null;
}

/** The answer to `POST /v1/async-tasks`, sent once the task is durable. */
export interface AsyncTaskCreated {
  task_id: string;
}
