import { Encoder } from "@msgpack/msgpack";
import { isReplicaId, type ReplicaId } from "../../crdt/index.js";
import { msgpackDecoder } from "../../client/codec/msgpack.js";
import type { ThreadAddress } from "./fabric.js";
import type { EncodedBroadcast } from "./encoded-broadcast.js";

export const ENVELOPE_VERSION = 2;

/**
 * What crosses Redis between nodes, as one msgpack array whose first two items are always the
 * version and the sending node (`nodeName#incarnation`, so a restarted node is never mistaken
 * for its previous life):
 *   broadcast: [2, sender, topic, event, frame]   frame = the V2 JSON frame (str) or V2 binary frame (bin)
 *   gossip:    [2, sender, to, message]           to = a replica id, or nil for every replica
 *   question:  [2, sender, "q", id, to, lane, question]   the request lane: to = nil (every node) or [node, worker]
 *   answer:    [2, sender, "a", id, to, answer]      its answer, to the asking node (to = its sender)
 *   a lane's:  [2, sender, ...items]              on a topic's channel, in order with its broadcasts
 * Carrying the publisher's encoded frame means a node decodes only this small array, and its
 * JSON subscribers get the bytes as they are. The kinds are told apart by their length (and by
 * the channel they come on): on a topic's channel, an envelope of any length but the
 * broadcast's belongs to the lane that registered that length (topic-channels.ts), which
 * decodes its items (history's numbered broadcasts and read markers: history/history-envelope.ts).
 */
export type Envelope =
  | BroadcastEnvelope
  | { kind: "question"; sender: string; id: number; to: ThreadAddress | null; lane: string; question: unknown }
  | { kind: "answer"; sender: string; id: number; to: string; answer: unknown }
  /** The gossip message as it came: its user checks it. */
  | { kind: "gossip"; sender: string; to: ReplicaId | null; message: unknown };

export interface BroadcastEnvelope {
  kind: "broadcast";
  sender: string;
  broadcast: EncodedBroadcast;
}

/** The first byte of a live broadcast's envelope (a msgpack array of 5): the only kind a node drops as its own echo. */
export const BROADCAST_HEADER = 0x95;

/** Who sends a node's envelopes: `nodeName#incarnation`, one per node start. */
export function senderOf(nodeName: string, incarnation: string): string {
  return `${nodeName}#${incarnation}`;
}

// `undefined` fields are left out, as JSON.stringify would for a JSON client.
const encoder = new Encoder({ ignoreUndefined: true });

export function encodeBroadcast(sender: string, message: EncodedBroadcast): Uint8Array {
  return encoder.encode([ENVELOPE_VERSION, sender, message.topic, message.event, message.frame]);
}

/** A lane's own envelope, for a topic's channel: `items` after the version and the sender. */
export function encodeLaneEnvelope(sender: string, items: readonly unknown[]): Uint8Array {
  return encoder.encode([ENVELOPE_VERSION, sender, ...items]);
}

export function encodeQuestion(sender: string, id: number, to: ThreadAddress | null, lane: string, question: unknown): Uint8Array {
  return encoder.encode([ENVELOPE_VERSION, sender, "q", id, to && [to.node, to.worker], lane, question]);
}

export function encodeAnswer(sender: string, id: number, to: string, answer: unknown): Uint8Array {
  return encoder.encode([ENVELOPE_VERSION, sender, "a", id, to, answer]);
}

export function encodeGossip(sender: string, to: ReplicaId | null, message: unknown): Uint8Array {
  return encoder.encode([ENVELOPE_VERSION, sender, to, message]);
}

/**
 * The bytes every envelope from `sender` starts with after its one-byte array header: a node
 * recognises its own messages (Redis echoes them back) by comparing bytes, without decoding.
 */
export function senderPrefix(sender: string): Uint8Array {
  return encoder.encode([ENVELOPE_VERSION, sender]).slice(1);
}

export function isFrom(bytes: Uint8Array, prefix: Uint8Array): boolean {
  if (bytes.length <= prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[i + 1] !== prefix[i]) return false;
  return true;
}

