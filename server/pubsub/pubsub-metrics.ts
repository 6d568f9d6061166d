import { counter, type Registry } from "../ops/metrics.js";

/**
 * This thread's pub/sub metrics: broadcasts started, deliveries, what could not be encoded or
 * sent, and stored broadcasts that failed.
 */
export function pubsubMetrics(registry: Registry) {
  return {
    broadcasts: counter(registry, "cinder_broadcasts_total", "Broadcasts published on this node"),
    deliveries: counter(registry, "cinder_deliveries_total", "Messages handed to subscribers of a topic (one per subscriber per broadcast)"),
    encodeErrors: counter(registry, "cinder_encode_errors_total", "Payloads a serializer could not encode (skipped for that serializer, or answered with an error reply)", ["serializer"]),
    historyStoresFailed: counter(
      registry,
      "cinder_history_stores_failed_total",
      "Stored broadcasts rejected with a StoreError, by reason: unavailable, overloaded, failed (not kept), timeout (no answer in time: may be kept)",
      ["reason"],
    ),
    fellBehind: counter(registry, "cinder_subscribers_fell_behind_total", "Subscribers taken off a topic's live stream for unread bytes past behindBytes, by kind: history (caught up from history) or conflated (latest per key)", ["kind"]),
    caughtUp: counter(registry, "cinder_subscribers_caught_up_total", "Subscribers behind that were caught up and put back on the live stream, by kind", ["kind"]),
    behindResent: counter(registry, "cinder_behind_messages_resent_total", "Messages sent to subscribers behind as they caught up: read from history, or the latest per key", ["kind"]),
    historyGaps: counter(registry, "cinder_history_gaps_total", "Subscribers behind whose history no longer covered what they missed: sent history_gap, then live"),
    conflatedSuperseded: counter(registry, "cinder_conflated_superseded_total", "Messages held for a subscriber behind replaced by a later one with the same key"),
    conflationOverflows: counter(registry, "cinder_conflation_overflows_total", "Subscribers behind closed (1013) for holding more than conflationMaxKeys keys"),
    sendFailures: counter(registry, "cinder_queued_send_failures_total", "Items of the publish queue that failed (the rest still went out)"),
  };
}

export type PubsubMetrics = ReturnType<typeof pubsubMetrics>;
