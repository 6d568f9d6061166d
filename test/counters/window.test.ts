import { describe, expect, it } from "vitest";
import { CounterError } from "../../server/counters/counter-window.js";
import { MemoryCounterStore } from "../../server/counters/counter-store-memory.js";
import { HOUR, MINUTE, ManualClock, testCounters } from "./support.js";
import { metricOf } from "../support/metrics.js";

describe("sliding-window counters in memory, on an injected clock", () => {
  it("counts over the last 6 hours in 5-minute buckets and forgets what slid out", async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1, 12, 0, 0)); // on a bucket boundary
    const { counters } = testCounters(clock);
    counters.incr("room:lobby");
    counters.incr("room:lobby", 4);
    expect(await counters.read("room:lobby")).toBe(5);

    clock.advance(3 * HOUR);
    counters.incr("room:lobby", 10);
    expect(await counters.read("room:lobby")).toBe(15);
    expect(await counters.read("room:lobby", { window: HOUR })).toBe(10);

    // The first increments' bucket is the oldest one of the window until 6 h after it began…
    clock.advance(3 * HOUR - 1);
    expect(await counters.read("room:lobby")).toBe(15);
    // …and then it slides out whole.
    clock.advance(1);
    expect(await counters.read("room:lobby")).toBe(10);
    clock.advance(3 * HOUR);
    expect(await counters.read("room:lobby")).toBe(0);
  });

  it("errs only at the far edge, by at most the oldest bucket", async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1, 12, 0, 0));
    const { counters } = testCounters(clock);
    clock.advance(4 * MINUTE); // late in a bucket
    counters.incr("post:9", 7);
    // Its bucket began at 12:00 and is in the window until 18:00; at 18:00 the increment is
    // only 5 h 56 min old, but its whole bucket slides out: a read covers 5 h 55 min to 6 h.
    clock.advance(6 * HOUR - 4 * MINUTE - 1);
    expect(await counters.read("post:9")).toBe(7);
    clock.advance(1);
    expect(await counters.read("post:9")).toBe(0);
  });

  it("keeps other windows for keys that match a pattern", async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1, 12, 0, 0));
    const { counters } = testCounters(clock);
    counters.configure("post:*", { window: HOUR, bucket: MINUTE });
    expect(counters.windowOf("post:1")).toEqual({ bucketMs: MINUTE, buckets: 60 });
    expect(counters.windowOf("room:1")).toEqual({ bucketMs: 5 * MINUTE, buckets: 72 });
    counters.incr("post:1", 3);
    counters.incr("room:1", 3);
    clock.advance(HOUR);
    expect(await counters.read("post:1")).toBe(0);
    expect(await counters.read("room:1")).toBe(3);
  });

  it("counts distinct actors per window", async () => {
    const clock = new ManualClock();
    const { counters } = testCounters(clock);
    for (const user of ["ada", "bob", "ada", 42, "42"]) counters.addActor("room:lobby", user);
    expect(await counters.uniques("room:lobby")).toBe(3); // 42 and "42" are the same actor
    clock.advance(2 * HOUR);
    counters.addActor("room:lobby", "cy");
    counters.addActor("room:lobby", "ada");
    expect(await counters.uniques("room:lobby")).toBe(4);
    expect(await counters.uniques("room:lobby", { window: HOUR })).toBe(2);
    clock.advance(5 * HOUR);
    expect(await counters.uniques("room:lobby")).toBe(2);
  });

  it("forgets the counter written longest ago past counterMaxKeys, and counts it", async () => {
    const clock = new ManualClock();
    const { counters, metrics } = testCounters(clock, undefined);
    const store = new MemoryCounterStore({ maxKeys: 2, now: clock.now, onEvict: () => metrics.counterEvictions.inc() });
    const bounded = testCounters(clock, store, metrics).counters;
    bounded.incr("a");
    bounded.incr("b");
    bounded.incr("a");
    bounded.incr("c");
    expect(store.size).toBe(2);
    expect([await bounded.read("a"), await bounded.read("b"), await bounded.read("c")]).toEqual([2, 0, 1]);
    expect(await metricOf(metrics, "cinder_counter_evictions_total")).toBe(1);
    expect(await counters.read("a")).toBe(0);
  });
});

describe("bad input gets a clear error", () => {
  const { counters } = testCounters(new ManualClock());
  const cases: Array<[string, () => unknown, RegExp]> = [
    ["an empty key", () => counters.incr(""), /non-empty string, got ""/],
    ["a key that is not a string", () => counters.incr(7 as unknown as string), /non-empty string, got 7/],
    ["a huge key", () => counters.incr("k".repeat(300)), /at most 256 characters, got 300/],
    ["a key with control characters", () => counters.incr("room:\n"), /control characters/],
    ["a NaN increment", () => counters.incr("k", Number.NaN), /finite number, got NaN/],
    ["an infinite increment", () => counters.incr("k", Number.POSITIVE_INFINITY), /finite number, got Infinity/],
    ["a negative increment", () => counters.incr("k", -1), /must not be negative/],
    ["a fractional increment", () => counters.incr("k", 1.5), /whole number, got 1.5/],
    ["a huge increment", () => counters.incr("k", 1e12), /at most 1000000, got 1000000000000/],
    ["an increment that is a string", () => counters.incr("k", "1" as unknown as number), /finite number, got "1"/],
    ["an empty actor", () => counters.addActor("k", ""), /actor id must be a non-empty string/],
    ["a fractional actor", () => counters.addActor("k", 1.5), /actor id must be a non-empty string or an integer, got 1.5/],
    ["a bucket under a second", () => counters.configure("x:*", { window: 1000, bucket: 10 }), /at least 1000/],
    ["a window not a multiple of its bucket", () => counters.configure("x:*", { window: 90_000, bucket: 60_000 }), /multiple of the bucket/],
    ["too many buckets", () => counters.configure("x:*", { window: 2000 * 1000, bucket: 1000 }), /at most 1440 buckets, got 2000/],
  ];
  for (const [what, act, message] of cases) {
    it(`refuses ${what}`, () => {
      expect(act).toThrow(CounterError);
      expect(act).toThrow(message);
    });
  }

  it("refuses read windows that are not positive or longer than the key keeps", async () => {
    await expect(counters.read("k", { window: 0 })).rejects.toThrow(/positive number of milliseconds, got 0/);
    await expect(counters.read("k", { window: 7 * 3_600_000 })).rejects.toThrow(/longer than the 21600000 ms that "k" keeps/);
    await expect(counters.uniques("", {})).rejects.toThrow(CounterError);
  });

  it("ignores an increment of zero", async () => {
    counters.incr("zero", 0);
    expect(await counters.read("zero")).toBe(0);
  });
});
