import type { KeyRole } from "../store/port.js";

/** Who is calling: resolved from the API key by the auth hook before any route runs. */
export interface Principal {
  userId: string;
  teamId: string;
  role: KeyRole;
  /** Undefined in `open` auth mode. */
  keyId: string | undefined;
}

declare module "fastify" {
  interface FastifyRequest {
    /** Set on every authenticated route; routes marked `config: { public: true }` have none. */
    principal: Principal;
  }
  interface FastifyContextConfig {
    /** The route needs no API key (health checks, docs, upload URLs that carry their own token). */
    public?: boolean;
  }
}
