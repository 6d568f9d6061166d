import { CodecError, type Direction, type Frame, REPLY_EVENT } from "./frame.js";

/**
 * V2 binary frames, used when a payload is raw bytes (docs/protocol.md).
 * Every header field is one unsigned byte of length, so strings are limited to 255 bytes.
 * The layout is asymmetric: a client push carries a ref, a server push does not.
 */
const KIND_PUSH = 0;
const KIND_REPLY = 1;
const KIND_BROADCAST = 2;

// Made on first use, not at load: some environments (jsdom, where many apps run their tests)
// have no TextEncoder, and loading the client there must work as long as no bytes are sent.
let utf8Encoder: TextEncoder | undefined;
let utf8Decoder: TextDecoder | undefined;

/** Encode a frame whose payload is bytes (a reply's payload is `{status, response: bytes}`). */
export function encodeBinary(frame: Frame, direction: Direction): Uint8Array {
  return direction === "toServer" ? encodeClientPush(frame) : encodeServerFrame(frame);
}

/** Decode a binary frame sent by the other side (`direction` is who sent it). */
export function decodeBinary(data: ArrayBuffer | Uint8Array, direction: Direction): Frame {
  return direction === "toServer" ? decodeClientPush(data) : decodeServerFrame(data);
}

// One function per direction and side, so a bundle of the client keeps only the client's half.

/** A client's push: join_ref, ref, topic, event. */
export function encodeClientPush(frame: Frame): Uint8Array {
  return pack(KIND_PUSH, PUSH_FIELDS, [frame.joinRef ?? "", frame.ref ?? "", frame.topic, frame.event], bytesOf(frame.payload));
}

export function encodeServerFrame(frame: Frame): Uint8Array {
  if (frame.event === REPLY_EVENT) {
    const reply = frame.payload as { status?: unknown; response?: unknown };
    if (typeof reply?.status !== "string") throw new CodecError("binary reply needs a string status");
    return pack(KIND_REPLY, REPLY_FIELDS, [frame.joinRef ?? "", frame.ref ?? "", frame.topic, reply.status], bytesOf(reply.response));
  }
  if (frame.joinRef === null && frame.ref === null) {
    return pack(KIND_BROADCAST, BROADCAST_FIELDS, [frame.topic, frame.event], bytesOf(frame.payload));
  }
  return pack(KIND_PUSH, SERVER_PUSH_FIELDS, [frame.joinRef ?? "", frame.topic, frame.event], bytesOf(frame.payload));
}

export function decodeClientPush(data: ArrayBuffer | Uint8Array): Frame {
  const bytes = bytesOfFrame(data);
  if (bytes[0] !== KIND_PUSH) throw new CodecError(`unknown binary frame kind ${bytes[0]}`);
  const { fields: [joinRef, ref, topic, event], payload } = unpack(bytes, 4);
  return { joinRef: joinRef || null, ref: ref || null, topic: nonEmpty(topic, "topic"), event: nonEmpty(event, "event"), payload };
}

export function decodeServerFrame(data: ArrayBuffer | Uint8Array): Frame {
  const bytes = bytesOfFrame(data);
  const kind = bytes[0];
  switch (kind) {
    case KIND_PUSH: {
      const { fields: [joinRef, topic, event], payload } = unpack(bytes, 3);
      return { joinRef: joinRef || null, ref: null, topic, event, payload };
    }
    case KIND_REPLY: {
      const { fields: [joinRef, ref, topic, status], payload } = unpack(bytes, 4);
      return { joinRef: joinRef || null, ref: ref || null, topic, event: REPLY_EVENT, payload: { status, response: payload } };
    }
    case KIND_BROADCAST: {
      const { fields: [topic, event], payload } = unpack(bytes, 2);
      return { joinRef: null, ref: null, topic, event, payload };
    }
    default:
      throw new CodecError(`unknown binary frame kind ${kind}`);
  }
}

function bytesOfFrame(data: ArrayBuffer | Uint8Array): Uint8Array {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  if (bytes.length < 1) throw new CodecError("empty binary frame");
  return bytes;
}

function bytesOf(payload: unknown): Uint8Array {
  if (payload instanceof Uint8Array) return payload;
  if (payload instanceof ArrayBuffer) return new Uint8Array(payload);
  throw new CodecError("binary frames carry an ArrayBuffer or Uint8Array payload");
}

/** Field names in header order, for errors that say which field is at fault. */
const PUSH_FIELDS = ["join_ref", "ref", "topic", "event"];
const REPLY_FIELDS = ["join_ref", "ref", "topic", "status"];
const BROADCAST_FIELDS = ["topic", "event"];
const SERVER_PUSH_FIELDS = ["join_ref", "topic", "event"];

function pack(kind: number, names: string[], fields: string[], payload: Uint8Array): Uint8Array {
  const encoder = (utf8Encoder ??= new TextEncoder());
  const encoded = fields.map((field) => encoder.encode(field));
  const header = 1 + encoded.length;
  let length = header + payload.length;
  encoded.forEach((field, i) => {
    if (field.length > 255) throw new CodecError(`binary frame field ${names[i]} is ${field.length} bytes; the limit is 255`);
    length += field.length;
  });
  const out = new Uint8Array(length);
  out[0] = kind;
  let offset = header;
  encoded.forEach((field, i) => {
    out[1 + i] = field.length;
    out.set(field, offset);
    offset += field.length;
  });
  out.set(payload, offset);
  return out;
}

/** Reads `count` length-prefixed strings, then returns the rest as the payload bytes (a copy). */
function unpack(bytes: Uint8Array, count: number): { fields: string[]; payload: ArrayBuffer } {
  const header = 1 + count;
  if (bytes.length < header) throw new CodecError("binary frame header is truncated");
  const fields: string[] = [];
  let offset = header;
  for (let i = 0; i < count; i++) {
    const length = bytes[1 + i];
    if (offset + length > bytes.length) throw new CodecError("binary frame field runs past the end");
    try {
      fields.push((utf8Decoder ??= new TextDecoder("utf-8", { fatal: true })).decode(bytes.subarray(offset, offset + length)));
    } catch {
      throw new CodecError("binary frame field is not valid UTF-8");
    }
    offset += length;
  }
  // Copied into a buffer of its own: `bytes` may be a view into a larger one (a Node Buffer from a
  // pool, whose own slice() is a view too), and the payload must not carry the rest along.
  const payload = new Uint8Array(bytes.length - offset);
  payload.set(bytes.subarray(offset));
  return { fields, payload: payload.buffer };
}

function nonEmpty(value: string, name: string): string {
  if (value.length === 0) throw new CodecError(`${name} must not be empty`);
  return value;
}
