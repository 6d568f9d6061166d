import { counter, gauge, type Registry } from "../ops/metrics.js";

/** The endpoints' metrics: open WebSockets, and the upgrades and LongPoll handshakes refused. */
export function endpointMetrics(registry: Registry) {
  return {
    sockets: gauge(registry, "cinder_sockets", "Open WebSockets"),
    connectsRejected: counter(registry, "cinder_connects_rejected_total", "WebSocket upgrades refused, by reason: vsn, serializer, origin, rate, connect, token_*, connect_error, dashboard_key, saturated (HTTP 503: maxPendingJoins joins in progress on the thread)", ["reason"]),
  };
}

export type EndpointMetrics = ReturnType<typeof endpointMetrics>;
