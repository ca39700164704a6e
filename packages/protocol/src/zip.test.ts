import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deflateRawSync } from "node:zlib";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { assertSafeZipPath, unzip, zipFiles } from "./zip.js";

const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array) => new TextDecoder().decode(b);
const has = (cmd: string, args: string[]) => spawnSync(cmd, args, { stdio: "ignore" }).status === 0;
const hasZipCli = has("zip", ["-v"]);
const hasPython = has("python3", ["-c", "import zipfile"]);

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "launch-zip-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("zipFiles / unzip", () => {
  it("round-trips files, deflating compressible data and storing the rest", () => {
    const random = new Uint8Array(2048).map(() => Math.floor(Math.random() * 256));
    const entries = [
      { path: "model.mjs", data: text("export const loadModel = () => (x) => x;\n".repeat(50)) },
      { path: "lib/deep/util.mjs", data: text("export default 1;") },
      { path: "weights.bin", data: random },
      { path: "empty.txt", data: new Uint8Array(0) },
      { path: "ünïcode/名前.json", data: text('{"a":1}') },
    ];
    const zip = zipFiles(entries);
    expect(zip.length).toBeLessThan(entries.reduce((n, e) => n + e.data.length, 0));
    const back = unzip(zip);
    expect(back.map((e) => e.path)).toEqual(entries.map((e) => e.path));
    expect(back.map((e) => Buffer.from(e.data).toString("hex"))).toEqual(
      entries.map((e) => Buffer.from(e.data).toString("hex")),
    );
  });

  it("gives the same bytes for the same files", () => {
    const entries = [{ path: "a.txt", data: text("hello") }];
    expect(Buffer.from(zipFiles(entries)).equals(Buffer.from(zipFiles(entries)))).toBe(true);
  });

  it.skipIf(!hasZipCli)("writes archives that the `unzip` command reads (needs the zip CLI)", () => {
    const zip = zipFiles([
      { path: "a.txt", data: text("alpha") },
      { path: "sub/b.txt", data: text("beta ".repeat(100)) },
    ]);
    writeFileSync(join(dir, "ours.zip"), zip);
    execFileSync("unzip", ["-q", "ours.zip", "-d", "out"], { cwd: dir });
    expect(readFileSync(join(dir, "out/a.txt"), "utf8")).toBe("alpha");
    expect(readFileSync(join(dir, "out/sub/b.txt"), "utf8")).toBe("beta ".repeat(100));
  });

  it.skipIf(!hasZipCli)(
    "reads archives made by the `zip` command, including streamed ones (needs the zip CLI)",
    () => {
      mkdirSync(join(dir, "src/pkg"), { recursive: true });
      writeFileSync(join(dir, "src/model.mjs"), "export const x = 1;\n".repeat(40));
      writeFileSync(join(dir, "src/pkg/data.json"), '{"k": "v"}');
      execFileSync("zip", ["-qr", "../cli.zip", "."], { cwd: join(dir, "src") });
      const files = unzip(readFileSync(join(dir, "cli.zip")));
      expect(files.map((f) => f.path).sort()).toEqual(["model.mjs", "pkg/data.json"]);
      expect(str(files.find((f) => f.path === "model.mjs")!.data)).toBe("export const x = 1;\n".repeat(40));

      // From stdin to stdout: data descriptors and Zip64 extra fields.
      const streamed = execFileSync("zip", ["-q", "-", "-"], { input: "streamed ".repeat(30) });
      const [only] = unzip(streamed);
      expect(only?.path).toBe("-");
      expect(str(only!.data)).toBe("streamed ".repeat(30));
    },
  );

  it.skipIf(!hasPython)("reads archives made by Python's zipfile (needs python3)", () => {
    const script = [
      "import zipfile, sys",
      "with zipfile.ZipFile(sys.argv[1], 'w') as z:",
      "    z.writestr('stored.txt', 'plain', compress_type=zipfile.ZIP_STORED)",
      "    z.writestr('deflated.txt', 'squash ' * 50, compress_type=zipfile.ZIP_DEFLATED)",
      "    z.writestr('dir/', '')",
      "    z.writestr('dir/ünï.txt', 'utf8 name', compress_type=zipfile.ZIP_DEFLATED)",
    ].join("\n");
    execFileSync("python3", ["-c", script, join(dir, "py.zip")]);
    const files = unzip(readFileSync(join(dir, "py.zip")));
    expect(Object.fromEntries(files.map((f) => [f.path, str(f.data)]))).toEqual({
      "stored.txt": "plain",
      "deflated.txt": "squash ".repeat(50),
      "dir/ünï.txt": "utf8 name",
    });
  });

  it.skipIf(!hasPython)("is read by Python's zipfile (needs python3)", () => {
    writeFileSync(join(dir, "ours.zip"), zipFiles([{ path: "x/y.txt", data: text("why ".repeat(20)) }]));
    const out = execFileSync("python3", [
      "-c",
      "import zipfile,sys; z=zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; print(z.read('x/y.txt').decode())",
      join(dir, "ours.zip"),
    ]);
    expect(out.toString().trim()).toBe("why ".repeat(20).trim());
  });

  it.skipIf(!hasZipCli)("refuses symbolic links (needs the zip CLI)", () => {
    mkdirSync(join(dir, "src"));
    writeFileSync(join(dir, "src/real.txt"), "x");
    symlinkSync("/etc/passwd", join(dir, "src/link"));
    execFileSync("zip", ["-qry", "../links.zip", "."], { cwd: join(dir, "src") });
    expect(() => unzip(readFileSync(join(dir, "links.zip")))).toThrow(/"link".*symbolic links/);
  });
});

