/**
 * A Phoenix Channels V2 message, the unit every serializer encodes and decodes.
 * Refs are opaque strings; `null` where the protocol has none (broadcasts, heartbeats).
 */
export interface Frame<P = unknown> {
  joinRef: string | null;
  ref: string | null;
  topic: string;
  event: string;
  payload: P;
}

/** Binary payloads travel as raw bytes (V2 binary frames, or msgpack bin). */
export type BinaryPayload = ArrayBuffer | Uint8Array;

/** The event of every reply; on its own so code that needs only it does not carry EVENTS along. */
export const REPLY_EVENT = "phx_reply";

/** Reserved event names (Phoenix `constants.js`). */
export const EVENTS = {
  join: "phx_join",
  leave: "phx_leave",
  reply: REPLY_EVENT,
  close: "phx_close",
  error: "phx_error",
  heartbeat: "heartbeat",
} as const;

/** The topic of socket-level messages such as heartbeats. */
export const SOCKET_TOPIC = "phoenix";

/** Which side of the connection produced a frame; the binary layouts differ by direction. */
export type Direction = "toServer" | "toClient";

/** Raised on any frame that cannot be decoded or encoded; the message says why. */
export class CodecError extends Error {
  override readonly name = "CodecError";
}

export function isBinaryPayload(value: unknown): value is BinaryPayload {
  return value instanceof ArrayBuffer || value instanceof Uint8Array;
}

/** Payloads must be JSON objects (Phoenix raises on anything else), or raw bytes. */
export function isObjectPayload(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !isBinaryPayload(value);
}

/**
 * Validates a decoded `[join_ref, ref, topic, event, payload, ...]` array.
 * `acceptPayload` says which payloads this serializer allows.
 */
export function frameFromArray(parsed: unknown, acceptPayload: (payload: unknown) => boolean): Frame {
  if (!Array.isArray(parsed) || parsed.length < 5) {
    throw new CodecError("frame must be an array [join_ref, ref, topic, event, payload]");
  }
  const [joinRef, ref, topic, event, payload] = parsed as unknown[];
  if (!isRef(joinRef) || !isRef(ref)) throw new CodecError("join_ref and ref must be strings or null");
  if (typeof topic !== "string" || topic.length === 0) throw new CodecError("topic must be a non-empty string");
  if (typeof event !== "string" || event.length === 0) throw new CodecError("event must be a non-empty string");
  if (!acceptPayload(payload)) throw new CodecError("payload must be an object");
  return { joinRef, ref, topic, event, payload };
}

function isRef(value: unknown): value is string | null {
  return value === null || typeof value === "string";
}
