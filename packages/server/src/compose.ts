/**
 * The composition root: the one place that picks adapters from configuration and wires them into the
 * gateway. Services and routes only see ports (`Store`, `ArtifactStore`) through `GatewayDeps`.
 */
import { randomBytes } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { hostname } from "node:os";
import { join, resolve } from "node:path";
import type { FastifyInstance, FastifyServerOptions } from "fastify";
import { FilesystemArtifactStore } from "./artifacts/filesystem.js";
import type { ArtifactStore } from "./artifacts/port.js";
import { CallbackDispatcher } from "./callbacks/dispatcher.js";
import type { CallbackOutbox } from "./callbacks/port.js";
import { rolesOf } from "./config/roles.js";
import type { LaunchConfig } from "./config/schema.js";
import { openCoordination } from "./coordination/open.js";
import { SecretsBox } from "./domain/secrets-box.js";
import { ControllerLease } from "./execution/controller-lease.js";
import { LocalOrchestrator } from "./execution/local-orchestrator.js";
import { QueueSweeper } from "./execution/sweeper.js";
import { buildGateway } from "./gateway/app.js";
import type { GatewayDeps } from "./gateway/deps.js";
import { MetricsRegistry } from "./metrics/registry.js";
import { ExternalOrchestrator } from "./orchestration/external.js";
import { ImmediateOrchestrator } from "./orchestration/immediate.js";
import type { Orchestrator } from "./orchestration/port.js";
import { openTaskQueue } from "./queue/open.js";
import type { TaskQueue } from "./queue/port.js";
import { CallbackSecretService } from "./services/callback-secrets.js";
import { withTaskMetrics } from "./services/task-metrics.js";
import { openStore } from "./store/open.js";
import type { Store } from "./store/port.js";

/** Somewhere JSON log lines can be written (a pino destination): stdout by default. */
export interface LogDestination {
  write(line: string): void;
}

export interface ComposeOptions {
  logDestination?: LogDestination | undefined;
  /** The clock; tests may replace it. */
  now?: () => Date;
}

/** The built, not yet listening, server and everything it owns. */
export interface Composition {
  app: FastifyInstance;
  deps: GatewayDeps;
  /**
   * Stops the queue sweeper, closes the gateway and the orchestrator, stops the callback dispatcher, then
   * closes the task queue (and its outbox), the artifact store and the store.
   */
  close(): Promise<void>;
}

/**
 * Builds the server from configuration: creates the data directory, opens the store, the artifact
 * store (`<dataDir>/artifacts`), the task queue (`<dataDir>/queue.db`, or Redis with LAUNCH_QUEUE=redis; swept about once a second; it is
 * also the callback outbox), the secrets box and the logger, builds the gateway, and starts the callback
 * dispatcher (on a single node the same process sends callbacks). On failure it closes whatever it had
 * opened, so nothing is left half-open.
 */
