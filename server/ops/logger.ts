import { pino, type Logger } from "pino";

export type { Logger };

export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";

export const LOG_LEVELS: readonly LogLevel[] = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

/** JSON logs on stdout; connection and channel lifecycle are logged at debug. */
export function createLogger(level: LogLevel, nodeName: string): Logger {
  return pino({ level, base: { node: nodeName } });
}
