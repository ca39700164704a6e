/**
 * Packing local directories into a Node bundle's zip (`bundles.md` §1), for
 * `createModelBundleFromDirsV2`. With one `baseDir`, its contents sit at the root of the archive (so
 * `model.mjs#loadModel` names `<baseDir>/model.mjs`); with `baseDirs`, each directory keeps its own name
 * as the Python client does (`my_module/model.mjs#loadModel`). Installed `node_modules` are kept; `.git`
 * and the `.cache` of every `node_modules` are skipped. Symbolic links are followed (npm links workspace packages).
 */
import { readdir, readFile, realpath, stat } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import type { ValidationIssue, ZipEntry } from "@launch/protocol";
import { ValidationError } from "./errors.js";

/** Where a bundle's files come from: one directory packed at the root, or several under their names. */
export interface BundleDirectories {
  baseDir?: string | undefined;
  baseDirs?: string[] | undefined;
}

/**
 * The files of the bundle directories as zip entries, sorted by path. Throws `ValidationError` naming the
 * option when a directory is missing, is not a directory, or holds no files, or when two `baseDirs`
 * share a name.
 *
 * @example const entries = await collectBundleFiles({ baseDir: "./model" }); // [{ path: "model.mjs", data }]
 */
export async function collectBundleFiles(dirs: BundleDirectories): Promise<ZipEntry[]> {
  const roots = await bundleRoots(dirs);
  const entries: ZipEntry[] = [];
  for (const root of roots) {
    const before = entries.length;
    await walk(root.directory, root.prefix, "", new Set([await realpath(root.directory)]), entries);
    if (entries.length === before) {
      invalid(root.option, `${root.directory} holds no files to bundle`);
    }
  }
  entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return entries;
}

/**
 * The module file of a `module#export` reference (`model.mjs#loadModel` → `model.mjs`).
 *
 * @example modulePathOf("lib/model.mjs#loadModel") // "lib/model.mjs"
 */
export function modulePathOf(ref: string): string {
  const hash = ref.lastIndexOf("#");
  return (hash < 0 ? ref : ref.slice(0, hash)).replace(/^\.\//, "");
}

interface Root {
  directory: string;
  /** The archive path prefix: "" for `baseDir`, `<name>/` for each of `baseDirs`. */
  prefix: string;
  /** The option that named it, for messages. */
  option: string;
}

async function bundleRoots(dirs: BundleDirectories): Promise<Root[]> {
  if ((dirs.baseDir === undefined) === (dirs.baseDirs === undefined)) {
    invalid("baseDir", "give exactly one of baseDir (a directory) or baseDirs (a list of directories)");
  }
  const roots: Root[] =
    dirs.baseDir !== undefined
      ? [{ directory: resolve(dirs.baseDir), prefix: "", option: "baseDir" }]
      : (dirs.baseDirs ?? []).map((dir, index) => ({
          directory: resolve(dir),
          prefix: `${basename(resolve(dir))}/`,
          option: `baseDirs[${index}]`,
        }));
  if (roots.length === 0) invalid("baseDirs", "name at least one directory");
  const prefixes = new Map<string, string>();
  for (const root of roots) {
    const info = await stat(root.directory).catch(() => undefined);
    if (!info) invalid(root.option, `${root.directory} does not exist`);
    if (!info.isDirectory()) invalid(root.option, `${root.directory} is not a directory`);
    const other = prefixes.get(root.prefix);
    if (other !== undefined) {
      invalid(
        root.option,
        `${root.directory} has the same name as ${other}; both would unpack to ${root.prefix}`,
      );
    }
    prefixes.set(root.prefix, root.directory);
  }
  return roots;
}

async function walk(
  directory: string,
  prefix: string,
  relative: string,
  visited: Set<string>,
  out: ZipEntry[],
): Promise<void> {
  const names = (await readdir(directory)).sort();
  for (const name of names) {
    const rel = relative === "" ? name : `${relative}/${name}`;
    const path = join(directory, name);
    if (isSkipped(directory, name)) continue;
    const info = await stat(path).catch(() => undefined);
    if (!info) invalid("baseDir", `${path} is a broken symbolic link; remove it or point it at a file`);
    if (info.isDirectory()) {
      const real = await realpath(path);
      if (visited.has(real)) continue; // a link back up the tree
      await walk(path, prefix, rel, new Set([...visited, real]), out);
    } else if (info.isFile()) {
      out.push({ path: `${prefix}${rel}`, data: new Uint8Array(await readFile(path)) });
    }
  }
}

/** `.git` anywhere, and the `.cache` of any `node_modules` (build caches, often large). */
function isSkipped(directory: string, name: string): boolean {
  return name === ".git" || (name === ".cache" && basename(directory) === "node_modules");
}

function invalid(option: string, msg: string): never {
  const issue: ValidationIssue = { loc: [option], msg, type: "value_error" };
  throw new ValidationError({ status: 422, code: "validation_failed", detail: [issue] });
}
