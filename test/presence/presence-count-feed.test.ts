import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { PresenceCountFeed } from "../../server/presence/presence-count-feed.js";
import type { PresenceCount } from "../../server/presence/presence-counts.js";
import { presenceMetrics } from "../../server/presence/presence-metrics.js";
import { metricGroup, metricOf } from "../support/metrics.js";

const INTERVAL_MS = 100;

describe("the presence_count feed", () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  function feed() {
    const counts = new Map<string, PresenceCount>();
    const counted = new Set<string>();
    let changed: (topic: string) => void = () => {};
    const delivered: Array<[string, number]> = [];
    const metrics = metricGroup(presenceMetrics);
    const countFeed = new PresenceCountFeed({
      presence: { count: (topic) => counts.get(topic) ?? { keys: 0, metas: 0 }, onCountChange: (listener) => void (changed = listener) },
      intervalMs: INTERVAL_MS,
      counted: (topic) => counted.has(topic),
      deliver: (topic, count) => void delivered.push([topic, count.keys]),
      metrics,
    });
    const change = (topic: string, keys: number) => (counts.set(topic, { keys, metas: keys }), changed(topic));
    return { countFeed, counted, change, delivered, metrics };
  }

  it("runs no timer with no count to send, and sends again once a count subscriber sees a change", async () => {
    const { countFeed, counted, change, delivered, metrics } = feed();
    expect(vi.getTimerCount()).toBe(0);
    expect(await metricOf(metrics, "cinder_count_topics", { kind: "presence" })).toBe(0);
    change("room:a", 1);
    expect(vi.getTimerCount()).toBe(0);

    counted.add("room:a");
    change("room:a", 2);
    await vi.advanceTimersByTimeAsync(INTERVAL_MS);
    expect(delivered).toEqual([["room:a", 2]]);
    expect(await metricOf(metrics, "cinder_count_topics", { kind: "presence" })).toBe(1);

    // Its count subscribers leave: the next tick forgets the topic, and the timer stops.
    counted.delete("room:a");
    await vi.advanceTimersByTimeAsync(INTERVAL_MS);
    expect(await metricOf(metrics, "cinder_count_topics", { kind: "presence" })).toBe(0);
    expect(vi.getTimerCount()).toBe(0);

    counted.add("room:a");
    change("room:a", 3);
    await vi.advanceTimersByTimeAsync(INTERVAL_MS);
    expect(delivered).toEqual([["room:a", 2], ["room:a", 3]]);
    countFeed.stop();
    expect(vi.getTimerCount()).toBe(0);
  });
});
