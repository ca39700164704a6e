/**
 * A real callback receiver for tests: a `node:http` or `node:https` server on 127.0.0.1 (port 0) that
 * records every request (headers, raw body, the client certificate's CN) and answers through a
 * replaceable handler (200 by default). `close()` also ends connections a handler left hanging.
 */
import { once } from "node:events";
import {
  createServer as createHttpServer,
  type IncomingHttpHeaders,
  type Server,
  type ServerResponse,
} from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";

/** One request as the receiver got it. */
export interface ReceivedCallback {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** The raw body, exactly as sent. */
  body: string;
  /** The subject CN of the client certificate, when one was presented (HTTPS). */
  clientCn: string | null;
}

/** Answers one request; `n` counts requests from 1. Leave `res` unanswered to hang. */
export type ReceiverHandler = (request: ReceivedCallback, res: ServerResponse, n: number) => void;

export interface HttpsReceiverOptions {
  cert: string;
  key: string;
  /** CA that client certificates must chain to; with it, a client certificate is required. */
  clientCa?: string;
  /**
   * With `clientCa`: false asks for a client certificate but also takes requests without one (like a
   * receiver that accepts both basic auth and mTLS); `clientCn` then tells which it got. Default true.
   */
  requireClientCert?: boolean;
}

/**
 * A receiver; make one with {@link TestReceiver.http} or {@link TestReceiver.https}.
 *
 * @example
 * const receiver = await TestReceiver.http((_req, res) => res.writeHead(503).end());
 * // ... send to receiver.url("/hook") ...
 * await receiver.close();
 */
export class TestReceiver {
  readonly received: ReceivedCallback[] = [];
  /** TLS handshakes the server refused (e.g. no client certificate). */
  tlsClientErrors = 0;
  handler: ReceiverHandler;
  readonly #server: Server;
  readonly #scheme: "http" | "https";
  #port = 0;

  private constructor(server: Server, scheme: "http" | "https", handler: ReceiverHandler | undefined) {
    this.#server = server;
    this.#scheme = scheme;
    this.handler = handler ?? ((_req, res) => res.writeHead(200, { "content-type": "text/plain" }).end("ok"));
    server.on("request", (req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        const socket = req.socket as TLSSocket;
        const peer =
          typeof socket.getPeerCertificate === "function" ? socket.getPeerCertificate() : undefined;
        // Only a certificate that chains to the receiver's CA counts (in request-but-not-require mode
        // an unverified one would otherwise show up too).
        const cn = socket.authorized ? peer?.subject?.CN : undefined;
        const received: ReceivedCallback = {
          method: req.method ?? "",
          path: req.url ?? "",
          headers: req.headers,
          body: Buffer.concat(chunks).toString("utf8"),
          clientCn: typeof cn === "string" ? cn : null,
        };
        this.received.push(received);
        this.handler(received, res, this.received.length);
      });
    });
    server.on("tlsClientError", () => {
      this.tlsClientErrors++;
    });
  }

  /** A plain HTTP receiver. */
  static async http(handler?: ReceiverHandler): Promise<TestReceiver> {
    return TestReceiver.#listen(new TestReceiver(createHttpServer(), "http", handler));
  }

  /** An HTTPS receiver; with `clientCa` it requires and verifies a client certificate (mTLS). */
  static async https(options: HttpsReceiverOptions, handler?: ReceiverHandler): Promise<TestReceiver> {
    const server = createHttpsServer({
      cert: options.cert,
      key: options.key,
      ...(options.clientCa
        ? { ca: options.clientCa, requestCert: true, rejectUnauthorized: options.requireClientCert ?? true }
        : {}),
    });
    return TestReceiver.#listen(new TestReceiver(server, "https", handler));
  }

  static async #listen(receiver: TestReceiver, port = 0): Promise<TestReceiver> {
    receiver.#server.listen(port, "127.0.0.1");
    await once(receiver.#server, "listening");
    receiver.#port = (receiver.#server.address() as AddressInfo).port;
    return receiver;
  }

  get port(): number {
    return this.#port;
  }

  /** The URL of `path` on this receiver, by IP (`host` "localhost" for name-based TLS checks). */
  url(path = "/hook", host = "127.0.0.1"): string {
    return `${this.#scheme}://${host}:${this.#port}${path}`;
  }

  /** Stops listening and ends every connection, hanging ones included. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
    await closed;
  }

  /** Listens again on the same port (after `close`), to model a receiver that comes back up. */
  async reopen(): Promise<void> {
    await TestReceiver.#listen(this, this.#port);
  }
}
