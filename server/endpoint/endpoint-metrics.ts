import { counter, gauge, type Registry } from "../ops/metrics.js";

/** The endpoints' metrics: open WebSockets, and the upgrades and LongPoll handshakes refused. */
export function endpointMetrics(registry: Registry) {
  return {
    sockets: gauge(registry, "cinder_sockets", "Open WebSockets"),
    connectsRejected: counter(registry, "cinder_connects_rejected_total", "WebSocket upgrades refused (bad vsn, origin, connect hook)", ["reason"]),
  };
}

export type EndpointMetrics = ReturnType<typeof endpointMetrics>;
