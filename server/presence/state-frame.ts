import type { Serializer } from "../../client/codec/serializer.js";
import type { PresenceMap } from "./diff.js";

/**
 * A `presence_state` frame split in two WebSocket fragments: a small head that names the
 * member (`[join_ref, null, topic, "presence_state",`) and the payload, encoded once and sent
 * as it is to every member that gets this state. Only the head is per member.
 */
export interface SharedStateBody {
  readonly bytes: Uint8Array;
  readonly binary: boolean;
}

export const STATE_EVENT = "presence_state";

/** The payload part: everything after the head, up to the end of the frame. */
export function encodeStateBody(serializer: Serializer, state: PresenceMap): SharedStateBody {
  if (serializer.name === "json") return { bytes: Buffer.from(`${JSON.stringify(state)}]`), binary: false };
  // A msgpack frame is a 5-array: the head is the array up to its 4th element, the body the 5th.
  const encoded = serializer.encode({ joinRef: null, ref: null, topic: "", event: "", payload: state }, "toClient").data as Uint8Array;
  return { bytes: encoded.subarray(headOf(serializer, null, "", "").length), binary: true };
}

/** The per-member head for `serializer`. */
export function stateHead(serializer: Serializer, joinRef: string | null, topic: string): string | Uint8Array {
  return headOf(serializer, joinRef, topic, STATE_EVENT);
}

function headOf(serializer: Serializer, joinRef: string | null, topic: string, event: string): string | Uint8Array {
  if (serializer.name === "json") return `${JSON.stringify([joinRef, null, topic, event])}`.slice(0, -1) + ",";
  // msgpack: the frame with a nil payload, minus that nil (one byte, 0xc0).
  const encoded = serializer.encode({ joinRef, ref: null, topic, event, payload: {} }, "toClient").data as Uint8Array;
  // An empty map is one byte (0x80) too.
  return encoded.subarray(0, encoded.length - 1);
}
