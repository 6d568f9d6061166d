import { Decoder, encode } from "@msgpack/msgpack";
import { CodecError, type Frame, frameFromArray, isBinaryPayload, isObjectPayload } from "./frame.js";
import type { Serializer } from "./serializer.js";

/**
 * The size limit of every msgpack decode in Cinder, from clients and between nodes alike: at
 * most 16 MiB in one string or byte field, and at most a quarter as many entries (4,194,304) in
 * one array or map. A value that declares more is refused before anything is allocated for it,
 * so a hostile or corrupt message cannot make the decoder reserve memory it does not carry.
 */
export const MSGPACK_MAX_BYTES = 16 * 1024 * 1024;

/** The one msgpack decoder configuration (see MSGPACK_MAX_BYTES). Not re-entrant: decode, then use the value. */
export const msgpackDecoder = new Decoder({
  maxStrLength: MSGPACK_MAX_BYTES,
  maxBinLength: MSGPACK_MAX_BYTES,
  maxExtLength: MSGPACK_MAX_BYTES,
  maxArrayLength: MSGPACK_MAX_BYTES / 4,
  maxMapLength: MSGPACK_MAX_BYTES / 4,
});

/**
 * Msgpack frames: the V2 array `[join_ref, ref, topic, event, payload]` as one msgpack value,
 * always sent as a binary WebSocket frame. Byte payloads are msgpack `bin`, so no special layout.
 * Kept in its own module so clients that never pick msgpack never load the library.
 */
export const msgpackSerializer: Serializer = {
  name: "msgpack",
  encode(frame) {
    const payload = bytesAsViews(frame.payload);
    return { data: encode([frame.joinRef, frame.ref, frame.topic, frame.event, payload]), binary: true };
  },
  decode(data): Frame {
    if (typeof data === "string") throw new CodecError("msgpack frames must be binary");
    let parsed: unknown;
    try {
      // Byte payloads decode as views into the input; copy it first, because a WebSocket
      // server may reuse the input's memory once the message callback returns.
      parsed = msgpackDecoder.decode(data instanceof Uint8Array ? data.slice() : new Uint8Array(data.slice(0)));
    } catch {
      throw new CodecError("frame is not valid msgpack");
    }
    return frameFromArray(parsed, (payload) => isObjectPayload(payload) || isBinaryPayload(payload));
  },
};

/**
 * @msgpack/msgpack writes typed arrays as `bin` but an `ArrayBuffer` as an empty map, so every
 * ArrayBuffer, at any depth, becomes a Uint8Array view of it. Returns `value` itself when it
 * holds none, so ordinary payloads are not copied.
 */
function bytesAsViews(value: unknown): unknown {
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (typeof value !== "object" || value === null || ArrayBuffer.isView(value)) return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | null = null;
    for (let i = 0; i < value.length; i++) {
      const converted = bytesAsViews(value[i]);
      if (converted !== value[i]) (copy ??= [...value])[i] = converted;
    }
    return copy ?? value;
  }
  const source = value as Record<string, unknown>;
  let copy: Record<string, unknown> | null = null;
  // for-in allocates nothing per object; own keys only, as the encoder writes them.
  for (const key in source) {
    if (!Object.prototype.hasOwnProperty.call(source, key)) continue;
    const converted = bytesAsViews(source[key]);
    if (converted !== source[key]) (copy ??= { ...source })[key] = converted;
  }
  return copy ?? value;
}
