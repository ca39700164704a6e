/**
 * The CLI's own settings, read from the environment here and nowhere else. (The server's settings come
 * from `loadConfig` of `@launch/server`, which parses `LAUNCH_*` with its one schema.)
 */
import { CliError } from "./cli-error.js";
import type { CliIo } from "./io.js";

/** Where the SDK commands connect when neither `--endpoint` nor `LAUNCH_ENDPOINT` says. */
export const DEFAULT_SERVER_URL = "http://127.0.0.1:5001";

export interface ApiFlags {
  apiKey?: string | undefined;
  endpoint?: string | undefined;
}

export interface ApiSettings {
  apiKey: string;
  endpoint: string;
}

/**
 * The API key and server URL for the SDK commands: flags first, then `LAUNCH_API_KEY` /
 * `LAUNCH_ENDPOINT`, then the default URL. A missing key is a usage error that says how to give one.
 *
 * @example apiSettings({ apiKey: "lk_..." }, { LAUNCH_ENDPOINT: "http://launch:5001" })
 */
export function apiSettings(flags: ApiFlags, env: CliIo["env"]): ApiSettings {
  const apiKey = nonEmpty(flags.apiKey) ?? nonEmpty(env.LAUNCH_API_KEY);
  if (apiKey === undefined) {
    throw new CliError(
      "no API key: pass --api-key <key> or set LAUNCH_API_KEY (create a key with `launch keys create --user U --team T`)",
      2,
    );
  }
  const endpoint = nonEmpty(flags.endpoint) ?? nonEmpty(env.LAUNCH_ENDPOINT) ?? DEFAULT_SERVER_URL;
  return { apiKey, endpoint };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value.trim();
}
