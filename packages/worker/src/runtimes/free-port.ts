/** Picks free TCP ports for child processes, never handing out the same port twice in a short while. */
import { createServer } from "node:net";

const RECENT_MS = 60_000;
const recentlyGiven = new Map<number, number>();

/**
 * A TCP port that is free on `host` right now (the OS picks it), and that this process has not handed
 * out in the last minute, so runtimes started together get different ports.
 */
export async function findFreePort(host = "127.0.0.1"): Promise<number> {
  const now = Date.now();
  for (const [port, at] of recentlyGiven) if (now - at > RECENT_MS) recentlyGiven.delete(port);
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await probe(host);
    if (!recentlyGiven.has(port)) {
      recentlyGiven.set(port, now);
      return port;
    }
  }
  throw new Error(`Could not find a free TCP port on ${host}.`);
}

function probe(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen({ port: 0, host, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error("The OS gave no port."))));
    });
  });
}
