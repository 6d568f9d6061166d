import type { Logger } from "./logger.js";

export interface DrainOnSignalsOptions {
  /** The signals that start a drain; default SIGTERM and SIGINT. */
  signals?: readonly NodeJS.Signals[];
  /**
   * Runs once the drain is over, before the process ends: close what else the app holds (a
   * database pool, its own servers). Given the drain's error if it failed.
   */
  onDrained?: (err?: unknown) => void | Promise<void>;
}

/** How long the process stays after a drain, so the last close frames leave before it goes. */
const LINGER_MS = 100;

/**
 * On the first of `signals`, drains with `close` (docs/operations.md), then ends the process
 * with code 0 (1 if the drain or `onDrained` failed).
 * The same signal again while draining is ignored: a terminal's Ctrl-C reaches both npm and
 * the node, and npm passes it on a second time. Returns a function that removes the handlers.
 */
export function drainOnSignals(close: () => Promise<void>, log: Logger, options: DrainOnSignalsOptions = {}): () => void {
  const signals = options.signals ?? ["SIGTERM", "SIGINT"];
  let draining = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (draining) {
      log.debug({ signal }, "already draining");
      return;
    }
    draining = true;
    log.info({ signal }, "draining");
    close().then(
      () => finish(undefined),
      (err: unknown) => {
        log.error({ err }, "drain failed");
        return finish(err);
      },
    );
  };
  const finish = async (err: unknown) => {
    try {
      await options.onDrained?.(err);
    } catch (hookErr) {
      log.error({ err: hookErr }, "onDrained failed");
      err ??= hookErr;
    }
    process.exitCode = err === undefined ? 0 : 1;
    setTimeout(() => process.exit(), LINGER_MS).unref();
  };
  for (const signal of signals) process.on(signal, onSignal);
  return () => {
    for (const signal of signals) process.off(signal, onSignal);
  };
}
