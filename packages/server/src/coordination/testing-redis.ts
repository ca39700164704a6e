/**
 * Redis for tests: `LAUNCH_TEST_REDIS_URL` or redis://127.0.0.1:6379. In CI an unreachable Redis fails
 * the run; on a laptop without it the Redis tests are skipped with a message saying how to start it.
 */
import { createConnection } from "node:net";

export const REDIS_START =
  'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log';

export function redisTestUrl(): string {
  return process.env.LAUNCH_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
}

/** Whether Redis answers; throws in CI when it does not. */
export async function requireRedis(): Promise<boolean> {
  const url = new URL(redisTestUrl());
  const up = await new Promise<boolean>((resolve) => {
    const socket = createConnection({ host: url.hostname, port: Number(url.port || 6379) });
    socket.setTimeout(1000);
    socket.once("connect", () => {
      socket.end();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
    socket.once("timeout", () => {
      socket.destroy();
      resolve(false);
    });
  });
  if (up) return true;
  const message = `Redis is not reachable at ${url.host}; start it with: ${REDIS_START}`;
  if (process.env.CI) throw new Error(`${message} (CI runs the Redis tests)`);
  console.warn(`skipped Redis tests: ${message}`);
  return false;
}
