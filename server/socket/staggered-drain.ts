import { setTimeout as sleep } from "node:timers/promises";
import { CLOSE } from "./close-codes.js";
import type { SocketConnection } from "./connection.js";

/** How a drain spreads its closes, as the settings of the same names give it (settings/table.ts). */
export interface DrainSettings {
  /** The drain's length, ms (0: all at once). */
  readonly drainPeriod: number;
  /** Time between two batches, ms. */
  readonly drainBatchInterval: number;
  /** Smallest batch, sockets. */
  readonly drainBatchSize: number;
}

/** One batch of a drain, as it is logged and counted. */
export interface DrainBatch {
  /** 1, 2, … */
  batch: number;
  /** Batches planned when the drain began. */
  planned: number;
  closed: number;
  /** Sockets of this thread still open after it. */
  remaining: number;
}

/** How many sockets each batch closes: the period cut into intervals, never below drainBatchSize. */
export function drainBatchSize(sockets: number, settings: DrainSettings): number {
  const slots = settings.drainPeriod === 0 ? 1 : Math.max(1, Math.floor(settings.drainPeriod / settings.drainBatchInterval));
  return Math.max(settings.drainBatchSize, Math.ceil(sockets / slots));
}

/**
 * Closes every socket (1001) in batches spread over drainPeriod, as Phoenix's socket drainer
 * does, so the clients of a node going down reconnect to the others a batch at a time instead
 * of all in the same instant. Each socket's presences leave as it closes. Sockets that opened
 * after the drain began (a connect hook that answered late) go with the last batch.
 */
export async function drainSockets(
  connections: ReadonlySet<SocketConnection>,
  settings: DrainSettings,
  hooks: {
    /** Just before a batch closes: deliver what is still waiting for its sockets. */
    beforeBatch(): void;
    afterBatch(batch: DrainBatch): void;
  },
): Promise<void> {
  const order = [...connections];
  const size = drainBatchSize(order.length, settings);
  const planned = Math.max(1, Math.ceil(order.length / size));
  for (let batch = 1; batch <= planned; batch++) {
    // A full interval after the previous batch, not at a fixed time from the start: a thread too
    // busy to keep the schedule stretches the drain instead of firing late batches back to back.
    if (batch > 1) await sleep(settings.drainBatchInterval);
    const chosen = batch === planned ? [...connections] : order.slice((batch - 1) * size, batch * size);
    hooks.beforeBatch();
    let closed = 0;
    for (const connection of chosen) {
      if (!connection.isOpen) continue;
      connection.end(CLOSE.goingAway, "server shutting down");
      closed++;
    }
    hooks.afterBatch({ batch, planned, closed, remaining: connections.size });
  }
}
