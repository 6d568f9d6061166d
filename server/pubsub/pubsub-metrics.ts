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
    sendFailures: counter(registry, "cinder_queued_send_failures_total", "Items of the publish queue that failed (the rest still went out)"),
  };
}

export type PubsubMetrics = ReturnType<typeof pubsubMetrics>;
