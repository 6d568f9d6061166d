/** The link to the other nodes, as /health shows it. */
export interface NodeLinkStatus {
  connected: boolean;
  /** Topics this node receives from other nodes (topics with a subscriber on this node). */
  subscribedTopics: number;
  reconnects: number;
  lastError?: string;
  /** Broadcasts not sent to other nodes because Redis was unreachable. */
  dropped: number;
  /** Messages from Redis that were not valid envelopes. */
  rejected: number;
  /** Joins waiting for Redis to confirm their topic's subscription. */
  pendingSubscribes: number;
}
