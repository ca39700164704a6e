/**
 * The connection pools callbacks are sent through: undici `Agent`s with keep-alive pools per origin.
 * One shared agent serves deliveries without a client certificate; each client certificate (mTLS) gets
 * its own agent, whose TLS connections present that certificate and key, kept in a bounded LRU (closed
 * when evicted and on `close()`).
 *
 * Every agent verifies the receiver's certificate against the system CAs (`tls.rootCertificates`) plus
 * the optional configured bundle (`callbackCaFile`), dials only addresses the {@link NetworkPolicy}
 * allows, and never follows redirects (undici's `Agent` does not).
 */
import { createHash, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { isIP, type Socket } from "node:net";
import { rootCertificates } from "node:tls";
import { LaunchError } from "@launch/protocol";
import { Agent, buildConnector, type Dispatcher } from "undici";
import type { NetworkPolicy } from "./network-policy.js";

/** A PEM client certificate and its unencrypted key (opened from the delivery's sealed credentials). */
export interface ClientCertificate {
  cert: string;
  key: string;
}

export interface HttpAgentsOptions {
  policy: NetworkPolicy;
  /** Extra trusted CA certificates (PEM), added to the system CAs; see {@link loadCallbackCaFile}. */
  extraCa?: readonly string[];
  /** Time allowed for TCP connect plus the TLS handshake. */
  connectTimeoutMs: number;
  /** How many client-certificate agents to keep open (least recently used closes first). Default 64. */
  maxClientCertAgents?: number;
  /**
   * Most connections one agent keeps to one origin (the dispatcher's per-origin concurrency): a request
   * sent as another one's answer is still being read waits for that connection instead of opening one
   * more. Default: no limit.
   */
  connectionsPerOrigin?: number;
}

/**
 * The agents of one dispatcher.
 *
 * @example
 * const agents = new HttpAgents({ policy, connectTimeoutMs: 10_000 });
 * await request(url, { dispatcher: agents.forDelivery(null), method: "POST", body });
 * await agents.close();
 */
export class HttpAgents {
  readonly #options: HttpAgentsOptions;
  readonly #ca: string[] | undefined;
  readonly #shared: Agent;
  readonly #byCertificate = new Map<string, Agent>();
  readonly #maxClientCertAgents: number;
  #closed = false;
  /** Recent TLS errors by socket ports (see {@link HttpAgents.tlsErrorBehind}); bounded. */
  readonly #tlsErrors = new Map<string, Error>();

  constructor(options: HttpAgentsOptions) {
    this.#options = options;
    this.#ca =
      options.extraCa && options.extraCa.length > 0 ? [...rootCertificates, ...options.extraCa] : undefined;
    this.#maxClientCertAgents = Math.max(1, options.maxClientCertAgents ?? 64);
    this.#shared = this.#agent(undefined);
  }

  /** The agent for a delivery: the shared one, or the one presenting `certificate`. */
  forDelivery(certificate: ClientCertificate | null): Dispatcher {
    if (this.#closed) throw new Error("the callback HTTP agents are closed");
    if (certificate === null) return this.#shared;
    const id = createHash("sha256")
      .update(certificate.cert)
      .update("\u0000")
      .update(certificate.key)
      .digest("hex");
    let agent = this.#byCertificate.get(id);
    if (agent) {
      this.#byCertificate.delete(id);
    } else {
      agent = this.#agent(certificate);
      if (this.#byCertificate.size >= this.#maxClientCertAgents) {
        const [oldestId, oldest] = this.#byCertificate.entries().next().value as [string, Agent];
        this.#byCertificate.delete(oldestId);
        // In-flight requests on it finish first; its idle sockets close.
        void oldest.close().catch(() => undefined);
      }
    }
    this.#byCertificate.set(id, agent);
    return agent;
  }

  /** How many client-certificate agents are open. */
  get clientCertificateAgents(): number {
    return this.#byCertificate.size;
  }

  /** Closes every agent (in-flight requests finish first; abort them before to stop at once). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const agents = [this.#shared, ...this.#byCertificate.values()];
    this.#byCertificate.clear();
    await Promise.all(agents.map((agent) => agent.close().catch(() => undefined)));
  }

  /** Destroys every agent and its sockets at once, failing whatever is in flight. */
  async destroy(): Promise<void> {
    this.#closed = true;
    const agents = [this.#shared, ...this.#byCertificate.values()];
    this.#byCertificate.clear();
    await Promise.all(agents.map((agent) => agent.destroy().catch(() => undefined)));
  }

  /**
   * The TLS alert behind a request that failed with "other side closed". With TLS 1.3 a receiver checks
   * the client certificate after the client's handshake is done, so its refusal (e.g. "certificate
   * required") arrives as a socket error that undici reports only as a closed socket; this finds it by
   * the socket's ports (from the `SocketError`'s `socket` info).
   */
  tlsErrorBehind(error: unknown): Error | undefined {
    const info = (error as { socket?: { localPort?: number; remotePort?: number } } | undefined)?.socket;
    if (info?.localPort === undefined || info.remotePort === undefined) return undefined;
    return this.#tlsErrors.get(`${info.localPort}:${info.remotePort}`);
  }

  #rememberTlsError(socket: Socket, error: Error): void {
    if (socket.localPort === undefined || socket.remotePort === undefined) return;
    const key = `${socket.localPort}:${socket.remotePort}`;
    this.#tlsErrors.delete(key);
    this.#tlsErrors.set(key, error);
    if (this.#tlsErrors.size > 256) this.#tlsErrors.delete(this.#tlsErrors.keys().next().value as string);
  }

  #agent(certificate: ClientCertificate | undefined): Agent {
    const policy = this.#options.policy;
    const base = buildConnector({
      timeout: this.#options.connectTimeoutMs,
      lookup: policy.lookup,
      rejectUnauthorized: true,
      ...(this.#ca ? { ca: this.#ca } : {}),
      ...(certificate ? { cert: certificate.cert, key: certificate.key } : {}),
    });
    // An IP literal in the URL needs no lookup, so the policy checks it here, before dialling.
    const connect: buildConnector.connector = (options, callback) => {
      if (isIP(options.hostname) !== 0) {
        const refused = policy.check(options.hostname);
        if (refused) {
          callback(refused, null);
          return;
        }
      }
      const socket = (base as unknown as (...args: Parameters<typeof base>) => Socket | undefined)(
        options,
        callback,
      );
      socket?.on("error", (error: Error & { code?: string }) => {
        if (isTlsError(error)) this.#rememberTlsError(socket, error);
      });
    };
    const connections = this.#options.connectionsPerOrigin;
    return new Agent({ connect, allowH2: false, ...(connections === undefined ? {} : { connections }) });
  }
}

/**
 * Reads the configured CA bundle (`callbackCaFile`) once at start: every PEM certificate in it. A missing,
 * unreadable or certificate-less file is a clear start error naming the setting.
 *
 * @example const extraCa = config.callbackCaFile ? loadCallbackCaFile(config.callbackCaFile) : [];
 */
export function loadCallbackCaFile(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new LaunchError(
      "validation_failed",
      `LAUNCH_CALLBACK_CA_FILE (${file}) could not be read: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) {
    throw new LaunchError(
      "validation_failed",
      `LAUNCH_CALLBACK_CA_FILE (${file}) holds no PEM certificate (expected '-----BEGIN CERTIFICATE-----')`,
    );
  }
  blocks.forEach((block, i) => {
    try {
      new X509Certificate(block);
    } catch (error) {
      throw new LaunchError(
        "validation_failed",
        `LAUNCH_CALLBACK_CA_FILE (${file}): certificate #${i + 1} is not a valid PEM certificate: ${(error as Error).message}`,
        { cause: error },
      );
    }
  });
  return blocks.map((block) => `${block}\n`);
}

/** Whether a socket error comes from TLS (an alert, a certificate check). */
export function isTlsError(error: Error & { code?: string }): boolean {
  return (
    /^(ERR_TLS_|ERR_SSL_|EPROTO$)|CERT|_SIGNATURE$|_ISSUER_/.test(error.code ?? "") ||
    /SSL routines|certificate/i.test(error.message)
  );
}
