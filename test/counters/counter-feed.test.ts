import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { CounterFeed, type CounterReading } from "../../server/counters/counter-feed.js";
import { createLogger } from "../../server/ops/logger.js";
import { presenceMetrics } from "../../server/presence/presence-metrics.js";
import { metricGroup } from "../support/metrics.js";

const INTERVAL_MS = 100;

describe("the live counter feed", () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  function feed() {
    let value = 0;
    const delivered: Array<[string, number]> = [];
    const counters = new CounterFeed({
      read: async (key): Promise<CounterReading> => ({ key, value }),
      deliver: (topic, reading) => void delivered.push([topic, reading.value]),
      intervalMs: INTERVAL_MS,
      metrics: metricGroup(presenceMetrics),
      log: createLogger("silent", "test"),
    });
    return { counters, delivered, set: (v: number) => void (value = v) };
  }

  it("runs no timer while no counter is watched, and reads again once one is", async () => {
    const { counters, delivered, set } = feed();
    expect(vi.getTimerCount()).toBe(0);
    counters.watch("counter:a", "a", false, "s1", { key: "a", value: 0 });
    set(3);
    await vi.advanceTimersByTimeAsync(INTERVAL_MS);
    expect(delivered).toEqual([["counter:a", 3]]);
    counters.unwatch("counter:a", "s1");
    expect(vi.getTimerCount()).toBe(0);
    // Watched again after a time with no watcher: the feed starts over.
    counters.watch("counter:a", "a", false, "s2", { key: "a", value: 3 });
    set(4);
    await vi.advanceTimersByTimeAsync(INTERVAL_MS);
    expect(delivered).toEqual([["counter:a", 3], ["counter:a", 4]]);
    counters.stop();
    expect(vi.getTimerCount()).toBe(0);
  });
});
