import { decodeServerFrame, encodeClientPush } from "./codec/binary.js";
import { CodecError, type Frame, isBinaryPayload } from "./codec/frame.js";
import type { Serializer as CodecSerializer, SerializerName } from "./codec/serializer.js";
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
 * The default. The server's `jsonSerializer` speaks the same format; this is only the client's
 * half of it (pushes out, server frames in), so the browser bundle carries no server code. Frames
 * from the server are trusted to be well formed, as phoenix.js does; one that does not even
 * parse as an array is dropped (CodecError).
 */
export const Serializer: ClientSerializer = {
  name: "json",
  encode(message, callback) {
    const { join_ref = null, ref = null, topic, event, payload } = message;
    if (!isBinaryPayload(payload)) return callback(JSON.stringify([join_ref, ref, topic, event, payload]));
    callback(encodeClientPush({ joinRef: join_ref, ref, topic, event, payload }));
  },
  decode(raw, callback) {
    if (typeof raw !== "string") {
      const { joinRef, ref, topic, event, payload } = decodeServerFrame(raw);
      return callback({ join_ref: joinRef, ref, topic, event, payload });
    }
    let message: Message;
    try {
      const [join_ref, ref, topic, event, payload] = JSON.parse(raw) as [string | null, string | null, string, string, unknown];
      message = { join_ref, ref, topic, event, payload };
    } catch {
      throw new CodecError("frame is not valid JSON");
    }
    callback(message);
  },
};
