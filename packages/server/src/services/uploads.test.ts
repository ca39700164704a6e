import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FilesystemArtifactStore } from "../artifacts/filesystem.js";
import { SecretsBox } from "../domain/secrets-box.js";
import { startTestServer, type TestServer } from "../testing/server.js";
import { signUploadGrant, verifyUploadGrant } from "./upload-grants.js";
import {
  ARTIFACT_BUCKET,
  artifactKey,
  isSafeKey,
  ownerOfKey,
  ownerSegment,
  readLocation,
  resolveLocation,
  uploadSigningKey,
} from "./uploads.js";

describe("artifact keys", () => {
  it("carry their owner in a path-safe, reversible segment", () => {
    for (const team of ["ml", "ml-team_2@corp", "a.b", "../../etc", "a/b", "100%", "équipe", "🙂"]) {
      const key = artifactKey("uploads", team);
      expect(key.split("/")).toHaveLength(3);
      expect(isSafeKey(key)).toBe(true);
      expect(ownerSegment(team)).not.toMatch(/[./\\]/);
      expect(ownerOfKey(key)).toBe(team);
    }
    expect(artifactKey("uploads", "ml")).toMatch(/^uploads\/ml\/upl_[0-9a-z]{26}$/);
  });

  it("reject traversal and malformed keys", () => {
    for (const key of ["", "uploads/ml/../other/x", "uploads//x", "./x", "a\\b", "uploads/ml/."]) {
      expect(isSafeKey(key), key).toBe(false);
      expect(ownerOfKey(key), key).toBeUndefined();
    }
    expect(ownerOfKey("uploads/ml")).toBeUndefined();
  });
});

