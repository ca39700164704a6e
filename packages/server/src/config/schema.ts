/**
 * The one configuration schema. Every setting has a key, an environment variable, a default and a
 * one-line description; `loadConfig` parses defaults, then an optional JSON file, then the environment,
 * then explicit overrides (CLI flags), once, into a frozen object. Nothing else reads `process.env`.
 *
 * `docs/configuration.md` lists every key; a test keeps it in step with this table.
 */

type Kind = "string" | "int" | "number" | "bool" | "enum" | "list";

interface Setting<T> {
  env: `LAUNCH_${string}`;
  kind: Kind;
  default: T;
  doc: string;
  values?: readonly string[];
  min?: number;
  /** Secret values are never logged or printed by `launch config`. */
  secret?: boolean;
}

const s = <T>(setting: Setting<T>): Setting<T> => setting;

export const SETTINGS = {
  host: s({
    env: "LAUNCH_HOST",
    kind: "string",
    default: "127.0.0.1",
    doc: "Address the gateway listens on.",
  }),
  port: s({
    env: "LAUNCH_PORT",
    kind: "int",
    default: 5001,
    min: 0,
    doc: "Port the gateway listens on (0 picks a free one).",
  }),
  dataDir: s({
    env: "LAUNCH_DATA_DIR",
    kind: "string",
    default: "./.launch",
    doc: "Directory for the embedded store, artifacts and the generated secrets key.",
  }),
  auth: s({
    env: "LAUNCH_AUTH",
    kind: "enum",
    values: ["keys", "open"] as const,
    default: "keys" as "keys" | "open",
    doc: "`keys`: API keys stored hashed. `open`: any key is its own user and team (development only).",
  }),
  store: s({
    env: "LAUNCH_STORE",
    kind: "enum",
    values: ["sqlite", "postgres"] as const,
    default: "sqlite" as "sqlite" | "postgres",
    doc: "Where keys, bundles and endpoints live. `sqlite`: one file, one server. `postgres`: the PostgreSQL database at LAUNCH_DATABASE_URL, shared by several servers.",
  }),
  databaseUrl: s({
    env: "LAUNCH_DATABASE_URL",
    kind: "string",
    default: "",
    secret: true,
    doc: "Store location. sqlite: empty for <dataDir>/launch.db, or `sqlite:<path>`. postgres (required): `postgres://user:password@host:5432/database`.",
  }),
  queue: s({
    env: "LAUNCH_QUEUE",
    kind: "enum",
    values: ["embedded", "redis"] as const,
    default: "embedded" as "embedded" | "redis",
    doc: "Where async tasks and callback deliveries wait. `embedded`: SQLite at <dataDir>/queue.db, one server. `redis`: the Redis at LAUNCH_REDIS_URL, shared by several servers (run Redis with AOF).",
  }),
  redisUrl: s({
    env: "LAUNCH_REDIS_URL",
    kind: "string",
    default: "",
    secret: true,
    doc: "The Redis of LAUNCH_QUEUE=redis (required then): `redis://[:password@]host:6379[/db]`, or `rediss://` for TLS.",
  }),
  redisPrefix: s({
    env: "LAUNCH_REDIS_PREFIX",
    kind: "string",
    default: "launch",
    doc: "Prefix of every Redis key and channel of LAUNCH_QUEUE=redis. Servers sharing a queue use the same one; deployments sharing a Redis use different ones.",
  }),
  secretsKey: s({
    env: "LAUNCH_SECRETS_KEY",
    kind: "string",
    default: "",
    secret: true,
    doc: "Base64 of 32 bytes that encrypt callback credentials at rest. Empty: generated into <dataDir>/secrets.key.",
  }),
  publicUrl: s({
    env: "LAUNCH_PUBLIC_URL",
    kind: "string",
    default: "",
    doc: "Base URL clients use to reach this server (for upload URLs). Empty: http://<host>:<port>.",
  }),
  bodyLimitBytes: s({
    env: "LAUNCH_BODY_LIMIT_BYTES",
    kind: "int",
    default: 10 * 1024 * 1024,
    min: 1024,
    doc: "Largest request body the gateway accepts; larger bodies get 413 naming the limit.",
  }),
  uploadLimitBytes: s({
    env: "LAUNCH_UPLOAD_LIMIT_BYTES",
    kind: "int",
    default: 2 * 1024 * 1024 * 1024,
    min: 1024,
    doc: "Largest artifact accepted by an upload URL.",
  }),
  uploadUrlTtlSeconds: s({
    env: "LAUNCH_UPLOAD_URL_TTL_SECONDS",
    kind: "int",
    default: 3600,
    min: 1,
    doc: "How long an upload URL handed out by /v1/hosted_inference/model_bundle_upload stays valid.",
  }),
  logLevel: s({
    env: "LAUNCH_LOG_LEVEL",
    kind: "enum",
    values: ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const,
    default: "info" as "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent",
    doc: "Log level of the server's JSON logs (stdout).",
  }),
  resultsAsString: s({
    env: "LAUNCH_RESULTS_AS_STRING",
    kind: "bool",
    default: false,
    doc: "Return non-streaming model outputs as JSON strings, byte-identical with the reference server.",
  }),
  orchestration: s({
    env: "LAUNCH_ORCHESTRATION",
    kind: "enum",
    values: ["local", "external", "none"] as const,
    default: "local" as "local" | "external" | "none",
    doc: "`local`: run worker processes on this machine. `external`: start none; `launch-worker --endpoint <id>` processes on any host register themselves. `none`: run no workers (endpoints become READY at once; control-plane only).",
  }),
  roles: s({
    env: "LAUNCH_ROLES",
    kind: "list",
    default: ["all"] as string[],
    doc: "What this process does: `gateway` (the API), `controller` (queue housekeeping and workers; one acts at a time), `dispatcher` (callbacks), or `all`. Comma-separated. Processes without `gateway` serve only /healthz and /metrics.",
  }),
  controllerLeaseSeconds: s({
    env: "LAUNCH_CONTROLLER_LEASE_SECONDS",
    kind: "int",
    default: 10,
    min: 1,
    doc: "How long the acting controller's lease lasts without renewal; another controller takes over within about this long after it dies.",
  }),
  workerHeartbeatSeconds: s({
    env: "LAUNCH_WORKER_HEARTBEAT_SECONDS",
    kind: "int",
    default: 2,
    min: 1,
    doc: "How often external workers heartbeat. One silent for 5 heartbeats is dropped (not counted, not sent sync requests).",
  }),
  artifactsDir: s({
    env: "LAUNCH_ARTIFACTS_DIR",
    kind: "string",
    default: "",
    doc: "Where uploaded artifacts and pickled results are kept. Empty: <dataDir>/artifacts. Several gateways must share one directory (a shared volume).",
  }),
  workerIdleSeconds: s({
    env: "LAUNCH_WORKER_IDLE_SECONDS",
    kind: "int",
    default: 300,
    min: 1,
    doc: "An async endpoint with min_workers 0 stops its last worker after this long without tasks.",
  }),
  workerScaleDownSeconds: s({
    env: "LAUNCH_WORKER_SCALE_DOWN_SECONDS",
    kind: "int",
    default: 30,
    min: 0,
    doc: "How long demand must stay below the running workers before one is stopped.",
  }),
  workerDrainSeconds: s({
    env: "LAUNCH_WORKER_DRAIN_SECONDS",
    kind: "int",
    default: 30,
    min: 0,
    doc: "Grace period for a stopping worker to finish in-flight tasks; the rest go back to the queue.",
  }),
  workerReadinessMarginSeconds: s({
    env: "LAUNCH_WORKER_READINESS_MARGIN_SECONDS",
    kind: "int",
    default: 30,
    min: 0,
    doc: "Seconds beyond a bundle's readiness_initial_delay_seconds before a starting worker counts as failed.",
  }),
  python: s({
    env: "LAUNCH_PYTHON",
    kind: "string",
    default: "python3",
    doc: "Interpreter that runs Python bundles (cloudpickle_artifact, Python zip_artifact). It needs cloudpickle and the Python minor version the bundles were pickled with.",
  }),
  pythonInstallTimeoutSeconds: s({
    env: "LAUNCH_PYTHON_INSTALL_TIMEOUT_SECONDS",
    kind: "int",
    default: 300,
    min: 1,
    doc: "Seconds a Python bundle's missing requirements may take to install into its virtualenv before the endpoint fails.",
  }),
  workerMaxRestarts: s({
    env: "LAUNCH_WORKER_MAX_RESTARTS",
    kind: "int",
    default: 5,
    min: 0,
    doc: "Consecutive failed starts or crashes before an endpoint goes to UPDATE_FAILED and its workers stop.",
  }),
  taskMaxAttempts: s({
    env: "LAUNCH_TASK_MAX_ATTEMPTS",
    kind: "int",
    default: 3,
    min: 1,
    doc: "Leases an async task gets before it fails for good (a worker that dies mid-task costs one).",
  }),
  taskLeaseSeconds: s({
    env: "LAUNCH_TASK_LEASE_SECONDS",
    kind: "int",
    default: 30,
    min: 1,
    doc: "How long a worker's lease on a task lasts unless renewed; a dead worker's task returns after this.",
  }),
  resultRetentionSeconds: s({
    env: "LAUNCH_RESULT_RETENTION_SECONDS",
    kind: "int",
    default: 86400,
    min: 1,
    doc: "How long finished async tasks and their results are kept before they are deleted.",
  }),
  callbackSecretGraceSeconds: s({
    env: "LAUNCH_CALLBACK_SECRET_GRACE_SECONDS",
    kind: "int",
    default: 86400,
    min: 0,
    doc: "After a signing secret rotation, how long the previous secret keeps signing callbacks too.",
  }),
  callbackTimeoutSeconds: s({
    env: "LAUNCH_CALLBACK_TIMEOUT_SECONDS",
    kind: "number",
    default: 10,
    min: 0.001,
    doc: "Time allowed for one callback attempt: connect, TLS handshake and the receiver's whole answer.",
  }),
  callbackConcurrency: s({
    env: "LAUNCH_CALLBACK_CONCURRENCY",
    kind: "int",
    default: 64,
    min: 1,
    doc: "Callback attempts the dispatcher runs at once, across all receivers.",
  }),
  callbackPerOriginConcurrency: s({
    env: "LAUNCH_CALLBACK_PER_ORIGIN_CONCURRENCY",
    kind: "int",
    default: 8,
    min: 1,
    doc: "Callback attempts at once to one origin (scheme://host:port), so a slow receiver cannot hold every slot.",
  }),
  callbackRetrySchedule: s({
    env: "LAUNCH_CALLBACK_RETRY_SCHEDULE",
    kind: "string",
    default: "5,30,120,600,1800,3600,7200,14400,28800,43200",
    doc: "Comma-separated seconds: the largest delay (full jitter) before each callback retry; after the last, the delivery fails.",
  }),
  callbackAllowPrivateNetworks: s({
    env: "LAUNCH_CALLBACK_ALLOW_PRIVATE_NETWORKS",
    kind: "bool",
    default: true,
    doc: "Allow callbacks to loopback and private networks (checked after DNS). Set false on multi-tenant installs.",
  }),
  callbackCaFile: s({
    env: "LAUNCH_CALLBACK_CA_FILE",
    kind: "string",
    default: "",
    doc: "PEM file of extra CA certificates trusted for callback receivers, besides the system CAs (read at start).",
  }),
} as const;

export type SettingKey = keyof typeof SETTINGS;

type ValueOf<K extends SettingKey> = (typeof SETTINGS)[K]["default"];

/** The parsed, frozen configuration. */
export type LaunchConfig = { readonly [K in SettingKey]: ValueOf<K> };

export type ConfigOverrides = { [K in SettingKey]?: ValueOf<K> | undefined };
