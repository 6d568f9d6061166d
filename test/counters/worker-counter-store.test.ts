import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { counterMetrics } from "../../server/counters/counter-metrics.js";
import { DEFAULT_WINDOW } from "../../server/counters/counter-window.js";
import { COUNTS_LANE, WORKER_HANDOFF_MS, WorkerCounterStore } from "../../server/counters/counter-store-workers.js";
import { metricGroup } from "../support/metrics.js";

describe("a worker's counter store", () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  it("runs no timer with nothing pending, and hands increments to the main thread a hand-off period after the first", async () => {
    const told: Array<[string, unknown]> = [];
    const store = new WorkerCounterStore({
      fabric: { tell: (lane: string, _to: string, message: unknown) => void told.push([lane, message]), ask: async () => [0] },
      maxPending: 100,
      metrics: metricGroup(counterMetrics),
    } as unknown as ConstructorParameters<typeof WorkerCounterStore>[0]);
    expect(vi.getTimerCount()).toBe(0);
    store.incr("a", DEFAULT_WINDOW, 1, 2);
    store.incr("a", DEFAULT_WINDOW, 1, 3);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(WORKER_HANDOFF_MS);
    expect(told.map(([lane]) => lane)).toEqual([COUNTS_LANE]);
    expect(vi.getTimerCount()).toBe(0);
    // The next increment, after a time with none, is handed off the same.
    store.incr("b", DEFAULT_WINDOW, 1, 1);
    vi.advanceTimersByTime(WORKER_HANDOFF_MS);
    expect(told.length).toBe(2);
    await store.close();
    expect(vi.getTimerCount()).toBe(0);
  });
});
