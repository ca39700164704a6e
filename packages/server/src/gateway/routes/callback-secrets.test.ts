/**
 * `GET` / `POST /v1/model-endpoints/{id}/callback-secret` on a real server (real HTTP, real SQLite). The
 * grace period with a moving clock is tested in `services/callback-secrets.test.ts`; here, the signing
 * keys the dispatcher would use are read from the server's own store.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SecretsBox } from "../../domain/secrets-box.js";
import { CallbackSecretService } from "../../services/callback-secrets.js";
import { startTestServer, type TestServer } from "../../testing/server.js";
import { newTeamEndpoint, newTeam as newTestTeam, type TestTeam } from "../../testing/teams.js";

const NO_WORKERS = { orchestration: "none" } as const;
const DAY_MS = 86_400_000;

let server: TestServer;

type Team = TestTeam;

const newTeam = (on: TestServer = server): Promise<Team> => newTestTeam(on);

const newEndpoint = (team: Team, on: TestServer = server): Promise<string> =>
  newTeamEndpoint(on, team, {
    post_inference_hooks: ["callback"],
    default_callback_url: "https://example.com/hook",
  });

/** The dispatcher's view: signing keys read from the server's store with the server's secrets key. */
function signingKeys(on: TestServer = server): CallbackSecretService {
  return new CallbackSecretService({
    store: on.store,
    secrets: SecretsBox.fromConfig({ secretsKey: on.config.secretsKey, dataDir: on.dataDir }),
    config: on.config,
    now: () => new Date(),
    cacheMs: 0,
  });
}

const secretPath = (id: string) => `/v1/model-endpoints/${id}/callback-secret`;

beforeAll(async () => {
  server = await startTestServer({ overrides: NO_WORKERS });
});

afterAll(async () => {
  await server?.close();
});

describe("GET /v1/model-endpoints/{id}/callback-secret", () => {
  it("answers the whsec_ secret every endpoint gets at create, uncached, and the one that signs", async () => {
    const team = await newTeam();
    const id = await newEndpoint(team);
    const res = await server.request("GET", secretPath(id), { key: team.key });
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(Object.keys(res.body).sort()).toEqual(["previous_secret_expires_at", "secret"]);
    expect(res.body.secret).toMatch(/^whsec_[A-Za-z0-9+/]+={0,2}$/);
    expect(res.body.previous_secret_expires_at).toBeNull();
    expect((await server.request("GET", secretPath(id), { key: team.key })).body).toEqual(res.body);
    expect(await signingKeys().secretsFor(id)).toEqual([res.body.secret]);
    // Under the Python client's prefix too.
    const aliased = await server.request("GET", `/v1/launch${secretPath(id)}`, { key: team.key });
    expect(aliased.body).toEqual(res.body);
  });

  it("is never part of the endpoint's view, its list, or an edit's answer; an edit keeps it", async () => {
    const team = await newTeam();
    const id = await newEndpoint(team);
    const { secret } = (await server.request("GET", secretPath(id), { key: team.key })).body;
    const sealed = (await server.store.getEndpoint(id))!.spec.callbackSecret!.current;
    const texts: string[] = [];
    for (const [method, path, body] of [
      ["GET", `/v1/model-endpoints/${id}`, undefined],
      ["GET", "/v1/model-endpoints", undefined],
      [
        "PUT",
        `/v1/model-endpoints/${id}`,
        { labels: { edited: "yes" }, default_callback_url: "https://x.io" },
      ],
    ] as const) {
      const response = await fetch(`${server.url}${path}`, {
        method,
        headers: {
          authorization: `Basic ${Buffer.from(`${team.key}:`).toString("base64")}`,
          ...(body ? { "content-type": "application/json" } : {}),
        },
        body: body ? JSON.stringify(body) : undefined,
      });
      expect(response.status).toBe(200);
      texts.push(await response.text());
    }
    for (const text of texts) {
      expect(text).not.toContain(secret.slice("whsec_".length));
      expect(text).not.toContain(sealed);
      expect(text).not.toMatch(/whsec_|callback_?secret/i);
    }
    expect((await server.request("GET", secretPath(id), { key: team.key })).body.secret).toBe(secret);
  });

  it("answers 404 for another team's endpoint and an unknown one, 401 without a key", async () => {
    const owner = await newTeam();
    const other = await newTeam();
    const id = await newEndpoint(owner);
    const theirs = await server.request("GET", secretPath(id), { key: other.key });
    expect(theirs.status).toBe(404);
    expect(JSON.stringify(theirs.body)).not.toContain("whsec_");
    expect((await server.request("GET", secretPath("end_unknown"), { key: owner.key })).status).toBe(404);
    expect((await server.request("GET", secretPath(id))).status).toBe(401);
  });
});

