import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openStore } from "../store/open.js";
import type { Store } from "../store/port.js";
import { authenticate, createKey, hashKey, keyFromAuthorization, listKeys, revokeKey } from "./keys.js";

let dir: string;
let store: Store;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "launch-keys-"));
  store = await openStore({ databaseUrl: "", dataDir: dir });
});
afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

const basic = (key: string) => `Basic ${Buffer.from(`${key}:`).toString("base64")}`;

describe("keys", () => {
  it("are created once, stored as hashes, and listed without them", async () => {
    const { key, record } = await createKey(store, { userId: "alice", teamId: "ml" });
    expect(key).toMatch(/^lk_[A-Za-z0-9_-]{32}$/);
    expect(record).toMatchObject({ userId: "alice", teamId: "ml", role: "user", revokedAt: null });
    expect(record.hash).toBe(hashKey(key));
    const listed = await listKeys(store);
    expect(listed).toEqual([
      {
        id: record.id,
        prefix: key.slice(0, 10),
        userId: "alice",
        teamId: "ml",
        role: "user",
        createdAt: record.createdAt,
        revokedAt: null,
        lastUsedAt: null,
      },
    ]);
    expect(JSON.stringify(listed)).not.toContain(record.hash);
  });

  it("refuse user and team ids that are not simple names, naming the field", async () => {
    await expect(createKey(store, { userId: "a b", teamId: "ml" })).rejects.toMatchObject({
      code: "validation_failed",
      issues: [expect.objectContaining({ loc: ["body", "user_id"] })],
    });
    await expect(createKey(store, { userId: "a", teamId: "" })).rejects.toMatchObject({
      issues: [expect.objectContaining({ loc: ["body", "team_id"] })],
    });
    expect(await listKeys(store)).toEqual([]);
  });

  it("authenticate by Basic or Bearer until revoked by id or by prefix", async () => {
    const config = { auth: "keys" as const };
    const a = await createKey(store, { userId: "alice", teamId: "ml", role: "admin" });
    const b = await createKey(store, { userId: "bob", teamId: "ml" });
    expect(await authenticate(store, config, basic(a.key))).toEqual({
      userId: "alice",
      teamId: "ml",
      role: "admin",
      keyId: a.record.id,
    });
    expect((await authenticate(store, config, `Bearer ${b.key}`)).userId).toBe("bob");

    await revokeKey(store, a.record.id);
    await expect(authenticate(store, config, basic(a.key))).rejects.toMatchObject({
      code: "invalid_credentials",
      message: "Could not authenticate user",
    });
    await revokeKey(store, b.record.prefix);
    await expect(authenticate(store, config, basic(b.key))).rejects.toMatchObject({
      code: "invalid_credentials",
    });
    const listed = await listKeys(store);
    expect(listed.every((k) => k.revokedAt !== null)).toBe(true);
  });

  it("answer not_found when revoking a key that does not exist", async () => {
    await expect(revokeKey(store, "key_nope")).rejects.toMatchObject({
      code: "not_found",
      message: 'No API key has the id or prefix "key_nope"; see `launch keys list`.',
    });
    await expect(revokeKey(store, "  ")).rejects.toMatchObject({ code: "not_found" });
  });

  it("are read from Basic (key as username, empty password) and Bearer headers only", () => {
    expect(keyFromAuthorization(basic("lk_x"))).toBe("lk_x");
    expect(keyFromAuthorization("Bearer lk_y")).toBe("lk_y");
    expect(keyFromAuthorization("bearer lk_y")).toBe("lk_y");
    expect(keyFromAuthorization(`Basic ${Buffer.from(":pw").toString("base64")}`)).toBeUndefined();
    expect(keyFromAuthorization("Token lk_z")).toBeUndefined();
    expect(keyFromAuthorization(undefined)).toBeUndefined();
  });

  it("in open mode, any key is its own user and team", async () => {
    expect(await authenticate(store, { auth: "open" }, basic("fakeuser"))).toEqual({
      userId: "fakeuser",
      teamId: "fakeuser",
      role: "user",
      keyId: undefined,
    });
    await expect(authenticate(store, { auth: "open" }, undefined)).rejects.toMatchObject({
      code: "unauthenticated",
      headers: { "www-authenticate": "Basic" },
    });
  });
});
