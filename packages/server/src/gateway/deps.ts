import type { FastifyBaseLogger } from "fastify";
import type { ArtifactStore } from "../artifacts/port.js";
import type { LaunchConfig } from "../config/schema.js";
import type { SecretsBox } from "../domain/secrets-box.js";
import type { Store } from "../store/port.js";

/** Everything the gateway's routes and services need, built once by the composition root. */
export interface GatewayDeps {
  config: LaunchConfig;
  store: Store;
  artifacts: ArtifactStore;
  secrets: SecretsBox;
  /** The current time; tests may replace it. */
  now: () => Date;
  log: FastifyBaseLogger;
}
