import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { LaunchError } from "@launch/protocol";

const VERSION = "v1";

/**
 * Seals secrets (callback passwords, mTLS keys, signing secrets) with AES-256-GCM before they reach the
 * store, and opens them when a callback is sent. The sealed form is `v1.<key id>.<iv>.<tag>.<ciphertext>`
 * (base64url parts); the key id lets an operator tell which key sealed a value.
 *
 * @example const box = new SecretsBox(key); const sealed = box.seal("password"); box.open(sealed) === "password"
 */
export class SecretsBox {
  readonly keyId: string;
  readonly #key: Buffer;

  constructor(key: Buffer) {
    if (key.length !== 32)
      throw new LaunchError("validation_failed", `the secrets key must be 32 bytes (got ${key.length})`);
    this.#key = key;
    this.keyId = createHash("sha256").update(key).digest("base64url").slice(0, 8);
  }

  seal(plaintext: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.#key, iv);
    const ciphertext = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    const tag = cipher.getAuthTag();
    return [
      VERSION,
      this.keyId,
      iv.toString("base64url"),
      tag.toString("base64url"),
      ciphertext.toString("base64url"),
    ].join(".");
  }

  open(sealed: string): string {
    const [version, keyId, iv, tag, ciphertext] = sealed.split(".");
    if (version !== VERSION || iv === undefined || tag === undefined || ciphertext === undefined) {
      throw new LaunchError("internal", "a stored secret is not in the sealed format");
    }
    if (keyId !== this.keyId) {
      throw new LaunchError(
        "internal",
        `a stored secret was sealed with secrets key ${keyId}, but this server has key ${this.keyId}; set LAUNCH_SECRETS_KEY to the key that sealed it`,
      );
    }
    const decipher = createDecipheriv("aes-256-gcm", this.#key, Buffer.from(iv, "base64url"));
    decipher.setAuthTag(Buffer.from(tag, "base64url"));
    return Buffer.concat([decipher.update(Buffer.from(ciphertext, "base64url")), decipher.final()]).toString(
      "utf8",
    );
  }

  /**
   * A 32-byte key for another purpose (signing upload URLs, ...), derived from this box's key with HKDF,
   * so one configured secret serves every purpose without reusing the same key twice.
   *
   * @example const signingKey = box.deriveKey("upload-url");
   */
  deriveKey(purpose: string): Buffer {
    return Buffer.from(hkdfSync("sha256", this.#key, Buffer.alloc(0), `launch:${purpose}`, 32));
  }

  /** Seals a JSON value. */
  sealJson(value: unknown): string {
    return this.seal(JSON.stringify(value));
  }

  openJson<T>(sealed: string): T {
    return JSON.parse(this.open(sealed)) as T;
  }

  /**
   * The box for a configuration: `LAUNCH_SECRETS_KEY` (base64 of 32 bytes) when set, else the key in
   * `<dataDir>/secrets.key`, generated (mode 0600) on first use.
   */
  static fromConfig(config: { secretsKey: string; dataDir: string }): SecretsBox {
    if (config.secretsKey) {
      const key = Buffer.from(config.secretsKey, "base64");
      if (key.length !== 32) {
        throw new LaunchError(
          "validation_failed",
          `LAUNCH_SECRETS_KEY must be base64 of 32 bytes (it decodes to ${key.length}); make one with: openssl rand -base64 32`,
        );
      }
      return new SecretsBox(key);
    }
    const file = join(config.dataDir, "secrets.key");
    if (!existsSync(file)) {
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, `${randomBytes(32).toString("base64")}\n`, { mode: 0o600, flag: "wx" });
      chmodSync(file, 0o600);
    }
    const key = Buffer.from(readFileSync(file, "utf8").trim(), "base64");
    if (key.length !== 32) throw new LaunchError("validation_failed", `${file} must hold base64 of 32 bytes`);
    return new SecretsBox(key);
  }
}
