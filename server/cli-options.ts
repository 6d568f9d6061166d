import { parseArgs } from "node:util";
import { ConfigError, renamedMessage, type ServerConfig } from "./config.js";
import { SettingProblem } from "./settings/setting.js";
import { ConfigFileProblem, readConfigFile } from "./settings/config-file.js";
import { RENAMED, SETTINGS, envOf, flagOf } from "./settings/table.js";

export { helpText } from "./settings/help.js";

/** What the command line asked for. */
export interface CliOptions {
  settings: Partial<ServerConfig>;
  /** The app module (`--app`, `APP`); undefined: the demo chat. */
  app: string | undefined;
  help: boolean;
}

/**
 * Reads settings from the config file (`--config FILE`, `CONFIG`), then env vars, then CLI flags
 * (flags win over env vars, both over the file), as the settings table describes them. Throws
 * ConfigError on bad values.
 */
export function settingsFromCli(argv: string[], env: NodeJS.ProcessEnv): CliOptions {
  const flags = Object.fromEntries([...Object.keys(SETTINGS), ...Object.keys(RENAMED)].map((name) => [flagOf(name).slice(2), { type: "string" as const }]));
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { ...flags, app: { type: "string" }, config: { type: "string" }, help: { type: "boolean", short: "h" } }, strict: true });
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  const given = (name: string) => {
    const raw = values[flagOf(name).slice(2)] ?? env[envOf(name)];
    return typeof raw === "string" && raw !== "" ? raw : undefined;
  };
  for (const [name, renamed] of Object.entries(RENAMED)) {
    if (given(name) !== undefined) throw new ConfigError(renamedMessage(name, renamed));
  }
  const file = (values.config as string | undefined) || env.CONFIG || undefined;
  const settings: Record<string, unknown> = file === undefined ? {} : fromFile(file);
  for (const [name, setting] of Object.entries(SETTINGS)) {
    const raw = given(name);
    if (raw === undefined) continue;
    try {
      settings[name] = setting.parse(raw);
    } catch (err) {
      if (err instanceof SettingProblem) throw new ConfigError(`${name} ${err.message}`);
      throw err;
    }
  }
  const app = (values.app as string | undefined) || env.APP || undefined;
  return { settings: settings as Partial<ServerConfig>, app, help: values.help === true };
}

function fromFile(path: string): Record<string, unknown> {
  try {
    return readConfigFile(path);
  } catch (err) {
    if (err instanceof ConfigFileProblem) throw new ConfigError(err.message);
    throw err;
  }
}
