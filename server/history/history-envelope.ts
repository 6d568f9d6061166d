import type { EncodedBroadcast } from "../fabric/encoded-broadcast.js";
import { EnvelopeError, encodeLaneEnvelope } from "../fabric/redis-envelope.js";
import type { TopicEnvelopeKind } from "../fabric/topic-channels.js";

/** A broadcast kept in a topic's history: numbered, in an epoch. */
export type NumberedBroadcast = EncodedBroadcast & { offset: number; epoch: string };

/**
 * History's envelopes on a topic's channel, in order with its live broadcasts (the fabric hands
 * them here by their length; redis-envelope.ts has the fabric's own):
 *   numbered: [2, sender, topic, event, frame, offset, epoch, except]   built by the append script (frame-store-redis.ts)
 *   marker:   [2, sender, token]                                         a read's place in the topic's stream
 */
export const NUMBERED: TopicEnvelopeKind<NumberedBroadcast> = {
  items: 6,
  decode(channelTopic, [topic, event, frame, offset, epoch, except]) {
    if (typeof topic !== "string" || typeof event !== "string" || typeof frame !== "string") throw new EnvelopeError("topic, event and frame must be strings");
    if (topic !== channelTopic) throw new EnvelopeError("a broadcast channel carried another topic's broadcast");
    if (typeof offset !== "number" || !Number.isSafeInteger(offset) || offset < 1) throw new EnvelopeError("offset must be a positive integer");
    if (typeof epoch !== "string" || typeof except !== "string") throw new EnvelopeError("epoch and except must be strings");
    return { topic, event, frame, offset, epoch, ...(except ? { except } : {}) };
  },
};

export const MARKER: TopicEnvelopeKind<string> = {
  items: 1,
  decode(_topic, [token]) {
    if (typeof token !== "string") throw new EnvelopeError("a marker's token must be a string");
    return token;
  },
};

/** A numbered broadcast as the append script PUBLISHes it (sent here where the script cannot publish: sharded pub/sub). */
export function encodeNumbered(sender: string, message: NumberedBroadcast): Uint8Array {
  return encodeLaneEnvelope(sender, [message.topic, message.event, message.frame, message.offset, message.epoch, message.except ?? ""]);
}

export function encodeMarker(sender: string, token: string): Uint8Array {
  return encodeLaneEnvelope(sender, [token]);
}
