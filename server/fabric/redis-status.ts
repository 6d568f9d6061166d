/** The state of a node's Redis connections, as /health shows it (`redis`). */
export interface RedisStatus {
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
