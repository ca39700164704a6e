import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const src = (pkg: string) => fileURLToPath(new URL(`./packages/${pkg}/src/index.ts`, import.meta.url));

export default defineConfig({
  resolve: {
    // Tests run against the TypeScript sources, so `vitest` works without a build.
    alias: {
      "@launch/protocol": src("protocol"),
      "@launch/client": src("client"),
      "@launch/server": src("server"),
      "@launch/worker": src("worker"),
    },
  },
  test: {
    include: ["packages/*/src/**/*.test.ts", "packages/*/test/**/*.test.ts"],
    allowOnly: !process.env.CI,
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: "forks",
    // In CI a JSON report is written too, so .ci/run can print the plain "N passed, N failed" line.
    reporters: process.env.CI
      ? ["default", ["json", { outputFile: "node_modules/.cache/vitest-report.json" }]]
      : ["default"],
  },
});
