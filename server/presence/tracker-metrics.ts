import type { PresenceMetrics } from "./presence-metrics.js";
import type { TrackerObserver } from "./tracker-observer.js";

type TrackerMetrics = Pick<
  PresenceMetrics,
  | "presenceEntries"
  | "presenceReplicas"
  | "presenceReplicaLag"
  | "presenceGossipDelay"
  | "presenceDeltas"
  | "presenceDeltaEntries"
  | "presenceTransferRequests"
  | "presenceTransfers"
  | "presenceTransferEntries"
>;

/**
 * A tracker's gossip and state as metrics. The gauges are set at each heartbeat tick, from
 * figures that cost O(peers): nothing is counted per entry, neither on a tick nor on a scrape.
 */
export function trackerMetrics(metrics: TrackerMetrics): TrackerObserver {
  return {
    deltaSent(entries) {
      metrics.presenceDeltas.inc({ direction: "sent" });
      metrics.presenceDeltaEntries.inc({ direction: "sent" }, entries);
    },
    deltaReceived(entries) {
      metrics.presenceDeltas.inc({ direction: "received" });
      metrics.presenceDeltaEntries.inc({ direction: "received" }, entries);
    },
    transferRequested(reason) {
      metrics.presenceTransferRequests.inc({ reason });
    },
    transferSent(entries) {
      metrics.presenceTransfers.inc({ direction: "sent" });
      metrics.presenceTransferEntries.inc({ direction: "sent" }, entries);
    },
    transferReceived(entries) {
      metrics.presenceTransfers.inc({ direction: "received" });
      metrics.presenceTransferEntries.inc({ direction: "received" }, entries);
    },
    ticked({ entries, replicasUp, replicasDown, lag, gossipDelayMs }) {
      metrics.presenceEntries.set(entries);
      metrics.presenceReplicas.set({ state: "up" }, replicasUp);
      metrics.presenceReplicas.set({ state: "down" }, replicasDown);
      metrics.presenceReplicaLag.set(lag);
      metrics.presenceGossipDelay.set(Math.max(0, gossipDelayMs) / 1000);
    },
  };
}