describe("upload grants", () => {
  const signingKey = new SecretsBox(Buffer.alloc(32, 7)).deriveKey("upload-url");
  const now = new Date("2026-01-01T00:00:00Z");
  const grant = { bucket: "launch", key: "uploads/ml/upl_1", expiresAt: new Date("2026-01-01T01:00:00Z") };

  it("round-trip until they expire", () => {
    const token = signUploadGrant(signingKey, grant);
    expect(token).toMatch(/^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(verifyUploadGrant(signingKey, token, now)).toEqual(grant);
    expect(() => verifyUploadGrant(signingKey, token, grant.expiresAt)).toThrow(
      /expired at 2026-01-01T01:00:00.000Z/,
    );
  });

  it("are refused when changed or signed with another key", () => {
    const token = signUploadGrant(signingKey, grant);
    const [v, , sig] = token.split(".");
    const otherPayload = Buffer.from(JSON.stringify({ b: "launch", k: "uploads/other/x", e: 1e10 })).toString(
      "base64url",
    );
    expect(() => verifyUploadGrant(signingKey, `${v}.${otherPayload}.${sig}`, now)).toThrow(
      /signature does not match/,
    );
    const otherKey = new SecretsBox(Buffer.alloc(32, 8)).deriveKey("upload-url");
    expect(() => verifyUploadGrant(otherKey, token, now)).toThrow(/signature does not match/);
    expect(() => verifyUploadGrant(signingKey, "garbage", now)).toThrow(/not valid/);
  });

  it("use a key of their own, not the secrets key itself", () => {
    const box = new SecretsBox(Buffer.alloc(32, 7));
    expect(box.deriveKey("upload-url").equals(Buffer.alloc(32, 7))).toBe(false);
    expect(box.deriveKey("upload-url").equals(box.deriveKey("other"))).toBe(false);
  });
});

describe("uploads through the gateway", () => {
  let server: TestServer;
  let alice: string;
  let eve: string;

  beforeAll(async () => {
    server = await startTestServer({ overrides: { uploadLimitBytes: 4096 } });
    alice = await server.createKey("alice", "ml");
    eve = await server.createKey("eve", "other");
  });
  afterAll(() => server.close());

  async function uploadUrl(key = alice): Promise<{ signedUrl: string; bucket: string; key: string }> {
    const res = await server.request("POST", "/v1/hosted_inference/model_bundle_upload", { key, body: {} });
    expect(res.status).toBe(200);
    return res.body;
  }

  it("round-trips: POST for a URL, PUT bytes without auth, GET them back as the owner", async () => {
    const upload = await uploadUrl();
    expect(upload.bucket).toBe(ARTIFACT_BUCKET);
    expect(upload.key).toMatch(/^uploads\/ml\/upl_/);
    expect(upload.signedUrl.startsWith(`${server.url}/v1/uploads/`)).toBe(true);

    const bytes = new Uint8Array(3000).map((_, i) => i % 251);
    const put = await fetch(upload.signedUrl, {
      method: "PUT",
      body: bytes,
      headers: { "content-type": "application/json" }, // any content type, kept as raw bytes
    });
    expect(put.status).toBe(200);
    expect(await put.json()).toEqual({ bucket: upload.bucket, key: upload.key, size: 3000 });

    const get = await server.request("GET", `/v1/artifacts/${upload.bucket}/${upload.key}`, { key: alice });
    const res = await fetch(`${server.url}/v1/artifacts/${upload.bucket}/${upload.key}`, {
      headers: { authorization: `Bearer ${alice}` },
    });
    expect(get.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/octet-stream");
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(bytes);

    // Workers resolve the location the client will use.
    const location = `s3://${upload.bucket}/${upload.key}`;
    const artifacts = new FilesystemArtifactStore(`${server.dataDir}/artifacts`);
    const resolved = await resolveLocation(artifacts, location, "ml");
    expect(resolved).toMatchObject({ bucket: upload.bucket, key: upload.key, size: 3000 });
    expect(resolved?.localPath).toContain(server.dataDir);
    expect(await readLocation(artifacts, location, "ml")).toEqual(bytes);
    expect(await resolveLocation(artifacts, location, "other")).toBeUndefined();
    expect(await resolveLocation(artifacts, "s3://launch/uploads/ml/missing", "ml")).toBeUndefined();
    expect(await resolveLocation(artifacts, "https://example.com/x", "ml")).toBeUndefined();
  });

  it("accepts a streamed (chunked) body and a PUT with no content type", async () => {
    const upload = await uploadUrl();
    const put = await fetch(upload.signedUrl, {
      method: "PUT",
      body: Readable.toWeb(Readable.from([Buffer.from("hello "), Buffer.from("world")])) as ReadableStream,
      duplex: "half",
    } as RequestInit);
    expect(put.status).toBe(200);
    const empty = await uploadUrl();
    const putEmpty = await fetch(empty.signedUrl, { method: "PUT" });
    expect(putEmpty.status).toBe(200);
    expect(((await putEmpty.json()) as { size: unknown }).size).toBe(0);
    const get = await server.request("GET", `/v1/artifacts/${upload.bucket}/${upload.key}`, { key: alice });
    expect(get.body).toBe("hello world");
  });

  it("hides an artifact from other teams and needs a key to download", async () => {
    const upload = await uploadUrl();
    await fetch(upload.signedUrl, { method: "PUT", body: "secret" });
    const path = `/v1/artifacts/${upload.bucket}/${upload.key}`;
    const other = await server.request("GET", path, { key: eve });
    expect(other.status).toBe(404);
    expect(other.body).toEqual({ detail: "The specified artifact could not be found.", code: "not_found" });
    expect((await server.request("GET", path)).status).toBe(401);
    const missing = await server.request("GET", `/v1/artifacts/${upload.bucket}/uploads/ml/nothing`, {
      key: alice,
    });
    expect(missing.status).toBe(404);
    const climbing = await server.request("GET", `/v1/artifacts/launch/uploads/ml/..%2F..%2Fsecrets.key`, {
      key: alice,
    });
    expect(climbing.status).toBe(404);
  });

  it("refuses expired and tampered upload URLs with 403 and a clear message", async () => {
    const box = SecretsBox.fromConfig({ secretsKey: "", dataDir: server.dataDir });
    const expired = signUploadGrant(uploadSigningKey(box), {
      bucket: ARTIFACT_BUCKET,
      key: "uploads/ml/upl_expired",
      expiresAt: new Date(Date.now() - 1000),
    });
    const res = await fetch(`${server.url}/v1/uploads/${expired}`, { method: "PUT", body: "x" });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { detail: unknown }).detail).toMatch(
      /^This upload URL expired at .*; request a new upload URL/,
    );

    const upload = await uploadUrl();
    const [prefix, payload, signature] = upload.signedUrl.split("/v1/uploads/")[1]!.split(".");
    const forged = Buffer.from(JSON.stringify({ b: "launch", k: "uploads/other/upl_x", e: 9e9 })).toString(
      "base64url",
    );
    const tampered = await fetch(`${server.url}/v1/uploads/${prefix}.${forged}.${signature}`, {
      method: "PUT",
      body: "x",
    });
    expect(tampered.status).toBe(403);
    expect(((await tampered.json()) as { detail: unknown }).detail).toMatch(/signature does not match/);
    expect(payload).toBeTruthy();
    const artifacts = new FilesystemArtifactStore(`${server.dataDir}/artifacts`);
    expect(await artifacts.stat("launch", "uploads/other/upl_x")).toBeUndefined();
  });

  it("answers 413 naming the limit for uploads over it, and keeps nothing", async () => {
    const upload = await uploadUrl();
    const declared = await fetch(upload.signedUrl, { method: "PUT", body: new Uint8Array(5000) });
    expect(declared.status).toBe(413);
    expect(await declared.json()).toEqual({
      detail: "The upload is larger than the limit of 4096 bytes (LAUNCH_UPLOAD_LIMIT_BYTES).",
      code: "payload_too_large",
    });
    const streamed = await fetch(upload.signedUrl, {
      method: "PUT",
      body: Readable.toWeb(Readable.from([Buffer.alloc(3000), Buffer.alloc(3000)])) as ReadableStream,
      duplex: "half",
    } as RequestInit);
    expect(streamed.status).toBe(413);
    const get = await server.request("GET", `/v1/artifacts/${upload.bucket}/${upload.key}`, { key: alice });
    expect(get.status).toBe(404);
  });

  it("needs an API key to hand out upload URLs", async () => {
    const res = await server.request("POST", "/v1/hosted_inference/model_bundle_upload", { body: {} });
    expect(res.status).toBe(401);
  });
});
