import { Decoder, Encoder } from "@msgpack/msgpack";
import type { Payload } from "../channel/results.js";
import type { BroadcastMessage } from "./broker.js";

export const ENVELOPE_VERSION = 1;

/**
 * A broadcast as it travels between Cinder nodes through Redis, msgpack-encoded.
 * `node` is the sender's id (`nodeName#incarnation`), so a node drops its own messages and a
 * restarted node is never mistaken for its previous life. `payload` is a map or bytes (bin).
 */
export interface RedisEnvelope {
  v: typeof ENVELOPE_VERSION;
  node: string;
  topic: string;
  event: string;
  payload: Record<string, unknown> | Uint8Array;
}

// `undefined` fields are left out, as JSON.stringify would for a JSON client.
const encoder = new Encoder({ ignoreUndefined: true });
// Bounds keep a hostile or corrupt message from allocating without limit.
const decoder = new Decoder({ maxStrLength: 16 << 20, maxBinLength: 16 << 20, maxArrayLength: 1 << 20, maxMapLength: 1 << 20 });

export function encodeEnvelope(sender: string, message: BroadcastMessage): Uint8Array {
  const envelope: RedisEnvelope = {
    v: ENVELOPE_VERSION,
    node: sender,
    topic: message.topic,
    event: message.event,
    payload: message.payload instanceof ArrayBuffer ? new Uint8Array(message.payload) : message.payload,
  };
  return encoder.encode(envelope);
}

export class EnvelopeError extends Error {
  constructor(message: string) {
    super(`invalid broadcast envelope: ${message}`);
    this.name = "EnvelopeError";
  }
}

/** Decodes and checks an envelope; throws EnvelopeError on anything else. */
export function decodeEnvelope(bytes: Uint8Array): RedisEnvelope {
  let value: unknown;
  try {
    value = decoder.decode(bytes);
  } catch (error) {
    throw new EnvelopeError(`not msgpack (${error instanceof Error ? error.message : String(error)})`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new EnvelopeError("not a map");
  const envelope = value as Record<string, unknown>;
  if (envelope.v !== ENVELOPE_VERSION) throw new EnvelopeError(`unsupported version ${JSON.stringify(envelope.v)}`);
  for (const field of ["node", "topic", "event"] as const) {
    if (typeof envelope[field] !== "string") throw new EnvelopeError(`\`${field}\` must be a string`);
  }
  if (!isPayload(envelope.payload)) throw new EnvelopeError("`payload` must be a map or bytes");
  return envelope as unknown as RedisEnvelope;
}

function isPayload(value: unknown): value is Payload {
  return value instanceof Uint8Array || (typeof value === "object" && value !== null && !Array.isArray(value));
}
