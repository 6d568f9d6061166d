import { counter, gauge, type Registry } from "../ops/metrics.js";

/**
 * Counters' metrics (docs/counters.md): increments, what waits for a flush, the flushes, and what
 * a node without Redis keeps.
 */
export function counterMetrics(registry: Registry) {
  return {
    counterIncrements: counter(registry, "cinder_counter_increments_total", "Counter increments and actor ids accepted on this thread"),
    counterPending: gauge(registry, "cinder_counter_pending", "Counters and actor ids waiting on this thread for the next flush (at most counterMaxKeys)"),
    counterDropped: counter(
      registry,
      "cinder_counter_dropped_total",
      "Counter increments (their amounts) and actor ids lost: pending_full (counterMaxKeys reached while Redis was unreachable), flush_failed (Redis failed a flush)",
      ["reason"],
    ),
    counterFlushes: counter(registry, "cinder_counter_flushes_total", "Pipelines of coalesced counter increments this node sent to Redis"),
    counterFlushCommands: counter(registry, "cinder_counter_flush_commands_total", "Redis commands in those pipelines (one per counter written)"),
    counterKeys: gauge(registry, "cinder_counters", "Counters kept in memory by this thread (a node without Redis; at most counterMaxKeys)"),
    counterEvictions: counter(registry, "cinder_counter_evictions_total", "Counters forgotten because counterMaxKeys were kept (the one written longest ago goes)"),
  };
}

export type CounterMetrics = ReturnType<typeof counterMetrics>;
