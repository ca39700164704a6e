/**
 * Test helpers for Python bundles: pickling fixtures exactly as the Launch Python client does, with the
 * host's python3 or with another Python minor version (to check the version-mismatch errors).
 */
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fixturePath } from "../fixtures.js";

export type BundleVariant =
  | "doc"
  | "raises"
  | "app_config"
  | "callable"
  | "bytes"
  | "output"
  | "requires_pkg";

/** Writes the `launch_test_pkg` wheel (VALUE = 42) into `dir`, for installs without a package index. */
export function writeTestWheel(dir: string): void {
  execFileSync("python3", [fixturePath("python/make_bundle.py"), "--wheel", dir], {
    stdio: ["ignore", "ignore", "pipe"],
  });
}

/** Writes `variant` (see fixtures/python/make_bundle.py) pickled by `python` to `out`. */
export function pickleBundle(
  out: string,
  variant: BundleVariant,
  python = "python3",
  env?: NodeJS.ProcessEnv,
): string {
  execFileSync(python, [fixturePath("python/make_bundle.py"), out, variant], {
    env: env ?? process.env,
    stdio: ["ignore", "ignore", "pipe"],
  });
  return out;
}

/** The host python3's `major.minor`. */
export function hostPythonMinor(python = "python3"): string {
  return execFileSync(python, ["-c", "import sys; print('%d.%d' % sys.version_info[:2])"], {
    encoding: "utf8",
  }).trim();
}

/**
 * An interpreter of another minor version than the host's python3 that can import cloudpickle (a copy of
 * the host's pure-Python cloudpickle is put on its path), or undefined when the host has none (pyenv
 * versions are looked for).
 */
export function otherPython(
  scratch: string,
  prefer: string[] = ["3.10", "3.12"],
): { python: string; minor: string; env: NodeJS.ProcessEnv } | undefined {
  const host = hostPythonMinor();
  const cloudpickleDir = execFileSync(
    "python3",
    ["-c", "import cloudpickle, os; print(os.path.dirname(cloudpickle.__file__))"],
    { encoding: "utf8" },
  ).trim();
  const roots = ["/root/.pyenv/versions", join(process.env.HOME ?? "/root", ".pyenv/versions")];
  for (const minor of prefer) {
    if (minor === host) continue;
    for (const root of roots) {
      if (!existsSync(root)) continue;
      const version = readdirSync(root).find((name) => name.startsWith(`${minor}.`));
      const python = version && join(root, version, "bin", "python");
      if (!python || !existsSync(python)) continue;
      const site = join(scratch, `cloudpickle-for-${minor}`);
      mkdirSync(site, { recursive: true });
      cpSync(cloudpickleDir, join(site, "cloudpickle"), { recursive: true });
      return { python, minor, env: { ...process.env, PYTHONPATH: site } };
    }
  }
  return undefined;
}

/** The zip-bundle fixture directory (`doc_model.model.load_model_fn` …). */
export function zipModelDir(): string {
  return fixturePath("python/zip-model");
}

/** Unpickles a base64 pickle with python3 and returns the value as JSON. */
export function unpickleBase64(pickled: string): unknown {
  const out = execFileSync(
    "python3",
    [
      "-c",
      "import sys, json, base64, cloudpickle; print(json.dumps(cloudpickle.loads(base64.b64decode(sys.stdin.read()))))",
    ],
    { input: pickled, encoding: "utf8" },
  );
  return JSON.parse(out);
}
