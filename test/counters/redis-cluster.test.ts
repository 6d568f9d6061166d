import { beforeAll, describe, expect, it } from "vitest";
import { HyperLogLog } from "../../server/counters/hyperloglog.js";
import { RedisCounterStore } from "../../server/counters/counter-store-redis.js";
import { createLogger } from "../../server/ops/logger.js";
import { perFile } from "../support/opened.js";
import type { RedisCluster } from "../support/redis-cluster.js";
import { testConnections, waitConnected } from "../cluster/support.js";
import { HOUR, ManualClock, testCounterMetrics, testCounters } from "./support.js";
import { metricOf } from "../support/metrics.js";

// A three-master Redis Cluster: the counters of one flush live on different masters.
const opened = perFile();
let cluster: RedisCluster;

beforeAll(async () => {
  cluster = await opened.redisCluster({ masters: 3 });
});

describe("counters on a Redis Cluster", () => {
  it("flushes counters that live on every master, and reads counts and distinct actors from each counter's slot", async () => {
    const clock = new ManualClock();
    const metrics = testCounterMetrics();
    const connections = testConnections(cluster, "counters");
    const store = new RedisCounterStore({ connections, cluster: connections.cluster, flushMs: HOUR, maxPending: 10_000, now: clock.now, metrics, log: createLogger("silent", "t") });
    try {
      await waitConnected(connections, "the cluster connections");
      const { counters } = testCounters(clock, store, metrics);
      const keys = Array.from({ length: 50 }, (_, i) => `post:${i}`).concat(["we{ird}:key"]);
      const estimator = new HyperLogLog();
      for (const [i, key] of keys.entries()) {
        counters.incr(key, i + 1);
        for (let a = 0; a < 30; a++) counters.addActor(key, `user-${a}`);
      }
      for (let a = 0; a < 30; a++) estimator.add(`user-${a}`);
      // Two buckets for one counter: its distinct actors are a union over two keys of one slot.
      clock.advance(HOUR);
      counters.incr("post:0", 100);
      counters.addActor("post:0", "late-user");
      await store.flush();
      expect(await metricOf(metrics, "cinder_counter_dropped_total")).toBe(0);
      expect(await Promise.all(keys.map((key) => counters.read(key)))).toEqual(keys.map((_, i) => i + 1 + (i === 0 ? 100 : 0)));
      estimator.add("late-user");
      expect(await counters.uniques("post:0")).toBe(estimator.count());
      expect(await counters.uniques("we{ird}:key")).toBe(await counters.uniques("post:1"));
    } finally {
      await store.close();
      await connections.close();
    }
  });
});
