import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { updateSettingsDoc } from "./reference.js";

const docPath = fileURLToPath(new URL("../../../../docs/configuration.md", import.meta.url));

describe("docs/configuration.md", () => {
  it("lists every setting of the schema exactly as the generator renders it (run `npm run docs:config`)", () => {
    const doc = readFileSync(docPath, "utf8");
    expect(updateSettingsDoc(doc)).toBe(doc);
  });
});
