import { checkAuthConfig } from "./auth/auth-config.js";
import { planHooks } from "./settings/hooks-setting.js";
import { SETTINGS, RENAMED, envOf, flagOf, type SettingName, type SettingValues } from "./settings/table.js";

export type { OriginCheck } from "./settings/setting.js";

/**
 * Every setting of a Cinder node, as resolveConfig returns them; derived from the settings table
 * (server/settings/table.ts), where each is described. The same names are CLI flags (kebab-case)
 * and env vars (UPPER_SNAKE), e.g. `maxChannelsPerSocket` = `--max-channels-per-socket` =
 * `MAX_CHANNELS_PER_SOCKET`. Durations are in milliseconds.
 */
export interface ServerConfig extends SettingValues {}

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

const NAMES = Object.keys(SETTINGS) as SettingName[];

/** Fills defaults and rejects impossible values with a message naming the setting. */
export function resolveConfig(options: Partial<ServerConfig>): ServerConfig {
  for (const [name, value] of Object.entries(options)) {
    if (value === undefined || name in SETTINGS) continue;
    const renamed = RENAMED[name];
    if (renamed) throw new ConfigError(renamedMessage(name, renamed));
    throw new ConfigError(`unknown setting ${JSON.stringify(name)} (the settings are listed by npx cinder --help)`);
  }
  const resolved: Record<string, unknown> = {};
  for (const name of NAMES) {
    const setting = SETTINGS[name];
    const value = options[name] ?? setting.defaultValue(resolved);
    const problem = value === undefined ? null : setting.problem(value);
    if (problem) throw new ConfigError(`${name} ${problem}`);
    resolved[name] = value;
  }
  const config = resolved as unknown as ServerConfig;
  checkRelations(config);
  return config;
}

/** One line saying what an old setting is called now, and in which unit. */
export function renamedMessage(name: string, renamed: (typeof RENAMED)[string]): string {
  const { now } = renamed;
  const unit = SETTINGS[now].unit === "ms" ? "milliseconds" : SETTINGS[now].unit;
  return `${name} (${flagOf(name)}, ${envOf(name)}) was in ${renamed.was}; it is now ${now} (${flagOf(now)}, ${envOf(now)}), in ${unit}`;
}

/** What no single setting can check alone. */
function checkRelations(config: ServerConfig): void {
  if (config.dashboard && !config.dashboardKey && !config.demo) {
    throw new ConfigError("dashboard needs a key: set dashboardKey, broadcastKey or secretKeyBase (it is open without one only with demo)");
  }
  if (config.presenceDownPeriod < 2 * config.presenceBroadcastPeriod) {
    throw new ConfigError("presenceDownPeriod must be at least twice presenceBroadcastPeriod");
  }
  if (config.presencePermdownPeriod <= config.presenceDownPeriod) {
    throw new ConfigError("presencePermdownPeriod must be longer than presenceDownPeriod");
  }
  // Each node would sign LongPoll sessions with its own random key, and refuse (410) the
  // sessions of the others as soon as a load balancer sends a poll to another node.
  if (config.redisUrl !== undefined && config.longPoll && !config.secretKeyBase) {
    throw new ConfigError(
      "a cluster node (redisUrl) needs secretKeyBase (SECRET_KEY_BASE), the same on every node: LongPoll sessions are signed with it and move between nodes; set it, or turn LongPoll off (longPoll: false, LONG_POLL=false)",
    );
  }
  if (config.hooks !== undefined) {
    try {
      planHooks(config.hooks);
    } catch (err) {
      throw new ConfigError((err as Error).message);
    }
  }
  if (config.auth !== undefined) {
    try {
      checkAuthConfig(config.auth, config.secretKeyBase);
    } catch (err) {
      throw new ConfigError((err as Error).message);
    }
  }
}

/** The defaults of every setting but nodeName (which is random), as a node without options gets them. */
function defaults(): Omit<ServerConfig, "nodeName"> {
  const resolved: Record<string, unknown> = {};
  for (const name of NAMES) resolved[name] = SETTINGS[name].defaultValue(resolved);
  const { nodeName: _random, ...rest } = resolved as unknown as ServerConfig;
  return rest;
}

export const DEFAULTS: Omit<ServerConfig, "nodeName"> = defaults();
