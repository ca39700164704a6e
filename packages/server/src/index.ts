/**
 * `@launch/server`: the Launch gateway and control plane. Start it with `startServer(loadConfig())`,
 * or from the command line with `launch serve` / `launch-server`.
 */
export type { ArtifactInfo, ArtifactStore } from "./artifacts/port.js";
export { formatLocation, parseLocation } from "./artifacts/port.js";
export { type Composition, compose, type LogDestination } from "./compose.js";
export { describeConfig, type LoadConfigOptions, loadConfig } from "./config/load.js";
export { type ConfigOverrides, type LaunchConfig, SETTINGS, type SettingKey } from "./config/schema.js";
export { buildGateway, type Gateway, type GatewayOptions } from "./gateway/app.js";
export type { GatewayDeps, GatewayServices } from "./gateway/deps.js";
export type { Principal } from "./gateway/principal.js";
export { type RunningServer, type StartServerOptions, startServer } from "./server.js";
export { type CreatedKey, createKey, type KeySummary, listKeys, revokeKey } from "./services/keys.js";
export { type ResolvedArtifact, readLocation, resolveLocation } from "./services/uploads.js";
export {
  type CopiedKind,
  type CopiedRecord,
  type CopyOutcome,
  copyStore,
  copyStoreBetween,
  type KindCounts,
  type StoreCopyReport,
  type StoreCopyResult,
  storeLabel,
  storeSettingsFromUrl,
} from "./store/copy.js";
export { openStore } from "./store/open.js";
export type { BundleRecord, EndpointRecord, KeyRecord, KeyRole, Store } from "./store/port.js";
export { createTestSchema, probeTestDatabase, type TestSchema } from "./store/postgres/test-database.js";
export {
  basicAuth,
  type StartTestServerOptions,
  startTestServer,
  type TestRequestInit,
  type TestResponse,
  type TestServer,
} from "./testing/server.js";