describe("POST /v1/model-endpoints/{id}/callback-secret", () => {
  it("rotates: answers a new secret; old and new both sign during the grace (a day by default)", async () => {
    const team = await newTeam();
    const id = await newEndpoint(team);
    const before = (await server.request("GET", secretPath(id), { key: team.key })).body.secret;
    const startedAt = Date.now();
    const rotated = await server.request("POST", secretPath(id), { key: team.key });
    expect(rotated.status).toBe(200);
    expect(rotated.headers.get("cache-control")).toBe("no-store");
    expect(rotated.body.secret).toMatch(/^whsec_/);
    expect(rotated.body.secret).not.toBe(before);
    const expires = Date.parse(rotated.body.previous_secret_expires_at);
    expect(expires).toBeGreaterThanOrEqual(startedAt + DAY_MS);
    expect(expires).toBeLessThanOrEqual(Date.now() + DAY_MS);
    expect((await server.request("GET", secretPath(id), { key: team.key })).body).toEqual(rotated.body);
    expect(await signingKeys().secretsFor(id)).toEqual([rotated.body.secret, before]);
    // It survives a restart (sealed in the store).
    await server.restart();
    expect((await server.request("GET", secretPath(id), { key: team.key })).body).toEqual(rotated.body);
    expect(await signingKeys().secretsFor(id)).toEqual([rotated.body.secret, before]);
  });

  it("with a zero grace, the previous secret stops signing at once", async () => {
    const quick = await startTestServer({ overrides: { ...NO_WORKERS, callbackSecretGraceSeconds: 0 } });
    try {
      const team = await newTeam(quick);
      const id = await newEndpoint(team, quick);
      const rotated = await quick.request("POST", secretPath(id), { key: team.key });
      expect(rotated.status).toBe(200);
      expect(rotated.body.previous_secret_expires_at).toBeNull();
      expect(await signingKeys(quick).secretsFor(id)).toEqual([rotated.body.secret]);
    } finally {
      await quick.close();
    }
  });

  it("answers 404 for another team's endpoint and changes nothing", async () => {
    const owner = await newTeam();
    const other = await newTeam();
    const id = await newEndpoint(owner);
    const before = (await server.request("GET", secretPath(id), { key: owner.key })).body;
    const res = await server.request("POST", secretPath(id), { key: other.key });
    expect(res.status).toBe(404);
    expect(JSON.stringify(res.body)).not.toContain("whsec_");
    expect((await server.request("GET", secretPath(id), { key: owner.key })).body).toEqual(before);
  });
});

describe("logs", () => {
  it("never carry a signing secret, even at trace level", async () => {
    const logged = await startTestServer({
      captureLogs: true,
      overrides: { ...NO_WORKERS, logLevel: "trace" },
    });
    try {
      const team = await newTeam(logged);
      const id = await newEndpoint(team, logged);
      const seen = [(await logged.request("GET", secretPath(id), { key: team.key })).body.secret];
      seen.push((await logged.request("POST", secretPath(id), { key: team.key })).body.secret);
      seen.push(...(await signingKeys(logged).secretsFor(id)));
      expect(logged.logs.length).toBeGreaterThan(0);
      const all = logged.logs.join("\n");
      expect(all).not.toContain("whsec_");
      for (const secret of seen) expect(all).not.toContain(secret.slice("whsec_".length));
    } finally {
      await logged.close();
    }
  });
});
