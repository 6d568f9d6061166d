import { parseArgs } from "node:util";
import { ConfigError, type OriginCheck, type ServerConfig } from "./config.js";
import type { LogLevel } from "./ops/logger.js";

type Kind = "integer" | "string" | "boolean" | "origin" | "json";

/** Every setting the CLI and env vars accept, with its type. Names follow ServerConfig. */
const SETTINGS: Record<keyof ServerConfig, Kind> = {
  port: "integer",
  host: "string",
  workers: "integer",
  redisUrl: "string",
  redisSharded: "boolean",
  nodeName: "string",
  secretKeyBase: "string",
  auth: "json",
  logLevel: "string",
  checkOrigin: "origin",
  publicUrl: "string",
  socketPath: "string",
  broadcastKey: "string",
  maxChannelsPerSocket: "integer",
  maxQueuedPushes: "integer",
  historyMaxBytes: "integer",
  historyMaxRecover: "integer",
  idleTimeout: "integer",
  maxPayloadLength: "integer",
  maxBufferedBytes: "integer",
  maxNodeBufferedBytes: "integer",
  drainPeriod: "integer",
  drainBatchInterval: "integer",
  drainBatchSize: "integer",
  maxPayloadDepth: "integer",
  maxTopicLength: "integer",
  maxEventLength: "integer",
  maxFramesPerSecond: "integer",
  maxJoinsPerSecond: "integer",
  maxPresencePerSecond: "integer",
  maxInboundBytesPerSecond: "integer",
  maxConnectsPerSecondPerIp: "integer",
  demo: "boolean",
  dashboard: "boolean",
  dashboardKey: "string",
  topicWorkerTtl: "integer",
  presenceBroadcastPeriod: "integer",
  presenceDownPeriod: "integer",
  presencePermdownPeriod: "integer",
  presenceDiffCoalesceMs: "integer",
  presenceDiffCoalesceMaxMs: "integer",
  presenceResyncBytes: "integer",
  presenceEagerFlushMs: "integer",
  counterFlushMs: "integer",
  counterMaxKeys: "integer",
  countIntervalMs: "integer",
  longPoll: "boolean",
  longPollWindowMs: "integer",
  longPollMaxBufferedBytes: "integer",
  longPollMaxRelays: "integer",
};

const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const upperSnake = (name: string) => name.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();

export const USAGE = `Usage: cinder [options]

Every option is also an env var (--max-channels-per-socket = MAX_CHANNELS_PER_SOCKET);
flags win over env vars.

${Object.keys(SETTINGS)
  .map((name) => `  --${kebab(name)}`.padEnd(34) + upperSnake(name))
  .join("\n")}
  --app <module>                   APP (a module whose default export sets up the server; default: the demo chat)
  --help
`;

/** Reads settings from env vars, then CLI flags (flags win). Throws ConfigError on bad values. */
export function settingsFromCli(
  argv: string[],
  env: NodeJS.ProcessEnv,
): { settings: Partial<ServerConfig>; app: string | undefined; help: boolean } {
  const flagSpec = Object.fromEntries(
    Object.keys(SETTINGS).map((name) => [kebab(name), { type: "string" as const }]),
  );
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { ...flagSpec, app: { type: "string" }, help: { type: "boolean" } }, strict: true });
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  const settings: Record<string, unknown> = {};
  for (const [name, kind] of Object.entries(SETTINGS)) {
    const raw = (parsed.values as Record<string, string | undefined>)[kebab(name)] ?? env[upperSnake(name)];
    if (raw === undefined || raw === "") continue;
    settings[name] = convert(name, kind, raw);
  }
  const app = (parsed.values.app as string | undefined) || env.APP || undefined;
  return { settings: settings as Partial<ServerConfig>, app, help: parsed.values.help === true };
}

function convert(name: string, kind: Kind, raw: string): unknown {
  switch (kind) {
    case "integer": {
      const value = Number(raw);
      if (!Number.isInteger(value)) throw new ConfigError(`${name} must be an integer, got "${raw}"`);
      return value;
    }
    case "boolean":
      if (/^(1|true|yes|on)$/i.test(raw)) return true;
      if (/^(0|false|no|off)$/i.test(raw)) return false;
      throw new ConfigError(`${name} must be true or false, got "${raw}"`);
    case "origin":
      return parseOriginCheck(raw);
    case "json":
      try {
        return JSON.parse(raw) as unknown;
      } catch {
        throw new ConfigError(`${name} must be JSON, e.g. '{"phoenixToken":{"salt":"user socket"}}'`);
      }
    default:
      return name === "logLevel" ? (raw as LogLevel) : raw;
  }
}

/** "true" | "false" | a comma-separated list of origins or //host patterns. */
function parseOriginCheck(raw: string): OriginCheck {
  if (/^(1|true)$/i.test(raw)) return true;
  if (/^(0|false)$/i.test(raw)) return false;
  return raw.split(",").map((s) => s.trim()).filter(Boolean);
}
