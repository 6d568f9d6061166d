import type { ReplicaId } from "../../crdt/index.js";
import type { GossipMessage } from "./messages.js";

/**
 * How the replicas of one presence shard talk to each other. The same tracker runs over
 * in-process links (tests, worker threads) and over Redis. Delivery may be lossy,
 * duplicated or reordered; the tracker copes with all three.
 */
export interface GossipTransport {
  /** To every other replica of this shard. */
  broadcast(message: GossipMessage): void;
  sendTo(replica: ReplicaId, message: GossipMessage): void;
  onMessage(handler: (message: GossipMessage) => void): void;
}

/** A transport with no peers: a single-node deployment. */
export const noPeersTransport: GossipTransport = {
  broadcast() {},
  sendTo() {},
  onMessage() {},
};