export class EnvelopeError extends Error {
  constructor(message: string) {
    super(`invalid envelope: ${message}`);
    this.name = "EnvelopeError";
  }
}

/** A lane's envelope from a topic's channel, its items not yet decoded: they are the lane's to check. */
export interface LaneEnvelope {
  kind: "lane";
  sender: string;
  items: readonly unknown[];
}

/** The array of an envelope, with its version and sender checked; throws EnvelopeError on anything else. */
function decodeArray(bytes: Uint8Array): { sender: string; value: unknown[] } {
  let value: unknown;
  try {
    value = msgpackDecoder.decode(bytes);
  } catch (error) {
    throw new EnvelopeError(`not msgpack (${error instanceof Error ? error.message : String(error)})`);
  }
  if (!Array.isArray(value)) throw new EnvelopeError("not an array");
  const [version, sender] = value as unknown[];
  if (version !== ENVELOPE_VERSION) throw new EnvelopeError(`unsupported version ${JSON.stringify(version)}`);
  if (typeof sender !== "string") throw new EnvelopeError("sender must be a string");
  return { sender, value };
}

/** The envelope of a broadcast, from its array of 5. */
function broadcastOf(sender: string, value: unknown[]): BroadcastEnvelope {
  const [, , topic, event, frame] = value;
  if (typeof topic !== "string" || typeof event !== "string") throw new EnvelopeError("topic and event must be strings");
  if (typeof frame !== "string" && !(frame instanceof Uint8Array)) throw new EnvelopeError("frame must be text or bytes");
  // Bytes decode as a view into the Redis message: copy them, so that handing the frame to a
  // worker does not clone the whole message buffer along with it.
  return { kind: "broadcast", sender, broadcast: { topic, event, frame: typeof frame === "string" ? frame : new Uint8Array(frame) } };
}

/** What came on a topic's channel: a broadcast, or a lane's envelope (any other length); throws EnvelopeError on anything else. */
export function decodeTopicEnvelope(bytes: Uint8Array): BroadcastEnvelope | LaneEnvelope {
  const { sender, value } = decodeArray(bytes);
  if (value.length === 5) return broadcastOf(sender, value);
  return { kind: "lane", sender, items: value.slice(2) };
}

/** Decodes and checks an envelope of the fabric's own kinds; throws EnvelopeError on anything else. */
export function decodeEnvelope(bytes: Uint8Array): Envelope {
  const { sender, value } = decodeArray(bytes);
  if (value.length === 5) return broadcastOf(sender, value);
  if (value.length === 7) {
    const [, , kind, id, to, lane, question] = value as unknown[];
    if (kind !== "q" || typeof id !== "number" || !Number.isSafeInteger(id)) throw new EnvelopeError("a question is q with an integer id");
    if (typeof lane !== "string") throw new EnvelopeError("a question's lane must be a string");
    if (to === null) return { kind: "question", sender, id, to, lane, question };
    if (!Array.isArray(to) || typeof to[0] !== "string" || !Number.isInteger(to[1])) throw new EnvelopeError("a question's `to` must be nil or [node, worker]");
    return { kind: "question", sender, id, to: { node: to[0], worker: to[1] as number }, lane, question };
  }
  if (value.length === 6) {
    const [, , kind, id, to, answer] = value as unknown[];
    if (kind !== "a" || typeof id !== "number" || !Number.isSafeInteger(id)) throw new EnvelopeError("an answer is a with an integer id");
    if (typeof to !== "string") throw new EnvelopeError("an answer's `to` must be the asker");
    return { kind: "answer", sender, id, to, answer };
  }
  if (value.length === 4) {
    const [, , to, message] = value as unknown[];
    if (to !== null && !isReplicaId(to)) throw new EnvelopeError("gossip `to` must be a replica id or nil");
    return { kind: "gossip", sender, to, message };
  }
  throw new EnvelopeError(`an array of ${value.length} items is none of the fabric's envelopes`);
}
