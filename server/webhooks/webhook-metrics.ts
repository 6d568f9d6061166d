import { counter, gauge, type Registry } from "../ops/metrics.js";

/** Webhooks' metrics (docs/webhooks.md): events decided, delivered, retried and dropped, and what waits. */
export function webhookMetrics(registry: Registry) {
  return {
    webhookEvents: counter(registry, "cinder_webhook_events_total", "Webhook events this node decided to send, by type (the node that sends an event is the one that counts it)", ["type"]),
    webhookDelivered: counter(registry, "cinder_webhook_delivered_total", "Webhook events the backend acknowledged with a 2xx"),
    webhookRetries: counter(registry, "cinder_webhook_retries_total", "Webhook batches sent again after a failed attempt (an error, a timeout or a non-2xx answer)"),
    webhookDropped: counter(
      registry,
      "cinder_webhook_dropped_total",
      "Webhook events never delivered: queue_full (maxQueue events held already), attempts (maxAttempts failed), closed (still held when the node stopped)",
      ["reason"],
    ),
    webhookQueue: gauge(registry, "cinder_webhook_queue", "Webhook events this node holds: queued and in flight (at most webhooks.maxQueue)"),
  };
}

export type WebhookMetrics = ReturnType<typeof webhookMetrics>;
