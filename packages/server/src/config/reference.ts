import { SETTINGS, type SettingKey } from "./schema.js";

export const REFERENCE_BEGIN =
  "<!-- settings:begin (generated from packages/server/src/config/schema.ts by `npm run docs:config`) -->";
export const REFERENCE_END = "<!-- settings:end -->";

/** The settings table of `docs/configuration.md`, rendered from the schema. */
export function renderSettingsTable(): string {
  const rows = (Object.keys(SETTINGS) as SettingKey[]).map((key) => {
    const s = SETTINGS[key] as {
      env: string;
      kind: string;
      default: unknown;
      doc: string;
      values?: readonly string[];
    };
    const kind = s.kind === "enum" ? (s.values ?? []).map((v) => `\`${v}\``).join(" \\| ") : s.kind;
    const def = s.default === "" ? "(empty)" : `\`${String(s.default)}\``;
    return `| \`${key}\` | \`${s.env}\` | ${kind} | ${def} | ${s.doc.replace(/\|/g, "\\|")} |`;
  });
  return ["| key (file) | environment | type | default | meaning |", "|---|---|---|---|---|", ...rows].join(
    "\n",
  );
}

/** Replaces the generated block of a configuration document with the current table. */
export function updateSettingsDoc(markdown: string): string {
  const start = markdown.indexOf(REFERENCE_BEGIN);
  const end = markdown.indexOf(REFERENCE_END);
  if (start < 0 || end < start) throw new Error("docs/configuration.md lacks the settings markers");
  return `${markdown.slice(0, start)}${REFERENCE_BEGIN}\n${renderSettingsTable()}\n${markdown.slice(end)}`;
}
