import { facts } from "./help.js";
import { GROUPS, type Setting } from "./setting.js";
import { RENAMED, SETTINGS, envOf, flagOf } from "./table.js";

/**
 * docs/configuration.md, from the settings table: a test compares the file with this, and
 * `npm run docs:config` writes it.
 */
export function configurationReference(): string {
  const out = [
    "# Configuration",
    "",
    "<!-- Generated from the settings table (server/settings/table.ts) by `npm run docs:config`: edit the table, not this file. -->",
    "",
    "Every setting is a `createServer` / `startNode` option, a CLI flag (`npx cinder --max-channels-per-socket 50`)",
    "and an env var (`MAX_CHANNELS_PER_SOCKET=50`); flags win over env vars. `npx cinder --help` prints this list.",
    "`npx cinder --config cinder.json` reads them from a JSON file too, by name (`{\"port\": 4000, \"auth\": {…}}`), each",
    "value of the type it has as an option; env vars and flags override the file ([Backend hooks](backend-hooks.md#the-config-file)).",
    "A bad value, or a name Cinder does not know, stops the server at start with one line naming the setting.",
    "Durations are in milliseconds ([Units](units.md)).",
    "",
    "| CLI only | env var | meaning |",
    "|---|---|---|",
    "| `--app <module>` | `APP` | the app module `npx cinder` loads (its default export sets up the server); default: the demo chat (none with `hooks` set) |",
    "| `--config <file>` | `CONFIG` | a JSON file of settings by name; a wrong one stops the server with a line naming the file, the key and the problem |",
    "| `--help`, `-h` | — | print every setting with its description, default and bounds |",
  ];
  for (const group of GROUPS) {
    out.push("", `## ${group}`, "", "| setting | flag / env var | type · default · values | meaning |", "|---|---|---|---|");
    for (const [name, setting] of Object.entries(SETTINGS) as [string, Setting<unknown>][]) {
      if (setting.group !== group) continue;
      out.push(`| \`${name}\` | \`${flagOf(name)}\` \`${envOf(name)}\` | ${cell(facts(setting))} | ${cell(setting.description)} |`);
    }
  }
  out.push("", "## Renamed", "", "These names are refused, with a line naming the new one: their unit changed.", "", "| was | now |", "|---|---|");
  for (const [name, { now, was }] of Object.entries(RENAMED)) out.push(`| \`${name}\` (${was}) | \`${now}\` (${SETTINGS[now].unit}) |`);
  return `${out.join("\n")}\n`;
}

function cell(text: string): string {
  return text.replace(/\|/g, "\\|");
}
