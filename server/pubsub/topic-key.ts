import type { Serializer } from "../../client/codec/serializer.js";

/**
 * Sockets subscribe to one uWS topic per (serializer, topic), so a broadcast is encoded once
 * per serializer in use and uWS fans the bytes out natively to every socket that reads them.
 */
export function topicKey(serializer: Serializer, topic: string): string {
  return serializer.name === "json" ? `j${topic}` : `m${topic}`;
}
