import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import { RedisConnections } from "../cluster/redis-connections.js";
import type { ChannelListener, SubscriptionRegistry } from "../cluster/subscription-registry.js";
import type { BroadcastMessage } from "./broker.js";
import { decodeEnvelope, encodeEnvelope } from "./redis-envelope.js";

export interface RemoteFabricStatus {
  connected: boolean;
  /** Topics this node receives from other nodes (topics with local interest). */
  subscribedTopics: number;
  reconnects: number;
  lastError?: string;
  /** Broadcasts not sent to other nodes because Redis was unreachable. */
  dropped: number;
  /** Messages from Redis that were not valid envelopes. */
  rejected: number;
}

/** How long a first join of a topic waits for Redis to confirm the subscription. */
const SUBSCRIBE_WAIT_MS = 1000;

/** The cross-node part of the broadcast fabric. */
export interface RemoteFabric {
  /** Send to every OTHER node that has local interest in message.topic (never echoed back to this node). */
  publish(message: BroadcastMessage): void;
  /**
   * This node gained (true) or lost (false) its last local subscriber of topic. Gaining one
   * returns a promise that settles once other nodes' broadcasts of the topic reach us.
   */
  setInterest(topic: string, interested: boolean): Promise<void> | void;
  /** Broadcasts from other nodes, for local delivery. */
  onMessage(handler: (message: BroadcastMessage) => void): void;
  status(): RemoteFabricStatus;
  close(): Promise<void>;
}

export interface RedisFabricOptions {
  nodeName: string;
  /** The node's shared connections; without them the fabric opens (and closes) its own from `url`. */
  connections?: RedisConnections;
  url?: string;
  /** SSUBSCRIBE/SPUBLISH (Redis 7 sharded pub/sub): in a Redis Cluster a message only crosses its shard. */
  sharded?: boolean;
  logger?: Logger;
  /** Default `cinder:t:`; the Redis channel of a topic is prefix + topic. */
  channelPrefix?: string;
  /** Distinguishes this process from earlier ones with the same node name. Default: random. */
  incarnation?: string;
}

/**
 * Broadcasts between nodes through Redis pub/sub, routed by interest: one Redis channel per
 * topic, subscribed only while this node has local subscribers of it, so a node never
 * receives traffic for topics nobody here listens to. Delivery is at most once: while Redis
 * is unreachable, broadcasts to other nodes are dropped and counted (local delivery is the
 * caller's and goes on).
 */
export class RedisFabric implements RemoteFabric {
  /** `nodeName#incarnation`, carried in every envelope to recognise our own messages. */
  readonly sender: string;
  private readonly connections: RedisConnections;
  private readonly ownsConnections: boolean;
  private readonly registry: SubscriptionRegistry;
  private readonly sharded: boolean;
  private readonly prefix: string;
  private readonly logger: Logger | undefined;
  private readonly interest = new Set<string>();
  private readonly handlers = new Set<(message: BroadcastMessage) => void>();
  private readonly listener: ChannelListener = (bytes, channel) => this.receive(bytes, channel);
  private dropped = 0;
  private droppedInOutage = 0;
  private rejected = 0;
  private closed = false;

  constructor(options: RedisFabricOptions) {
    this.sender = `${options.nodeName}#${options.incarnation ?? `${Date.now().toString(36)}${randomBytes(3).toString("hex")}`}`;
    this.sharded = options.sharded ?? false;
    this.prefix = options.channelPrefix ?? "cinder:t:";
    this.logger = options.logger?.child({ component: "fabric" });
    if (options.connections) {
      this.connections = options.connections;
      this.ownsConnections = false;
    } else {
      if (!options.url) throw new Error("RedisFabric needs `connections` or `url`");
      this.connections = new RedisConnections({ url: options.url, nodeName: options.nodeName, sharded: this.sharded, logger: options.logger });
      this.ownsConnections = true;
    }
    this.registry = this.sharded ? this.connections.shardChannels : this.connections.channels;
    this.connections.onReady((role) => {
      if (role !== "publisher" || this.droppedInOutage === 0) return;
      this.logger?.warn({ dropped: this.droppedInOutage }, "cross-node broadcasts dropped while Redis was unreachable");
      this.droppedInOutage = 0;
    });
  }

  publish(message: BroadcastMessage): void {
    if (this.closed) return;
    if (!this.connections.isReady("publisher")) {
      this.drop();
      return;
    }
    let bytes: Uint8Array;
    try {
      bytes = encodeEnvelope(this.sender, message);
    } catch (error) {
      this.logger?.error({ err: error, topic: message.topic, event: message.event }, "broadcast payload cannot be encoded for other nodes");
      return;
    }
    const channel = this.prefix + message.topic;
    const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const publisher = this.connections.publisher;
    const sent = this.sharded ? publisher.spublish(channel, buffer) : publisher.publish(channel, buffer);
    sent.catch(() => this.drop());
  }

  setInterest(topic: string, interested: boolean): Promise<void> | void {
    if (this.closed || interested === this.interest.has(topic)) return;
    if (interested) {
      this.interest.add(topic);
      const subscribed = this.registry.add(this.prefix + topic, this.listener);
      // A join waits for the SUBSCRIBE, but never long: while Redis is down it goes ahead.
      return Promise.race([subscribed, new Promise<void>((resolve) => setTimeout(resolve, SUBSCRIBE_WAIT_MS).unref())]);
    } else {
      this.interest.delete(topic);
      this.registry.remove(this.prefix + topic, this.listener);
    }
  }

  onMessage(handler: (message: BroadcastMessage) => void): void {
    this.handlers.add(handler);
  }

  status(): RemoteFabricStatus {
    return { ...this.connections.status(), subscribedTopics: this.interest.size, dropped: this.dropped, rejected: this.rejected };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const topic of this.interest) this.registry.remove(this.prefix + topic, this.listener);
    this.interest.clear();
    if (this.ownsConnections) await this.connections.close();
  }

  private receive(bytes: Buffer, channel: string): void {
    const topic = channel.slice(this.prefix.length);
    // A lingering subscription (see SubscriptionRegistry) may still bring a topic we left.
    if (!this.interest.has(topic)) return;
    let envelope;
    try {
      envelope = decodeEnvelope(bytes);
      if (envelope.topic !== topic) throw new Error(`envelope topic ${JSON.stringify(envelope.topic)} on channel ${JSON.stringify(channel)}`);
    } catch (error) {
      this.rejected++;
      this.logger?.warn({ err: error instanceof Error ? error.message : String(error), channel }, "dropped a bad broadcast envelope");
      return;
    }
    if (envelope.node === this.sender) return;
    const message: BroadcastMessage = { topic, event: envelope.event, payload: envelope.payload };
    for (const handler of this.handlers) handler(message);
  }

  private drop(): void {
    if (this.droppedInOutage === 0) this.logger?.warn("Redis unreachable: broadcasts to other nodes are being dropped");
    this.dropped++;
    this.droppedInOutage++;
  }
}
