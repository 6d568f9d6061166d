import { counter, gauge, type Registry } from "../ops/metrics.js";

/**
 * History's metrics: what a thread keeps in memory, the stores it waits on, and the refill of what
 * pub/sub lost.
 */
export function historyMetrics(registry: Registry) {
  return {
    historyBytes: gauge(registry, "cinder_history_bytes", "Bytes of history frames kept in memory by this thread (a node without Redis; capped by historyMaxBytes)"),
    historyRefills: counter(
      registry,
      "cinder_history_refilled_total",
      "History broadcasts this node missed from Redis pub/sub (a reconnect; the start of a new epoch, as after Redis restarted empty) and read back from the topic's stream for its subscribers",
    ),
    historyUnrefilled: counter(
      registry,
      "cinder_history_unrefilled_total",
      "History broadcasts this node missed from Redis pub/sub and could not read back (no longer in the topic's stream, or the read failed): its live subscribers never got them",
    ),
    historyReads: counter(
      registry,
      "cinder_history_reads_total",
      "History reads this node's main thread was asked for from Redis (joins with or without _since, API reads), its workers' included",
    ),
    historyStoreReads: counter(
      registry,
      "cinder_history_store_reads_total",
      "History reads this node sent to Redis for them: reads of one topic asked for together share one (historyReadCoalesceMax), so this stays under cinder_history_reads_total during a rejoin storm",
    ),
    historyStoresPending: gauge(
      registry,
      "cinder_history_stores_pending",
      "Stored broadcasts (broadcastStored, POST /api/broadcast on a history topic) this thread sent on and waits on, by what it waits on: redis, or main_thread (a worker; its node's main thread then waits on Redis for it too). At most historyMaxPendingStores per thread",
      ["on"],
    ),
  };
}

export type HistoryMetrics = ReturnType<typeof historyMetrics>;
