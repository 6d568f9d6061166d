import { readFileSync } from "node:fs";
import { planHooks } from "./hooks-setting.js";
import { RENAMED, SETTINGS } from "./table.js";

/** What is wrong with a config file; the message names the file, and the key at fault. */
export class ConfigFileProblem extends Error {
  override readonly name = "ConfigFileProblem";
}

/** Settings whose shape is checked beyond "an object" here already, so their errors name the file too. */
const DEEP_CHECKS: Readonly<Record<string, (value: unknown) => unknown>> = { hooks: planHooks };

/**
 * Reads `npx cinder --config FILE`: a JSON object whose keys are setting names of the settings
 * table (`"port": 4000`, `"auth": {…}`, `"hooks": {…}`), each value of the type the setting
 * takes in code. Flags and env vars override it. Throws a ConfigFileProblem for a file that
 * cannot be read, is not a JSON object, has an unknown key or a value of the wrong kind.
 */
export function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigFileProblem(`${path}: cannot read the config file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ConfigFileProblem(`${path}: not valid JSON (${(err as Error).message})`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new ConfigFileProblem(`${path}: must be a JSON object of settings, e.g. {"port": 4000}`);
  const settings = parsed as Record<string, unknown>;
  for (const [name, value] of Object.entries(settings)) {
    if (!Object.hasOwn(SETTINGS, name)) {
      const renamed = RENAMED[name];
      const hint = renamed ? `; it is now "${renamed.now}"` : " (the settings are listed by npx cinder --help)";
      throw new ConfigFileProblem(`${path}: unknown setting "${name}"${hint}`);
    }
    const problem = SETTINGS[name as keyof typeof SETTINGS].problem(value);
    if (problem) throw new ConfigFileProblem(`${path}: "${name}" ${problem}`);
    try {
      DEEP_CHECKS[name]?.(value);
    } catch (err) {
      throw new ConfigFileProblem(`${path}: ${(err as Error).message}`);
    }
  }
  return settings;
}
