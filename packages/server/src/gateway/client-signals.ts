import type { Socket } from "node:net";
import type { FastifyReply } from "fastify";
import { ClientClosedError } from "../services/worker-forward.js";

/**
 * Signals that abort when a client goes away, without an abort controller per request: one per client
 * connection (a keep-alive connection carries many requests), aborted when the connection closes. A
 * request answered normally creates, aborts and dispatches nothing.
 */
export class ClientSignals {
  readonly #byConnection = new WeakMap<Socket, AbortController>();
  /** Connections with a long poll or a stream in progress, and how many. */
  readonly #lasting = new Map<AbortController, number>();

  /**
   * A signal that aborts when the request's connection closes (the client went away); with `lasting`
   * (long polls, streams), also when the server starts closing (`endLasting`).
   */
  untilGone(reply: FastifyReply, lasting = false): AbortSignal {
    const socket = reply.raw.socket;
    if (!socket || socket.destroyed) return AbortSignal.abort(new ClientClosedError());
    let controller = this.#byConnection.get(socket);
    if (!controller) {
      const created = new AbortController();
      this.#byConnection.set(socket, created);
      socket.once("close", () => created.abort(new ClientClosedError()));
      controller = created;
    }
    if (lasting) {
      const held = controller;
      this.#lasting.set(held, (this.#lasting.get(held) ?? 0) + 1);
      reply.raw.once("close", () => {
        const left = (this.#lasting.get(held) ?? 1) - 1;
        if (left > 0) this.#lasting.set(held, left);
        else this.#lasting.delete(held);
      });
    }
    return controller.signal;
  }

  /** The server is closing: ends the long polls and streams in progress (their connections then close). */
  endLasting(): void {
    for (const controller of this.#lasting.keys()) controller.abort(new Error("the server is stopping"));
  }
}
