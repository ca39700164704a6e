import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A PEM certificate and its unencrypted PEM private key. */
export interface CertificatePair {
  cert: string;
  key: string;
}

/**
 * A fresh self-signed certificate and key made by the real `openssl` (valid one day), for tests of
 * mTLS settings. The temporary files are removed before it returns.
 *
 * @example const { cert, key } = selfSignedCertificate("callback-client");
 */
export function selfSignedCertificate(commonName = "test"): CertificatePair {
  const dir = mkdtempSync(join(tmpdir(), "launch-cert-"));
  try {
    const keyFile = join(dir, "key.pem");
    const certFile = join(dir, "cert.pem");
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        `/CN=${commonName}`,
        "-days",
        "1",
        "-keyout",
        keyFile,
        "-out",
        certFile,
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    return { cert: readFileSync(certFile, "utf8"), key: readFileSync(keyFile, "utf8") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
