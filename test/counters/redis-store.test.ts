import { afterEach, describe, expect, it } from "vitest";
import type { RedisConnections } from "../../server/redis/redis-connections.js";
import { HyperLogLog } from "../../server/counters/hyperloglog.js";
import { RedisCounterStore, counterKeyOf } from "../../server/counters/counter-store-redis.js";
import { DEFAULT_WINDOW } from "../../server/counters/counter-window.js";
import { createLogger } from "../../server/ops/logger.js";
import { waitFor } from "../support/wait.js";
import { isDown, isSettled, privateRedis, testConnections, waitConnected } from "../cluster/support.js";
import { HOUR, ManualClock, testCounterMetrics, testCounters } from "./support.js";
import { metricOf } from "../support/metrics.js";

const local = privateRedis();
const opened: Array<{ store: RedisCounterStore; connections: RedisConnections }> = [];

afterEach(async () => {
  if (!local.redis.running) await local.redis.restart();
  for (const { store, connections } of opened.splice(0)) {
    await store.close().catch(() => undefined);
    await connections.close();
  }
  await local.outside.flushall();
});

/** A node's Redis counters on a manual clock; flushed by the test (the timer's interval is an hour). */
async function redisCounters(clock: ManualClock, maxPending = 100_000) {
  const metrics = testCounterMetrics();
  const connections = testConnections(local.redis, `counters-${opened.length}`);
  const store = new RedisCounterStore({ connections, cluster: false, flushMs: HOUR, maxPending, now: clock.now, metrics, log: createLogger("silent", "t") });
  opened.push({ store, connections });
  await waitConnected(connections, "the counters' connections");
  return { ...testCounters(clock, store, metrics), store, connections };
}

describe("counters in Redis", () => {
  it("coalesces: 10,000 increments over 100 counters flush as one pipeline of 100 commands", async () => {
    const clock = new ManualClock();
    const { counters, store, metrics } = await redisCounters(clock);
    for (let i = 0; i < 10_000; i++) counters.incr(`post:${i % 100}`);
    expect(await metricOf(metrics, "cinder_counter_pending")).toBe(100);
    // Nothing reaches Redis before the flush.
    expect(await counters.read("post:7")).toBe(0);
    await store.flush();
    expect(await metricOf(metrics, "cinder_counter_flushes_total")).toBe(1);
    expect(await metricOf(metrics, "cinder_counter_flush_commands_total")).toBe(100);
    expect(await counters.read("post:7")).toBe(100);
    expect(await local.outside.hgetall(counterKeyOf("post:7", DEFAULT_WINDOW))).toEqual({ [String(Math.floor(clock.time / DEFAULT_WINDOW.bucketMs))]: "100" });
  });

  it("slides with the clock: old buckets are trimmed on write and never read", async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1, 12, 0, 0));
    const { counters, store } = await redisCounters(clock);
    const hash = counterKeyOf("room:a", DEFAULT_WINDOW);
    counters.incr("room:a", 5);
    await store.flush();
    clock.advance(3 * HOUR);
    counters.incr("room:a", 2);
    await store.flush();
    expect(await counters.read("room:a")).toBe(7);
    expect(await counters.read("room:a", { window: HOUR })).toBe(2);
    expect(await local.outside.hlen(hash)).toBe(2);
    clock.advance(3 * HOUR);
    expect(await counters.read("room:a")).toBe(2); // the first bucket slid out, still in Redis
    counters.incr("room:a", 1); // a new bucket: the write trims the one that left
    await store.flush();
    expect(await local.outside.hlen(hash)).toBe(2);
    expect(await counters.read("room:a")).toBe(3);
    expect(await local.outside.pttl(hash)).toBeGreaterThan(6 * HOUR);
  });

  it("counts distinct actors with PFADD per bucket, as the in-memory estimator does", async () => {
    const clock = new ManualClock();
    const { counters, store } = await redisCounters(clock);
    const local = new HyperLogLog();
    for (let i = 0; i < 20_000; i++) {
      counters.addActor("room:big", `user-${i}`);
      local.add(`user-${i}`);
    }
    await store.flush();
    expect(await counters.uniques("room:big")).toBe(local.count());
  });

  it("a Redis restart in the middle of a flush: that flush is lost and counted, never sent again; increments made during the outage are held and flushed after", async () => {
    const clock = new ManualClock();
    const { counters, store, connections, metrics } = await redisCounters(clock);
    counters.incr("room:r", 10);
    await store.flush();
    expect(await counters.read("room:r")).toBe(10);

    // Redis stops answering, a flush goes out, and Redis dies with it in flight.
    await local.outside.call("CLIENT", "PAUSE", "30000", "WRITE");
    counters.incr("room:r", 5);
    const inFlight = store.flush();
    expect(await isSettled(inFlight)).toBe(false);
    await local.redis.stop();
    await inFlight;
    expect(await metricOf(metrics, "cinder_counter_dropped_total", { reason: "flush_failed" })).toBe(5);
    await waitFor(() => isDown(connections), "the store to notice the outage");

    // During the outage increments are held, not flushed, not lost.
    counters.incr("room:r", 3);
    await store.flush();
    expect(await metricOf(metrics, "cinder_counter_pending")).toBe(1);

    await local.redis.restart(); // an empty Redis: it kept nothing of before
    await waitConnected(connections, "the store to reconnect");
    await store.flush();
    // Exactly the increments of the outage: the lost flush was not resent on reconnect.
    expect(await counters.read("room:r")).toBe(3);
    expect(await metricOf(metrics, "cinder_counter_dropped_total", { reason: "pending_full" })).toBe(0);
  });

  it("holds at most maxPending counters while Redis is unreachable, then drops and counts", async () => {
    const clock = new ManualClock();
    const { counters, store, connections, metrics } = await redisCounters(clock, 3);
    await local.redis.stop();
    await waitFor(() => isDown(connections), "the store to notice the outage");
    for (const key of ["a", "b", "c", "d", "e"]) counters.incr(key, 2);
    counters.incr("a", 1); // an existing counter still takes increments
    expect(await metricOf(metrics, "cinder_counter_pending")).toBe(3);
    expect(await metricOf(metrics, "cinder_counter_dropped_total", { reason: "pending_full" })).toBe(4);
    await local.redis.restart();
    await waitConnected(connections, "the store to reconnect");
    await store.flush();
    expect(await Promise.all(["a", "b", "c", "d"].map((key) => counters.read(key)))).toEqual([3, 2, 2, 0]);
  });
});
