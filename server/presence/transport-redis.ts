import { Decoder, Encoder } from "@msgpack/msgpack";
import type { ReplicaId } from "../../crdt/index.js";
import type { RedisConnections } from "../cluster/redis-connections.js";
import type { ChannelListener } from "../cluster/subscription-registry.js";
import { parseGossipMessage, type GossipMessage } from "./messages.js";
import type { GossipTransport } from "./transport.js";

export interface RedisGossipTransportOptions {
  connections: RedisConnections;
  shard: number;
  /** This node's replica (the PresenceService's). */
  replica: ReplicaId;
  /** Default `cinder:presence:`. */
  channelPrefix?: string;
  /** Undecodable or malformed messages (dropped). */
  onError?: (error: Error) => void;
}

const encoder = new Encoder({ ignoreUndefined: true });
const decoder = new Decoder({ maxStrLength: 64 << 20, maxBinLength: 64 << 20, maxArrayLength: 1 << 24, maxMapLength: 1 << 24 });

/**
 * Gossip for one presence shard over Redis pub/sub: heartbeats and permdowns go to
 * `cinder:presence:<shard>` (every node), transfer requests and acks to
 * `cinder:presence:<shard>:<replica>` (that node only). Messages are the tracker's own
 * types, msgpack-encoded. Redis pub/sub loses messages during an outage; the tracker
 * recovers on its own (heartbeat clocks reveal the gap and trigger a transfer).
 */
export class RedisGossipTransport implements GossipTransport {
  private readonly handlers = new Set<(message: GossipMessage) => void>();
  private readonly shardChannel: string;
  private readonly ownChannel: string;
  private readonly listener: ChannelListener = (bytes) => this.receive(bytes);
  private closed = false;

  constructor(private readonly options: RedisGossipTransportOptions) {
    const prefix = options.channelPrefix ?? "cinder:presence:";
    this.shardChannel = `${prefix}${options.shard}`;
    this.ownChannel = this.directChannel(options.replica);
    options.connections.channels.add(this.shardChannel, this.listener);
    options.connections.channels.add(this.ownChannel, this.listener);
  }

  broadcast(message: GossipMessage): void {
    this.publish(this.shardChannel, message);
  }

  sendTo(replica: ReplicaId, message: GossipMessage): void {
    this.publish(this.directChannel(replica), message);
  }

  onMessage(handler: (message: GossipMessage) => void): void {
    this.handlers.add(handler);
  }

  /** Leaves both channels; the node's connections stay open for everybody else. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.options.connections.channels.remove(this.shardChannel, this.listener);
    this.options.connections.channels.remove(this.ownChannel, this.listener);
  }

  private directChannel(replica: ReplicaId): string {
    return `${this.shardChannel}:${replica}`;
  }

  private publish(channel: string, message: GossipMessage): void {
    const { connections } = this.options;
    // Lost gossip is repaired by the next heartbeat and transfer, so nothing is queued while Redis is down.
    if (this.closed || !connections.isReady("publisher")) return;
    const bytes = encoder.encode(message);
    connections.publisher.publish(channel, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)).catch(() => {});
  }

  private receive(bytes: Buffer): void {
    let message: GossipMessage;
    try {
      message = parseGossipMessage(decoder.decode(bytes));
    } catch (error) {
      this.options.onError?.(new Error(`presence gossip dropped: ${error instanceof Error ? error.message : String(error)}`));
      return;
    }
    // Our own broadcasts come back through the shard channel.
    if (message.from === this.options.replica) return;
    for (const handler of this.handlers) handler(message);
  }
}
