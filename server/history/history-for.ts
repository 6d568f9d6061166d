import type { Medium } from "../fabric/medium.js";
import type { Logger } from "../ops/logger.js";
import type { FabricMetrics } from "../fabric/fabric-metrics.js";
import type { HistoryAuthority } from "./history.js";
import type { HistoryMetrics } from "./history-metrics.js";
import { MemoryHistoryAuthority, type NumberedDelivery } from "./history-memory.js";
import { RedisHistoryAuthority } from "./history-redis.js";
import { WorkerHistoryAuthority } from "./history-workers.js";
import type { StoreLimits } from "./pending-stores.js";

export interface HistoryForOptions {
  /** Byte cap of the history kept in memory (historyMaxBytes). */
  maxBytes: number;
  /** Stored broadcasts in flight and how long each is waited on (historyMaxPendingStores, historyStoreTimeoutMs). */
  stores: StoreLimits;
  /** With Redis: reads of one topic one Redis read may serve at most (historyReadCoalesceMax). */
  coalesceMax: number;
  /** In memory: hands a numbered broadcast to the replicas with interest (this thread's subscribers, or the node's workers). */
  delivery: NumberedDelivery;
  metrics: HistoryMetrics & Pick<FabricMetrics, "fabricSent" | "fabricReceived">;
  log: Logger;
}

/** The authority of a thread's history topics on `medium`: the main thread (a worker), Redis (the node's Redis connections), or this thread, in memory. */
export function historyFor(medium: Medium, options: HistoryForOptions): HistoryAuthority {
  const { stores, metrics } = options;
  switch (medium.kind) {
    case "workers":
      return new WorkerHistoryAuthority({ fabric: medium.fabric, stores, metrics });
    case "redis":
      return new RedisHistoryAuthority(medium, { stores, coalesceMax: options.coalesceMax, metrics, log: options.log.child({ component: "history" }) });
    case "memory":
      return new MemoryHistoryAuthority({ maxBytes: options.maxBytes, metrics, delivery: options.delivery });
  }
}
