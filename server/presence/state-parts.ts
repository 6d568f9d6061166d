import type { EncodedFrame, Serializer } from "../../client/codec/serializer.js";
import { emptyPresenceMap, type PresenceMap } from "./diff.js";

/**
 * Bytes of presence a part holds at most (JSON), unless one presence alone is bigger. With its
 * frame header and a member's head it stays under uWS's 16 KiB cork buffer, so a part is written
 * straight to the kernel: uWS copies a bigger message into the socket's own buffer first, and
 * that buffer keeps its size for as long as the socket lives.
 */
export const PART_BYTES = 15_000;

export const STATE_EVENT = "presence_state";
export const DIFF_EVENT = "presence_diff";

/** One frame of a member's catch-up: `head` (per member) goes first when there is one. */
export interface PartFrame {
  readonly data: Uint8Array;
  readonly binary: boolean;
  readonly bytes: number;
}

/**
 * A topic's list at one point of its diff stream (`seq`), split into parts of at most
 * PART_BYTES: part 0 is the `presence_state` (the first keys), every later part a
 * `presence_diff` joining the next keys. A member that gets all of them, then every diff from
 * `seq` on, holds the list exactly as one `presence_state` would have given it. Each part is
 * encoded once per serializer and sent as it is to every member on this snapshot; part 0 only
 * lacks its per-member head (`[join_ref, null, topic, "presence_state",`).
 *
 * A snapshot whose topic has a presence fetch is `pending` until its enriched list comes
 * (`fill`): it has no parts and no size meanwhile (it holds no encoded bytes, and members that
 * ask meanwhile start on it), and nothing of it is sent before it is filled.
 */
export class StateSnapshot {
  parts: readonly PresenceMap[] = [];
  /** The list's size as JSON, about. */
  bytes = 0;
  private json: readonly string[] = [];
  private readonly encoded = new Map<Serializer, PartFrame[]>();

  constructor(
    readonly topic: string,
    /** Position in the topic's diff log: diffs from here on came after this list. */
    readonly seq: number,
    list: PresenceMap,
    /** Whether its list is still to be enriched (then `fill` gives the list to send). */
    public pending = false,
  ) {
    if (!pending) this.split(list);
  }

  /** The enriched list (or the raw one again, when the fetch failed): the snapshot can be sent. */
  fill(list: PresenceMap): void {
    this.encoded.clear();
    this.split(list);
    this.pending = false;
  }

  private split(list: PresenceMap): void {
    const parts: PresenceMap[] = [];
    const json: string[] = [];
    let part = emptyPresenceMap();
    let entries: string[] = [];
    let size = 0;
    let total = 0;
    for (const key in list) {
      const entry = `${JSON.stringify(key)}:${JSON.stringify(list[key])}`;
      const entryBytes = Buffer.byteLength(entry) + 1;
      if (entries.length > 0 && size + entryBytes > PART_BYTES) {
        parts.push(part);
        json.push(`{${entries.join(",")}}`);
        part = emptyPresenceMap();
        entries = [];
        size = 0;
      }
      part[key] = list[key];
      entries.push(entry);
      size += entryBytes;
      total += entryBytes;
    }
    parts.push(part);
    json.push(`{${entries.join(",")}}`);
    this.parts = parts;
    this.json = json;
    this.bytes = total + 2;
  }

  /** Part `index` for `serializer`: part 0 without its head (see stateHead), the rest whole frames. */
  part(serializer: Serializer, index: number): PartFrame {
    let frames = this.encoded.get(serializer);
    if (!frames) this.encoded.set(serializer, (frames = []));
    return (frames[index] ??= this.encode(serializer, index));
  }

  private encode(serializer: Serializer, index: number): PartFrame {
    if (serializer.name === "json") {
      const text = index === 0 ? `${this.json[0]}]` : `[null,null,${JSON.stringify(this.topic)},"${DIFF_EVENT}",{"joins":${this.json[index]},"leaves":{}}]`;
      const data = Buffer.from(text);
      return { data, binary: false, bytes: data.length };
    }
    if (index > 0) {
      const frame = serializer.encode({ joinRef: null, ref: null, topic: this.topic, event: DIFF_EVENT, payload: { joins: this.parts[index], leaves: {} } }, "toClient");
      return frameOf(frame);
    }
    // A msgpack frame is a 5-array: the head is the array up to its 4th element, the body the 5th.
    const encoded = serializer.encode({ joinRef: null, ref: null, topic: "", event: "", payload: this.parts[0] }, "toClient").data as Uint8Array;
    const data = encoded.subarray(headOf(serializer, null, "", "").length);
    return { data, binary: true, bytes: data.length };
  }
}

export function frameOf(frame: EncodedFrame): PartFrame {
  const data = typeof frame.data === "string" ? Buffer.from(frame.data) : frame.data;
  return { data, binary: frame.binary, bytes: data.length };
}

/** The per-member head of part 0 for `serializer`. */
export function stateHead(serializer: Serializer, joinRef: string | null, topic: string): string | Uint8Array {
  return headOf(serializer, joinRef, topic, STATE_EVENT);
}

function headOf(serializer: Serializer, joinRef: string | null, topic: string, event: string): string | Uint8Array {
  if (serializer.name === "json") return `${JSON.stringify([joinRef, null, topic, event])}`.slice(0, -1) + ",";
  // msgpack: the frame with an empty-map payload (one byte, 0x80), minus that byte.
  const encoded = serializer.encode({ joinRef, ref: null, topic, event, payload: {} }, "toClient").data as Uint8Array;
  return encoded.subarray(0, encoded.length - 1);
}
