import type { ReplicaId } from "../../crdt/index.js";
import type { GossipMessage } from "./messages.js";

/**
 * What a tracker needs to reach the other replicas (the fabric's gossip lane is one). Delivery may
 * be lossy, duplicated or reordered; the tracker copes with all three, and checks what it gets.
 */
export interface GossipLane {
  /** To every other replica. */
  broadcast(message: GossipMessage): void;
  sendTo(replica: ReplicaId, message: GossipMessage): void;
  /** Messages as they came: the tracker checks each (parseGossipMessage). */
  onMessage(handler: (message: unknown) => void): void;
}

/** Gossip with no other replica. */
export const noGossip: GossipLane = {
  broadcast() {},
  sendTo() {},
  onMessage() {},
};
