import { readFileSync } from "node:fs";
import { LaunchError, type ValidationIssue } from "@launch/protocol";
import { roleIssues } from "./roles.js";
import { type ConfigOverrides, type LaunchConfig, SETTINGS, type SettingKey } from "./schema.js";

export interface LoadConfigOptions {
  /** Environment to read `LAUNCH_*` from. Defaults to `process.env`. */
  env?: Record<string, string | undefined>;
  /** A JSON file of `{ key: value }` (keys as in the schema, e.g. `"port"`). `LAUNCH_CONFIG_FILE` names one too. */
  file?: string;
  /** Values that win over everything (CLI flags). `undefined` entries are ignored. */
  overrides?: ConfigOverrides;
}

/**
 * Parses defaults, then the optional JSON file, then `LAUNCH_*` variables, then overrides, into a frozen
 * object. Bad values throw a `validation_failed` LaunchError naming each setting and what was expected.
 *
 * @example const config = loadConfig({ overrides: { port: 0 } });
 */
export function loadConfig(options: LoadConfigOptions = {}): LaunchConfig {
  const env = options.env ?? process.env;
  const issues: ValidationIssue[] = [];
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(SETTINGS) as SettingKey[]) out[key] = SETTINGS[key].default;

  const file = options.file ?? env.LAUNCH_CONFIG_FILE;
  if (file) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, "utf8"));
    } catch (error) {
      throw new LaunchError(
        "validation_failed",
        `config file ${file} could not be read as JSON: ${String(error)}`,
        {
          cause: error,
        },
      );
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      throw new LaunchError("validation_failed", `config file ${file} must hold a JSON object`);
    }
    for (const [key, value] of Object.entries(parsed)) {
      if (!(key in SETTINGS)) {
        issues.push({
          loc: ["file", key],
          msg: `unknown setting; known: ${Object.keys(SETTINGS).join(", ")}`,
          type: "unknown",
        });
        continue;
      }
      setValue(out, key as SettingKey, value, ["file", key], issues);
    }
  }
  for (const key of Object.keys(SETTINGS) as SettingKey[]) {
    const raw = env[SETTINGS[key].env];
    if (raw !== undefined && raw !== "") setValue(out, key, raw, ["env", SETTINGS[key].env], issues);
  }
  for (const [key, value] of Object.entries(options.overrides ?? {})) {
    if (value !== undefined) setValue(out, key as SettingKey, value, ["flag", key], issues);
  }
  if (issues.length === 0) issues.push(...roleIssues(out as LaunchConfig));
  if (issues.length > 0) throw LaunchError.validation(issues);
  return Object.freeze(out) as LaunchConfig;
}

function setValue(
  out: Record<string, unknown>,
  key: SettingKey,
  value: unknown,
  loc: string[],
  issues: ValidationIssue[],
): void {
  const setting = SETTINGS[key] as (typeof SETTINGS)[SettingKey] & {
    values?: readonly string[];
    min?: number;
  };
  const fail = (expected: string): void => {
    issues.push({
      loc,
      msg: `${setting.env} is ${JSON.stringify(value)}; expected ${expected}`,
      type: "value_error",
    });
  };
  switch (setting.kind) {
    case "string":
      if (typeof value !== "string") {
        fail("a string");
        return;
      }
      out[key] = value;
      return;
    case "int":
    case "number": {
      const n =
        typeof value === "number" ? value : typeof value === "string" ? Number(value.trim()) : Number.NaN;
      if (!Number.isFinite(n) || (setting.kind === "int" && !Number.isInteger(n))) {
        fail(setting.kind === "int" ? "a whole number" : "a number");
        return;
      }
      if (setting.min !== undefined && n < setting.min) {
        fail(`at least ${setting.min}`);
        return;
      }
      out[key] = n;
      return;
    }
    case "bool": {
      if (typeof value === "boolean") {
        out[key] = value;
        return;
      }
      const v = typeof value === "string" ? value.trim().toLowerCase() : "";
      if (["true", "1", "yes", "on"].includes(v)) out[key] = true;
      else if (["false", "0", "no", "off"].includes(v)) out[key] = false;
      else fail("true or false");
      return;
    }
    case "enum":
      if (typeof value !== "string" || !setting.values?.includes(value)) {
        fail(`one of ${setting.values?.join(", ")}`);
        return;
      }
      out[key] = value;
      return;
    case "list":
      if (Array.isArray(value) && value.every((v) => typeof v === "string")) out[key] = value;
      else if (typeof value === "string")
        out[key] = value
          .split(",")
          .map((v) => v.trim())
          .filter(Boolean);
      else fail("a comma-separated list");
      return;
  }
}

/** The configuration with secrets masked, for logs and `launch config`. */
export function describeConfig(config: LaunchConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(SETTINGS) as SettingKey[]) {
    const setting = SETTINGS[key] as { secret?: boolean };
    out[key] = setting.secret && config[key] ? "<set>" : config[key];
  }
  return out;
}
