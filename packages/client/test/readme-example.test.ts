/**
 * The README's SDK example, run as written against a real server with real workers. Only what must
 * differ on a test machine is substituted: the server URL and key, the bundle directory's absolute path,
 * and the callback URL (a receiver started here instead of example.com). If the README drifts from the
 * SDK, this fails.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../../server/src/testing/server.js";
import { workerBinPath } from "../../worker/src/process/fork.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const built = existsSync(workerBinPath());

function exampleSource(): string {
  const readme = readFileSync(`${root}README.md`, "utf8");
  const match = /```ts\n([\s\S]*?)```/.exec(readme);
  if (!match?.[1]) throw new Error("README.md has no ```ts example");
  return match[1];
}

describe.skipIf(!built && !process.env.CI)("the README example", () => {
  let server: TestServer;
  let receiver: Server;
  const received: { body: string; authorization: string | undefined }[] = [];
  const file = fileURLToPath(new URL("./.readme-example.generated.ts", import.meta.url));

  beforeAll(async () => {
    server = await startTestServer({ overrides: { orchestration: "local" } });
    receiver = createServer((req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        received.push({
          body: Buffer.concat(chunks).toString("utf8"),
          authorization: req.headers.authorization,
        });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  });
  afterAll(async () => {
    rmSync(file, { force: true });
    await server?.close();
    await new Promise((r) => receiver?.close(r));
  });

  it("runs as written and prints 7", async () => {
    const key = await server.createKey("readme", "readme");
    const callbackUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    const source = exampleSource();
    const imports = source.split("\n").filter((l) => l.startsWith("import "));
    const body = source
      .split("\n")
      .filter((l) => !l.startsWith("import "))
      .join("\n")
      .replace("process.env.LAUNCH_API_KEY!", JSON.stringify(key))
      .replace('"http://127.0.0.1:5001"', JSON.stringify(server.url))
      .replace(
        '"packages/worker/fixtures/doc-model"',
        JSON.stringify(`${root}packages/worker/fixtures/doc-model`),
      )
      .replace('"https://example.com"', JSON.stringify(callbackUrl));
    const program = [
      ...imports.map((l) =>
        l.replace(
          '"@launch/client"',
          JSON.stringify(pathToFileURL(`${root}packages/client/src/index.ts`).href),
        ),
      ),
      "export async function main(console: { log: (...args: unknown[]) => void }): Promise<void> {",
      body,
      "}",
    ].join("\n");
    writeFileSync(file, program);
    const printed: unknown[] = [];
    const { main } = (await import(/* @vite-ignore */ pathToFileURL(file).href)) as {
      main: (c: { log: (...a: unknown[]) => void }) => Promise<void>;
    };
    await main({ log: (...args) => printed.push(...args) });
    expect(printed).toEqual([7]);
  });
});
