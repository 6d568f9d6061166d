/**
 * Counters as a node runs them, in this process: over memory, or over Redis with the node's
 * coalescing and flush (a real redis-server). For the counters benchmark.
 */
import { RedisConnections } from "../../server/redis/redis-connections.js";
import { Counters } from "../../server/counters/counters.js";
import type { CounterStore } from "../../server/counters/counter-store.js";
import { MemoryCounterStore } from "../../server/counters/counter-store-memory.js";
import { RedisCounterStore } from "../../server/counters/counter-store-redis.js";
import { createLogger } from "../../server/ops/logger.js";
import { nodeMetrics, type NodeMetrics } from "../../server/node-metrics.js";

export interface CounterRig {
  counters: Counters;
  store: CounterStore;
  metrics: NodeMetrics;
  close(): Promise<void>;
}

function rigOf(store: CounterStore, metrics: NodeMetrics, close: () => Promise<void>): CounterRig {
  const counters = new Counters({ store, now: Date.now, metrics, log: createLogger("silent", "bench"), deliver: () => {}, intervalMs: 60_000 });
  return { counters, store, metrics, close: async () => (counters.stop(), await close()) };
}

export function memoryRig(maxKeys = 1_000_000): CounterRig & { store: MemoryCounterStore } {
  const metrics = nodeMetrics({ processMetrics: false });
  const store = new MemoryCounterStore({ maxKeys, now: Date.now });
  return { ...rigOf(store, metrics, async () => {}), store };
}

export async function redisRig(url: string, flushMs = 1000): Promise<CounterRig & { store: RedisCounterStore }> {
  const metrics = nodeMetrics({ processMetrics: false });
  const connections = new RedisConnections({ url, nodeName: "bench" });
  await new Promise<void>((resolve) => connections.onReady((role) => role === "publisher" && resolve()));
  const store = new RedisCounterStore({
    connections,
    cluster: false,
    flushMs,
    maxPending: 1_000_000,
    now: Date.now,
    metrics,
    log: createLogger("silent", "bench"),
  });
  return { ...rigOf(store, metrics, async () => (await store.close(), await connections.close())), store };
}
