import { isReplicaId, type ReplicaId, type WireClock, type WireSnapshot } from "../../crdt/index.js";

/** Periodic: our clock, and the delta since the last heartbeat (null when idle). */
export interface HeartbeatMessage {
  type: "heartbeat";
  from: ReplicaId;
  clock: WireClock;
  delta: WireSnapshot | null;
  /**
   * Number of deltas the sender has produced so far (this one included). A receiver that sees
   * it jump has lost a delta and asks the sender for its state: the clock alone cannot tell,
   * because a later delta may cover a dot whose removal only the lost delta carried.
   */
  seq: number;
  /**
   * When the sender sent it (its Date.now()): how late a receiver reads its gossip
   * (`cinder_presence_gossip_delay_seconds`). Absent from older senders.
   */
  at?: number;
}

/** "Send me your state": sent to a replica whose clock ours does not dominate. */
export interface TransferRequestMessage {
  type: "transferRequest";
  from: ReplicaId;
  requestId: number;
  clock: WireClock;
}

/** The answer: our state restricted to the replicas in the requester's clock. */
export interface TransferAckMessage {
  type: "transferAck";
  from: ReplicaId;
  requestId: number;
  state: WireSnapshot;
  /** The sender's delta count when it extracted `state`: the state includes all of them. */
  seq: number;
}

/** Sent on a graceful shutdown, so peers drop our presences at once. */
export interface GracefulPermdownMessage {
  type: "gracefulPermdown";
  from: ReplicaId;
}

/** Plain objects only (msgpack- and JSON-friendly). Nested snapshots are checked by `fromWire`. */
export type GossipMessage = HeartbeatMessage | TransferRequestMessage | TransferAckMessage | GracefulPermdownMessage;

/** Checks the envelope of a message that came off a transport; throws on anything else. */
export function parseGossipMessage(input: unknown): GossipMessage {
  if (typeof input !== "object" || input === null) throw new Error("gossip message must be an object");
  const message = input as Record<string, unknown>;
  if (!isReplicaId(message.from)) throw new Error("gossip message has no valid `from` replica");
  switch (message.type) {
    case "heartbeat":
      if (!Array.isArray(message.clock)) throw new Error("heartbeat without a clock");
      if (!Number.isInteger(message.seq) || (message.seq as number) < 0) throw new Error("heartbeat without a delta sequence number");
      if (message.delta !== null && (typeof message.delta !== "object" || message.delta === undefined)) {
        throw new Error("heartbeat delta must be an object or null");
      }
      if (message.at !== undefined && !Number.isFinite(message.at)) throw new Error("heartbeat time must be a number");
      return message as unknown as HeartbeatMessage;
    case "transferRequest":
      if (typeof message.requestId !== "number" || !Array.isArray(message.clock)) throw new Error("malformed transferRequest");
      return message as unknown as TransferRequestMessage;
    case "transferAck":
      if (typeof message.requestId !== "number" || typeof message.state !== "object" || message.state === null || !Number.isInteger(message.seq)) {
        throw new Error("malformed transferAck");
      }
      return message as unknown as TransferAckMessage;
    case "gracefulPermdown":
      return message as unknown as GracefulPermdownMessage;
    default:
      throw new Error(`unknown gossip message type ${JSON.stringify(message.type)}`);
  }
}
