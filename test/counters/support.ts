import type { Channel } from "phoenix";
import { Counters } from "../../server/counters/counters.js";
import type { CounterReading } from "../../server/counters/counter-feed.js";
import type { CounterStore } from "../../server/counters/counter-store.js";
import { MemoryCounterStore } from "../../server/counters/counter-store-memory.js";
import { createLogger } from "../../server/ops/logger.js";
import { counterMetrics } from "../../server/counters/counter-metrics.js";
import { presenceMetrics } from "../../server/presence/presence-metrics.js";
import { metricGroup } from "../support/metrics.js";

/** A clock the test moves by hand: windows slide without waiting. */
export class ManualClock {
  constructor(public time = Date.UTC(2026, 0, 1, 12, 0, 0)) {}
  readonly now = (): number => this.time;
  advance(ms: number): void {
    this.time += ms;
  }
}

export const HOUR = 3_600_000;
export const MINUTE = 60_000;

/** Counters' metrics, with the live-count topics they share with presence, on a registry of their own. */
export const testCounterMetrics = () => metricGroup((registry) => ({ ...counterMetrics(registry), ...presenceMetrics(registry) }));

/** Counters over `store` (memory by default) on a manual clock, with no live-count subscribers. */
export function testCounters(clock: ManualClock, store?: CounterStore, metrics = testCounterMetrics()) {
  const counterStore = store ?? new MemoryCounterStore({ maxKeys: 1000, now: clock.now });
  const delivered: Array<{ topic: string; reading: CounterReading }> = [];
  const counters = new Counters({
    store: counterStore,
    now: clock.now,
    metrics,
    log: createLogger("silent", "test"),
    deliver: (topic, reading) => delivered.push({ topic, reading }),
    intervalMs: 60_000,
  });
  return { counters, store: counterStore, metrics, delivered };
}

/** A push to a counter channel: resolves with an ok reply's response, rejects with an error's (or on timeout). */
export function ask<T = Record<string, unknown>>(channel: Channel, event: string, payload: object): Promise<T> {
  return new Promise((resolve, reject) => {
    channel.push(event, payload).receive("ok", resolve).receive("error", reject).receive("timeout", () => reject(new Error("timeout")));
  });
}
