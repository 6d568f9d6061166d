import { decodeBinary, encodeBinary } from "./binary.js";
import { type Direction, type Frame, EVENTS, isBinaryPayload } from "./frame.js";
import { decodeJson, encodeJson } from "./json.js";

/** An encoded frame, ready for `WebSocket.send`: text for JSON, bytes for binary frames. */
export interface EncodedFrame {
  data: string | Uint8Array;
  binary: boolean;
}

/**
 * A wire format. `direction` is always the direction the frame travels:
 * the server encodes "toClient" and decodes "toServer"; the client does the opposite.
 */
export interface Serializer {
  /** The name a client asks for at connect time (`?serializer=<name>`). */
  readonly name: SerializerName;
  encode(frame: Frame, direction: Direction): EncodedFrame;
  /** Text frames arrive as strings, binary frames as bytes. Throws CodecError. */
  decode(data: string | ArrayBuffer | Uint8Array, direction: Direction): Frame;
}

export type SerializerName = "json" | "msgpack";

/**
 * Phoenix's V2 serializer: JSON text frames, and V2 binary frames for byte payloads.
 * This is what the official `phoenix` client speaks.
 */
export const jsonSerializer: Serializer = {
  name: "json",
  encode(frame, direction) {
    if (carriesBytes(frame)) return { data: encodeBinary(frame, direction), binary: true };
    return { data: encodeJson(frame), binary: false };
  },
  decode(data, direction) {
    return typeof data === "string" ? decodeJson(data) : decodeBinary(data, direction);
  },
};

function carriesBytes(frame: Frame): boolean {
  if (isBinaryPayload(frame.payload)) return true;
  if (frame.event !== EVENTS.reply) return false;
  const response = (frame.payload as { response?: unknown } | null)?.response;
  return isBinaryPayload(response);
}
