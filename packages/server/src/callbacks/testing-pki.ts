/**
 * A throwaway public-key infrastructure for tests of callbacks over TLS, made by the real `openssl`: a
 * test CA, a server certificate for `localhost` and 127.0.0.1 signed by it, and a client certificate
 * with a chosen subject CN signed by it (for mTLS). Keys are unencrypted P-256 PEM; certificates are
 * valid one day. The CA file is written to `dir` so a test can point `callbackCaFile` at it.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** A PEM certificate and its unencrypted PEM private key. */
export interface PemPair {
  cert: string;
  key: string;
}

export interface TestPki {
  /** The CA certificate (PEM) and the file holding it. */
  ca: string;
  caFile: string;
  /** For the HTTPS receiver: CN=localhost, SAN DNS:localhost and IP:127.0.0.1, serverAuth. */
  server: PemPair;
  /** For the callback's mTLS: CN=`clientCommonName`, clientAuth. */
  client: PemPair;
}

/**
 * Makes a CA, a server and a client certificate in `dir` (which the caller removes).
 *
 * @example const pki = makeTestPki(tempDir, "callback-client");
 */
export function makeTestPki(dir: string, clientCommonName = "launch-callback-client"): TestPki {
  const openssl = (...args: string[]): void => {
    execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  };
  const newKey = (name: string): void =>
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", `${name}.key`);
  newKey("ca");
  openssl(
    "req",
    "-x509",
    "-new",
    "-key",
    "ca.key",
    "-subj",
    "/CN=Launch Test CA",
    "-days",
    "1",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
    "-out",
    "ca.pem",
  );
  const issue = (name: string, cn: string, extensions: string): void => {
    newKey(name);
    openssl("req", "-new", "-key", `${name}.key`, "-subj", `/CN=${cn}`, "-out", `${name}.csr`);
    writeFileSync(join(dir, `${name}.ext`), extensions);
    openssl(
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-days",
      "1",
      "-extfile",
      `${name}.ext`,
      "-out",
      `${name}.pem`,
    );
  };
  issue(
    "server",
    "localhost",
    "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n",
  );
  issue("client", clientCommonName, "extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n");
  const read = (file: string): string => readFileSync(join(dir, file), "utf8");
  return {
    ca: read("ca.pem"),
    caFile: join(dir, "ca.pem"),
    server: { cert: read("server.pem"), key: read("server.key") },
    client: { cert: read("client.pem"), key: read("client.key") },
  };
}
