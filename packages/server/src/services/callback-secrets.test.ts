/**
 * Signing secrets on a real SQLite store, with a clock the test moves (so the grace period is checked
 * without waiting). The routes are tested on a real server in `gateway/routes/callback-secrets.test.ts`.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateWebhookSecret, isLaunchError, newId } from "@launch/protocol";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SecretsBox } from "../domain/secrets-box.js";
import type { EndpointRecord, Store } from "../store/port.js";
import { openSqliteStore } from "../store/sqlite/sqlite-store.js";
import { CallbackSecretService, newCallbackSecret } from "./callback-secrets.js";

const GRACE_SECONDS = 600;
const OWNER = { userId: "u1", teamId: "team-a" };
const OTHER = { userId: "u2", teamId: "team-b" };

let dir: string;
let store: Store;
let box: SecretsBox;
let clock: number;

function service(cacheMs = 0): CallbackSecretService {
  return new CallbackSecretService({
    store,
    secrets: box,
    config: { callbackSecretGraceSeconds: GRACE_SECONDS },
    now: () => new Date(clock),
    cacheMs,
  });
}

/** An endpoint as stored; `legacy` ones predate signing secrets (no `callbackSecret` in the spec). */
async function insertEndpoint(options: { legacy?: boolean } = {}): Promise<EndpointRecord> {
  const at = new Date(clock).toISOString();
  const record: EndpointRecord = {
    id: newId("endpoint"),
    owner: OWNER.teamId,
    createdBy: OWNER.userId,
    name: `ep-${randomBytes(4).toString("hex")}`,
    endpointType: "async",
    status: "READY",
    statusReason: null,
    spec: {
      modelBundleId: newId("bundle"),
      metadata: {},
      cpus: 1,
      gpus: 0,
      memory: "1Gi",
      storage: "1Gi",
      gpuType: null,
      minWorkers: 1,
      maxWorkers: 1,
      perWorker: 1,
      concurrentRequestsPerWorker: null,
      labels: {},
      postInferenceHooks: ["callback"],
      defaultCallbackUrl: null,
      defaultCallbackAuth: null,
      callbackEvents: null,
      publicInference: false,
      highPriority: null,
      prewarm: null,
      billingTags: null,
      optimizeCosts: null,
      forwarderMaxConcurrency: null,
      taskExpiresSeconds: null,
      queueMessageTimeoutSeconds: null,
      nodesPerWorker: 1,
      ...(options.legacy ? {} : { callbackSecret: newCallbackSecret(box) }),
    },
    version: 1,
    createdAt: at,
    lastUpdatedAt: at,
  };
  await store.insertEndpoint(record);
  return record;
}

async function expectNotFound(promise: Promise<unknown>): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isLaunchError(error) && error.code).toBe("not_found");
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "launch-secrets-"));
  store = await openSqliteStore({ file: join(dir, "launch.db") });
  box = new SecretsBox(randomBytes(32));
  clock = Date.parse("2030-01-01T00:00:00.000Z");
});

afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

describe("CallbackSecretService", () => {
  it("reads the secret made at create, sealed in the store (never in clear)", async () => {
    const endpoint = await insertEndpoint();
    const secrets = service();
    const read = await secrets.read(OWNER, endpoint.id);
    expect(read.secret).toMatch(/^whsec_[A-Za-z0-9+/]+={0,2}$/);
    expect(read.secret).not.toBe(generateWebhookSecret());
    expect(read.previous_secret_expires_at).toBeNull();
    expect(box.open(endpoint.spec.callbackSecret!.current)).toBe(read.secret);
    expect(await secrets.secretsFor(endpoint.id)).toEqual([read.secret]);
    await store.close();
    const raw = await readFile(join(dir, "launch.db"));
    expect(raw.includes(Buffer.from(read.secret.slice("whsec_".length)))).toBe(false);
    store = await openSqliteStore({ file: join(dir, "launch.db") });
  });

  it("gives an endpoint without a secret one on first read, written through, without touching last_updated_at", async () => {
    const endpoint = await insertEndpoint({ legacy: true });
    clock += 5_000;
    // Two first reads at once (one by the owner, one by the dispatcher) agree on one secret.
    const [a, b] = await Promise.all([service().read(OWNER, endpoint.id), service().secretsFor(endpoint.id)]);
    expect(b).toEqual([a.secret]);
    const stored = await store.getEndpoint(endpoint.id);
    expect(box.open(stored!.spec.callbackSecret!.current)).toBe(a.secret);
    expect(stored!.lastUpdatedAt).toBe(endpoint.lastUpdatedAt);
    expect((await service().read(OWNER, endpoint.id)).secret).toBe(a.secret);
  });

  it("rotates: a new secret, both sign during the grace, the previous stops signing after it", async () => {
    const endpoint = await insertEndpoint();
    const secrets = service(60_000);
    const before = (await secrets.read(OWNER, endpoint.id)).secret;
    expect(await secrets.secretsFor(endpoint.id)).toEqual([before]);

    const rotated = await secrets.rotate(OWNER, endpoint.id);
    expect(rotated.secret).toMatch(/^whsec_/);
    expect(rotated.secret).not.toBe(before);
    expect(rotated.previous_secret_expires_at).toBe(new Date(clock + GRACE_SECONDS * 1000).toISOString());
    // The same instance forgets what it cached; another one reads the store.
    expect(await secrets.secretsFor(endpoint.id)).toEqual([rotated.secret, before]);
    expect(await service().secretsFor(endpoint.id)).toEqual([rotated.secret, before]);
    expect(await secrets.read(OWNER, endpoint.id)).toEqual(rotated);

    clock += GRACE_SECONDS * 1000 - 1;
    expect(await secrets.secretsFor(endpoint.id)).toEqual([rotated.secret, before]);
    clock += 1;
    expect(await secrets.secretsFor(endpoint.id)).toEqual([rotated.secret]);
    expect(await secrets.read(OWNER, endpoint.id)).toEqual({
      secret: rotated.secret,
      previous_secret_expires_at: null,
    });
  });

  it("keeps one previous secret: a second rotation within the grace drops the oldest", async () => {
    const endpoint = await insertEndpoint();
    const secrets = service();
    const first = (await secrets.read(OWNER, endpoint.id)).secret;
    const second = (await secrets.rotate(OWNER, endpoint.id)).secret;
    clock += 1_000;
    const third = (await secrets.rotate(OWNER, endpoint.id)).secret;
    expect(new Set([first, second, third]).size).toBe(3);
    expect(await secrets.secretsFor(endpoint.id)).toEqual([third, second]);
  });

  it("answers 404 for another team's endpoint and an unknown one; the dispatcher gets no secret for a gone one", async () => {
    const endpoint = await insertEndpoint();
    const secrets = service();
    await expectNotFound(secrets.read(OTHER, endpoint.id));
    await expectNotFound(secrets.rotate(OTHER, endpoint.id));
    await expectNotFound(secrets.read(OWNER, "end_unknown"));
    const before = (await secrets.read(OWNER, endpoint.id)).secret;
    expect(await secrets.secretsFor(endpoint.id)).toEqual([before]);
    expect(await store.deleteEndpoint(endpoint.id)).toBe(true);
    expect(await secrets.secretsFor(endpoint.id)).toEqual([]);
  });
});
