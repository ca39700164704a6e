// Regenerates the settings table in docs/configuration.md from the configuration schema (built).
import { readFileSync, writeFileSync } from "node:fs";
import { updateSettingsDoc } from "../packages/server/dist/config/reference.js";

const path = new URL("../docs/configuration.md", import.meta.url);
writeFileSync(path, updateSettingsDoc(readFileSync(path, "utf8")));
console.log("docs/configuration.md updated");
