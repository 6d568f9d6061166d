import type { Serializer } from "../../client/codec/serializer.js";
import type { PresenceMode } from "./presence-mode.js";

/**
 * Sockets subscribe to one uWS topic per (serializer, topic), so a broadcast is encoded once
 * per serializer in use and uWS fans the bytes out natively to every socket that reads them.
 */
export function topicKey(serializer: Serializer, topic: string): string {
  return serializer.name === "json" ? `j${topic}` : `m${topic}`;
}

/**
 * Subscribers that follow presence by count sit on a uWS topic of their own (one per serializer
 * too): broadcasts go to both, `presence_diff` only to the list one, `presence_count` only to
 * theirs. Each socket is still subscribed once per channel.
 */
export function audienceKey(serializer: Serializer, topic: string, mode: PresenceMode): string {
  if (mode === "list") return topicKey(serializer, topic);
  return serializer.name === "json" ? `J${topic}` : `M${topic}`;
}

/**
 * A list subscriber that is waiting for a `presence_state` (its first, or a fresh one after it
 * fell behind) sits on this uWS topic instead of the list one: it gets every broadcast but no
 * `presence_diff`, which the coming state covers.
 */
export function quietKey(serializer: Serializer, topic: string): string {
  return serializer.name === "json" ? `q${topic}` : `Q${topic}`;
}

/**
 * A subscriber behind on its reads (behind-subscribers.ts) sits on this uWS topic, to which
 * nothing is published, instead of its own. It holds the socket's place in uWS's topic tree: a
 * socket that leaves its last topic loses the publishes uWS has not yet written to it, and those
 * were counted as sent.
 */
export function behindKey(serializer: Serializer, topic: string): string {
  return serializer.name === "json" ? `b${topic}` : `B${topic}`;
}