export async function compose(config: LaunchConfig, options: ComposeOptions = {}): Promise<Composition> {
  const dataDir = resolve(config.dataDir);
  await mkdir(dataDir, { recursive: true });
  const closers: (() => Promise<void>)[] = [];
  const closeAll = async (): Promise<void> => {
    const errors: unknown[] = [];
    for (const close of closers.splice(0).reverse()) {
      try {
        await close();
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, "closing the server failed");
  };
  try {
    const secrets = SecretsBox.fromConfig({ secretsKey: config.secretsKey, dataDir });
    const store: Store = await openStore(config);
    closers.push(() => store.close());
    const roles = rolesOf(config);
    const coordination = await openCoordination(config);
    closers.push(() => coordination.close());
    // Several processes on one store: endpoint changes travel through the coordination, so each caches.
    if (coordination.endpointChanges) store.shareEndpointChanges?.(coordination.endpointChanges);
    // Several gateways must share one artifacts directory (LAUNCH_ARTIFACTS_DIR on a shared volume).
    const artifactsDir = config.artifactsDir ? resolve(config.artifactsDir) : join(dataDir, "artifacts");
    const artifacts: ArtifactStore = new FilesystemArtifactStore(artifactsDir);
    await artifacts.ready();
    closers.push(() => artifacts.close());
    // What `GET /metrics` renders: task counters (counted at the queue port) and the dispatcher's.
    const metrics = new MetricsRegistry();
    // LAUNCH_QUEUE: embedded (<dataDir>/queue.db) or redis (LAUNCH_REDIS_URL).
    const backend = await openTaskQueue(config, { dataDir });
    const queue: TaskQueue = withTaskMetrics(backend, metrics);
    // The queue is its own callback outbox: a task's delivery is written with its result.
    const outbox: CallbackOutbox = backend;
    closers.push(() => queue.close());
    // Stopped after the gateway and the workers (their last results may still call back), before the
    // queue closes.
    let dispatcher: CallbackDispatcher | undefined;
    closers.push(async () => {
      await dispatcher?.stop();
    });
    await queue.ready();
    const now = options.now ?? (() => new Date());
    const callbackSecrets = new CallbackSecretService({ store, secrets, config, now });
    // `local`: worker processes on this machine; `external`: workers on any host register themselves;
    // `none`: no workers (control plane only).
    const local =
      config.orchestration === "local"
        ? new LocalOrchestrator({ config, store, queue, artifacts })
        : undefined;
    const orchestrator: Orchestrator =
      local ??
      (config.orchestration === "external"
        ? new ExternalOrchestrator({ store, workers: coordination.workers, now })
        : new ImmediateOrchestrator({ store, now }));
    closers.push(() => orchestrator.close());
    const { app, deps } = await buildGateway(
      {
        config,
        store,
        artifacts,
        secrets,
        orchestrator,
        queue,
        outbox,
        callbackSecrets,
        metrics,
        workers: coordination.workers,
        now,
      },
      { logger: loggerOptions(config, options.logDestination), routes: roles.has("gateway") ? "all" : "ops" },
    );
    // Closers run in reverse: on close the gateway stops taking requests first, then the workers drain
    // (their results still reach the queue), then the queue and the stores close.
    closers.push(() => app.close());
    local?.useLog(app.log.child({ component: "controller" }));
    if (roles.has("controller")) {
      await orchestrator.ready();
      // One controller acts at a time: the holder of the controller lease sweeps the queue (expired
      // leases, expired tasks, old results); the others stand by.
      const lease = new ControllerLease({
        leases: coordination.leases,
        holder: `${hostname()}:${process.pid}:${randomBytes(4).toString("hex")}`,
        ttlMs: config.controllerLeaseSeconds * 1000,
        log: app.log.child({ component: "controller" }),
      });
      await lease.start();
      const sweeper = new QueueSweeper({
        queue,
        log: app.log.child({ component: "queue-sweeper" }),
        active: () => lease.leading,
      });
      sweeper.start();
      closers.push(async () => {
        await sweeper.stop();
        await lease.stop();
      });
    }
    if (roles.has("dispatcher")) {
      dispatcher = CallbackDispatcher.fromConfig(config, {
        outbox,
        secrets,
        signingKeys: callbackSecrets,
        metrics,
        log: app.log.child({ component: "dispatcher" }),
      });
      dispatcher.start();
    }
    return { app, deps, close: closeAll };
  } catch (error) {
    await closeAll().catch(() => {});
    throw error;
  }
}

/**
 * Pino options for the gateway: JSON lines at the configured level, the Authorization header redacted,
 * upload tokens cut from logged URLs, and no request or response bodies.
 */
export function loggerOptions(
  config: Pick<LaunchConfig, "logLevel">,
  destination?: LogDestination,
): FastifyServerOptions["logger"] {
  return {
    level: config.logLevel,
    redact: { paths: ["req.headers.authorization", "headers.authorization"], censor: "[redacted]" },
    serializers: {
      req: (request: { method?: string; url?: string; ip?: string; host?: string }) => ({
        method: request.method,
        url: redactUrl(request.url),
        host: request.host,
        remoteAddress: request.ip,
      }),
    },
    ...(destination ? { stream: destination } : {}),
  };
}

/** Upload URLs carry their grant in the path; logs keep the route, not the grant. */
function redactUrl(url: string | undefined): string | undefined {
  return url?.replace(/(\/v1\/uploads\/)[^/?#]+/, "$1[redacted]");
}
