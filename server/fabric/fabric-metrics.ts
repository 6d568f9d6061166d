import { counter, gauge, type Registry } from "../ops/metrics.js";

/** The fabric's metrics: broadcasts between nodes, and the node request and relay lanes. */
export function fabricMetrics(registry: Registry) {
  return {
    nodeRequestsPending: gauge(registry, "cinder_fabric_node_requests_pending", "Questions this node asked other nodes and still waits on (at most 32; see the node request lane)"),
    nodeRequestsRefused: counter(
      registry,
      "cinder_fabric_node_requests_refused_total",
      "Node questions not asked or not answered because 32 were already in flight: asked (this node asking), answered (other nodes asking)",
      ["side"],
    ),
    nodeRelaysRefused: counter(
      registry,
      "cinder_fabric_node_relays_refused_total",
      "Relayed requests (LongPoll) not sent or not answered because 10,000 were already in flight on the node relay lane: asked (this node asking), answered (other nodes asking)",
      ["side"],
    ),
    fabricSent: counter(registry, "cinder_fabric_node_broadcasts_sent_total", "Broadcasts this node handed to Redis for other nodes (failed sends are counted in /health redis.dropped)"),
    fabricReceived: counter(registry, "cinder_fabric_node_broadcasts_received_total", "Broadcasts this node received from other nodes through Redis"),
  };
}

export type FabricMetrics = ReturnType<typeof fabricMetrics>;
