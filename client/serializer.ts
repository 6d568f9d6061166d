import type { Frame } from "./codec/frame.js";
import { type Serializer as CodecSerializer, type SerializerName, jsonSerializer } from "./codec/serializer.js";
import type { Decode, Encode, Message } from "./message.js";

/**
 * A wire format as the socket uses it: phoenix.js's callback-style `encode`/`decode`,
 * plus the name the server is asked for at connect time (`?serializer=<name>`).
 */
export interface ClientSerializer {
  readonly name: SerializerName;
  encode: Encode;
  decode: Decode;
}

/** Wraps a codec shared with the server into the client's message shape. */
export function clientSerializer(codec: CodecSerializer): ClientSerializer {
  return {
    name: codec.name,
    encode(message, callback) {
      const frame: Frame = {
        joinRef: message.join_ref ?? null,
        ref: message.ref ?? null,
        topic: message.topic,
        event: message.event,
        payload: message.payload,
      };
      callback(codec.encode(frame, "toServer").data);
    },
    decode(raw, callback) {
      const { joinRef, ref, topic, event, payload } = codec.decode(raw, "toClient");
      callback({ join_ref: joinRef, ref, topic, event, payload } satisfies Message);
    },
  };
}

/**
 * Phoenix's V2 serializer: JSON text frames, and binary frames for `ArrayBuffer` payloads.
 * The default; the same code the server runs.
 */
export const Serializer: ClientSerializer = clientSerializer(jsonSerializer);
