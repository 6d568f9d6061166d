import type { EncodedBroadcast } from "./encoded-broadcast.js";

/**
 * A kind of envelope a lane sends on topics' channels beside their broadcasts. The wire names no
 * kind: envelopes are told apart by their length (redis-envelope.ts), so a kind is known by its
 * number of items after the version and the sender (any number but 3, the broadcast's).
 */
export interface TopicEnvelopeKind<T> {
  items: number;
  /** Checks one from the channel of `topic` and decodes its items; throws on a bad one (dropped, and counted as rejected). */
  decode(topic: string, items: readonly unknown[]): T;
}

/**
 * What a node's Redis lanes use of its topic channels (`cinder:t:<topic>`, subscribed while the
 * node has a subscriber of the topic). A lane may publish envelopes of its own there: they
 * arrive in order with the topic's broadcasts (one Redis channel), and each is handed to the
 * handler of its kind; the fabric knows no kind. History is the user: its numbered broadcasts
 * and its reads' markers.
 */
export interface TopicChannels {
  /** The Redis channel of `topic`'s broadcasts (fenced broadcasts go out on it too). */
  channelOf(topic: string): string;
  /** Whether this node receives `topic` (it has a subscriber of it). */
  hasInterest(topic: string): boolean;
  /** `topic` lost this node's interest (or never had it). */
  onInterestLost(listener: (topic: string) => void): void;
  /**
   * The envelopes of `kind` that come on the channels of the topics this node receives (its
   * own too: only its live broadcasts' echoes are dropped), with their sender. One handler per
   * number of items.
   */
  onTopicEnvelope<T>(kind: TopicEnvelopeKind<T>, handler: (message: T, sender: string) => void): void;
  /** Hands `message` to this node's broadcast handlers, as if it came from another node. */
  deliver(message: EncodedBroadcast): void;
  /** A message to other nodes was not sent (Redis unreachable): counted in the Redis status, and logged once per outage. */
  drop(): void;
  /** True once the fabric closed: nothing more is sent. */
  readonly closed: boolean;
}
