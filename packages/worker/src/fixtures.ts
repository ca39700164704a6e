/**
 * Paths of the fixture programs in `packages/worker/fixtures/`, for tests across the project:
 * - `echo-server.mjs`: the reference echo server (`bundles.md` §2);
 * - `doc-model-server.mjs`: the documentation model (`x + y.length`) as a runnable image;
 * - `doc-model/model.mjs`: the same model as a Node bundle directory (`doc-model`);
 * - `crash.mjs`: writes to stderr and exits with code 3;
 * - `never-healthy.mjs`: listens on `PORT` but answers 503 on every health route;
 * - `group-server.mjs`: a healthy server that starts a grandchild ignoring SIGTERM (process groups).
 */
import { fileURLToPath } from "node:url";

/**
 * The absolute path of a fixture (a file or directory under `packages/worker/fixtures/`).
 *
 * @example const command = [process.execPath, fixturePath("echo-server.mjs")];
 */
export function fixturePath(name: string): string {
  return fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
}