describe("unsafe input", () => {
  it.each([
    ["../evil.sh", /contain no "\.\."/],
    ["a/../../evil.sh", /contain no "\.\."/],
    ["/etc/passwd", /is absolute/],
    ["C:/windows/x", /is absolute/],
    ["a\\b.txt", /backslash/],
    ["a//b", /empty segments/],
    ["", /empty path/],
  ])("refuses the path %j", (path, message) => {
    expect(() => assertSafeZipPath(path)).toThrow(message);
    expect(() => zipFiles([{ path, data: text("x") }])).toThrow(/Unsafe path in zip/);
  });

  it("refuses unsafe paths when reading, with a bad_request error", () => {
    const zip = zipFiles([{ path: "aa/evil.sh", data: text("rm -rf /") }]);
    // Rewrite the name in both headers to "../evil.sh" (same length) as a hostile archive would.
    const hostile = Buffer.from(zip);
    const from = Buffer.from("aa/evil.sh");
    const to = Buffer.from("../evil.sh");
    let at = hostile.indexOf(from);
    while (at >= 0) {
      to.copy(hostile, at);
      at = hostile.indexOf(from, at + 1);
    }
    let error: unknown;
    try {
      unzip(hostile);
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ name: "LaunchError", code: "bad_request" });
    expect(String(error)).toMatch(/Unsafe path in zip: "\.\.\/evil\.sh"/);
  });

  it("refuses duplicate paths", () => {
    const one = [{ path: "a.txt", data: text("1") }];
    expect(() => zipFiles([...one, ...one])).toThrow(/appears twice/);
  });

  it("refuses an archive that unpacks beyond the limit before inflating it", () => {
    const zip = zipFiles([{ path: "zeros.bin", data: new Uint8Array(10 * 1024 * 1024) }]);
    expect(zip.length).toBeLessThan(100_000);
    expect(() => unzip(zip, { maxBytes: 1024 * 1024 })).toThrow(/more than 1048576 bytes/);
    expect(unzip(zip)[0]?.data.length).toBe(10 * 1024 * 1024);
  });

  it("refuses an entry whose header understates its size", () => {
    const zip = Buffer.from(zipFiles([{ path: "bomb.bin", data: new Uint8Array(1 << 20) }]));
    // Claim 16 bytes in the central directory (offset 24 of the central header).
    const central = zip.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    zip.writeUInt32LE(16, central + 24);
    expect(() => unzip(zip)).toThrow(/inflates beyond its declared size/);
  });

  it("detects corruption with the CRC", () => {
    const data = text("abcdefgh");
    const zip = Buffer.from(zipFiles([{ path: "a.txt", data }], { level: 0 }));
    const at = zip.indexOf(Buffer.from(data));
    zip[at] = "z".charCodeAt(0);
    expect(() => unzip(zip)).toThrow(/CRC-32/);
  });

  it("explains what is wrong with something that is not a zip", () => {
    expect(() => unzip(text("just some text, certainly not a zip archive"))).toThrow(/is this a zip file\?/);
    expect(() => unzip(deflateRawSync(text("x")))).toThrow(/end-of-central-directory/);
  });
});
