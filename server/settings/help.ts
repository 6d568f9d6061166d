import { GROUPS, type Setting } from "./setting.js";
import { SETTINGS, envOf, flagOf } from "./table.js";

const WIDTH = 100;
const INDENT = "      ";
/** Where the env var column starts; a longer flag keeps two spaces before it. */
const ENV_COLUMN = 44;

/** `npx cinder --help`, from the settings table: each setting's flag, env var, description, type, unit, default and bounds. */
export function helpText(): string {
  const lines = [
    "Usage: npx cinder [options]",
    "",
    ...wrap(
      "Runs a Cinder node: the demo chat, your app with --app, or a backend's channels with the hooks setting. Every setting is a flag and an env var " +
        "(--max-channels-per-socket 50, or MAX_CHANNELS_PER_SOCKET=50); flags win over env vars. " +
        "Durations are in milliseconds. The same settings are createServer/startNode options (docs/configuration.md).",
      "",
    ),
    "",
    ...entry("--app <module>", "APP", "A module whose default export sets up the server (it is given the server, and adds channels).", "default the demo chat"),
    ...entry("--config <file>", "CONFIG", "A JSON file of settings by name ({\"port\": 4000, \"hooks\": {…}}); flags and env vars override it.", "default none"),
    ...entry("-h, --help", "", "Print this help.", ""),
  ];
  for (const group of GROUPS) {
    lines.push("", group);
    for (const [name, setting] of Object.entries(SETTINGS) as [string, Setting<unknown>][]) {
      if (setting.group === group) lines.push(...entry(`${flagOf(name)} ${setting.placeholder}`, envOf(name), setting.description, facts(setting)));
    }
  }
  return `${lines.join("\n")}\n`;
}

/** "integer, ms · default 60000 · 8000–960000, or 0 = never" */
export function facts(setting: Setting<unknown>): string {
  const type = setting.unit ? `${setting.type}, ${setting.unit}` : setting.type;
  return [type, `default ${setting.defaultText}`, setting.bounds].filter(Boolean).join(" · ");
}

function entry(flag: string, env: string, description: string, details: string): string[] {
  const head = `  ${flag}`;
  const first = env ? `${head.padEnd(ENV_COLUMN - 2)}  ${env}` : head;
  return [first, ...wrap(description, INDENT), ...(details ? wrap(details, INDENT) : [])];
}

function wrap(text: string, indent: string): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/)) {
    if (line && indent.length + line.length + 1 + word.length > WIDTH) {
      lines.push(indent + line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(indent + line);
  return lines;
}
