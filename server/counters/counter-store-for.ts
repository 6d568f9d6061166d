import type { Medium } from "../fabric/medium.js";
import type { Logger } from "../ops/logger.js";
import type { CounterMetrics } from "./counter-metrics.js";
import type { CounterStore } from "./counter-store.js";
import { memoryCounters } from "./counter-store-memory.js";
import { RedisCounterStore } from "./counter-store-redis.js";
import { WorkerCounterStore } from "./counter-store-workers.js";

export interface CounterStoreForOptions {
  /** counterMaxKeys: the bound of the increments held (and of the counters kept in memory). */
  maxKeys: number;
  /** counterFlushMs: how often increments are flushed to Redis. */
  flushMs: number;
  now: () => number;
  metrics: CounterMetrics;
  log: Logger;
}

/** Where a thread's counter increments go and its reads come from on `medium`: the main thread (a worker), Redis (the node's Redis connections, one flush per node), or memory. */
export function counterStoreFor(medium: Medium, options: CounterStoreForOptions): CounterStore {
  const { maxKeys, now, metrics } = options;
  switch (medium.kind) {
    case "workers":
      return new WorkerCounterStore({ fabric: medium.fabric, maxPending: maxKeys, metrics });
    case "redis": {
      const { connections } = medium;
      return new RedisCounterStore({ connections, cluster: connections.cluster, flushMs: options.flushMs, maxPending: maxKeys, now, metrics, log: options.log.child({ component: "counters" }) });
    }
    case "memory":
      return memoryCounters({ counterMaxKeys: maxKeys, now, metrics });
  }
}
