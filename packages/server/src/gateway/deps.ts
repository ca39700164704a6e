import type { FastifyBaseLogger } from "fastify";
import type { ArtifactStore } from "../artifacts/port.js";
import type { CallbackOutbox } from "../callbacks/port.js";
import type { LaunchConfig } from "../config/schema.js";
import type { WorkerRegistry } from "../coordination/port.js";
import type { SecretsBox } from "../domain/secrets-box.js";
import type { MetricsRegistry } from "../metrics/registry.js";
import type { Orchestrator } from "../orchestration/port.js";
import type { TaskQueue } from "../queue/port.js";
import type { CallbackSecretService } from "../services/callback-secrets.js";
import type { Store } from "../store/port.js";

/** Everything the gateway's routes and services need, built once by the composition root. */
export interface GatewayDeps {
  config: LaunchConfig;
  store: Store;
  artifacts: ArtifactStore;
  secrets: SecretsBox;
  /** Turns endpoints' desired state into workers and reports worker counts. */
  orchestrator: Orchestrator;
  /** The durable queue of async tasks (one queue per endpoint, named by its id). */
  queue: TaskQueue;
  /** Durable callback deliveries and their attempts (the delivery log); the dispatcher sends them. */
  outbox: CallbackOutbox;
  /** Endpoints' callback signing secrets; the same instance signs for the dispatcher. */
  callbackSecrets: CallbackSecretService;
  /** What `GET /metrics` renders (the dispatcher's and the task counters). */
  metrics: MetricsRegistry;
  /** External workers that registered (`LAUNCH_ORCHESTRATION=external`); shared by every gateway. */
  workers: WorkerRegistry;
  /** The current time; tests may replace it. */
  now: () => Date;
  /** The gateway's logger (pino); routes prefer `request.log`, which carries the request id. */
  log: FastifyBaseLogger;
}

/** What the composition root hands to `buildGateway`; the gateway adds its own logger. */
export type GatewayServices = Omit<GatewayDeps, "log">;
