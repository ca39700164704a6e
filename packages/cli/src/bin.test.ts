import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const bin = fileURLToPath(new URL("../dist/bin.js", import.meta.url));
const built = existsSync(bin);
const run = promisify(execFile);

describe("the built launch binary", () => {
  it.skipIf(!built && !process.env.CI)(
    built
      ? "prints its help"
      : "prints its help (skipped: packages/cli/dist is not built; `npm test` builds it first)",
    async () => {
      const { stdout } = await run(process.execPath, [bin, "--help"]);
      expect(stdout).toContain("Usage: launch");
      for (const command of ["serve", "keys", "bundles", "endpoints", "tasks"])
        expect(stdout).toContain(command);
    },
  );

  it.skipIf(!built && !process.env.CI)("exits 2 with a hint when no API key is set", async () => {
    const env = { ...process.env, LAUNCH_API_KEY: "", LAUNCH_ENDPOINT: "http://127.0.0.1:9" };
    const failure = await run(process.execPath, [bin, "endpoints", "list"], { env }).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    expect(failure?.code).toBe(2);
    expect(failure?.stderr).toContain("LAUNCH_API_KEY");
  });
});
