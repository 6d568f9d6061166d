import type { ReplicaId } from "../../crdt/index.js";
import { NodeLiveness, type NodeLivenessOptions } from "../cluster/liveness.js";
import { RedisConnections, type RedisConnectionsOptions } from "../cluster/redis-connections.js";
import type { ChannelListener, SubscriptionRegistry } from "../cluster/subscription-registry.js";
import type { Logger } from "../ops/logger.js";
import type { Metrics } from "../ops/metrics.js";
import type { GossipMessage } from "../presence/messages.js";
import { NodeRequests } from "./node-requests.js";
import { NodeRelays } from "./node-relays.js";
import type { EncodedBroadcast, Fabric, FabricAnswer, GossipLane, NodeAnswer, NodeQuestion, HistoryAppend, HistoryLimits, HistoryPage, NodeLinkStatus, PeerEvent, RelayRequest, RelayResponder, RelayResponse, RelayTarget } from "./fabric.js";
import { RedisHistory } from "../history/redis-history.js";
import { RedisLeases } from "../leases/leases-redis.js";
import { RedisCounterStore } from "../counters/store-redis.js";
import { BROADCAST_HEADER, decodeEnvelope, encodeBroadcast, encodeGossip, encodeHistory, encodeMarker, isFrom, senderPrefix } from "./redis-envelope.js";
import { nodeOfReplica } from "./replica-names.js";
import { settleWithin } from "./settle-within.js";
import { clientTopicCount } from "./internal-topics.js";

/** How long a join waits for Redis to confirm the subscription of its topic before going ahead. */
export const SUBSCRIBE_WAIT_MS = 1000;

const TOPIC_PREFIX = "cinder:t:";
/** Heartbeats and permdowns, for every node. */
const GOSSIP_CHANNEL = "cinder:presence";
/** Transfer requests and replies, for the replicas of one node. */
const nodeGossipChannel = (node: string) => `${GOSSIP_CHANNEL}:${node}`;

export interface RedisFabricOptions {
  url: string;
  nodeName: string;
  /** One per node start: tells this node's messages from those of its previous lives. */
  nodeIncarnation: string;
  /** SSUBSCRIBE/SPUBLISH for broadcasts (Redis 7 sharded pub/sub, for Redis Cluster). */
  sharded: boolean;
  /** This node's presence replicas, kept in its liveness key. */
  replicas: () => readonly ReplicaId[];
  log: Logger;
  metrics: Metrics;
  /** Reconnect backoff and subscription batching (tests shorten them). */
  connections?: Pick<RedisConnectionsOptions, "backoff" | "subscriptions">;
  liveness?: Pick<NodeLivenessOptions, "ttlMs" | "refreshMs" | "pollMs">;
  /** Counter increments go to Redis once per this many ms (default 1000). */
  counterFlushMs?: number;
  /** Bound of the coalesced increments (default 100,000 counters and actor ids). */
  counterMaxKeys?: number;
  /** The clock counter buckets are numbered by (default Date.now). */
  now?: () => number;
}

/**
 * The fabric between nodes, through Redis: the one link of a node (held by its main thread when
 * it runs several workers). One subscriber connection per node; each message from Redis is
 * decoded once here. Broadcasts are routed by interest: one Redis channel per topic, subscribed
 * only while this node has a subscriber of it. Delivery is at most once: while Redis is
 * unreachable, broadcasts to other nodes are dropped and counted, and presence gossip repairs
 * itself afterwards (clocks and delta numbers reveal what was missed).
 */
export class RedisFabric implements Fabric {
  /** `nodeName#incarnation`, at the head of every envelope this node sends. */
  readonly sender: string;
  private readonly ownPrefix: Uint8Array;
  /** The node's two Redis connections (exposed for tests and tools). */
  readonly connections: RedisConnections;
  private readonly topicChannels: SubscriptionRegistry;
  private readonly liveness: NodeLiveness;
  private readonly interest = new Set<string>();
  private readonly broadcastHandlers: Array<(message: EncodedBroadcast) => void> = [];
  private readonly gossipHandlers: Array<(message: GossipMessage, to: ReplicaId | null) => void> = [];
  private readonly peerListeners: Array<(event: PeerEvent) => void> = [];
  private readonly topicListener: ChannelListener = (bytes, channel) => this.receiveBroadcast(bytes, channel);
  private readonly gossipListener: ChannelListener = (bytes) => this.receiveGossip(bytes);
  private readonly history: RedisHistory;
  private readonly nodeRequests: NodeRequests;
  private readonly nodeRelays: NodeRelays;
  readonly leases: RedisLeases;
  readonly counters: RedisCounterStore;
  /** Per history topic with interest: the last offset delivered, to see a jump and refill it. */
  private readonly streams = new Map<string, StreamPosition>();
  /** History reads waiting for their marker to come back (see READ in redis-history.ts). */
  private readonly markers = new Map<string, () => void>();
  private nextMarker = 0;
  private dropped = 0;
  private droppedInOutage = 0;
  private rejected = 0;
  private closed = false;
  private readonly log: Logger;

  readonly gossip: GossipLane = {
    broadcast: (message) => this.publishGossip(GOSSIP_CHANNEL, null, message),
    sendTo: (replica, message) => {
      const node = nodeOfReplica(replica);
      if (node !== undefined) this.publishGossip(nodeGossipChannel(node), replica, message);
    },
    onMessage: (handler) => this.onGossip((message) => handler(message)),
  };

  constructor(private readonly options: RedisFabricOptions) {
    this.sender = `${options.nodeName}#${options.nodeIncarnation}`;
    this.ownPrefix = senderPrefix(this.sender);
    this.log = options.log.child({ component: "fabric" });
    this.connections = new RedisConnections({
      url: options.url,
      nodeName: options.nodeName,
      sharded: options.sharded,
      logger: options.log,
      ...options.connections,
    });
    this.topicChannels = options.sharded ? this.connections.shardChannels : this.connections.channels;
    this.connections.channels.add(GOSSIP_CHANNEL, this.gossipListener);
    this.connections.channels.add(nodeGossipChannel(options.nodeName), this.gossipListener);
    this.connections.onReady((role) => {
      if (role !== "publisher" || this.droppedInOutage === 0) return;
      this.log.warn({ dropped: this.droppedInOutage }, "cross-node broadcasts dropped while Redis was unreachable");
      this.droppedInOutage = 0;
    });
    this.history = new RedisHistory(this.connections, { sender: this.sender, sharded: options.sharded, channelOf: (topic) => TOPIC_PREFIX + topic });
    this.leases = new RedisLeases(this.connections, { sender: this.sender, sharded: options.sharded, channelOf: (topic) => TOPIC_PREFIX + topic });
    this.counters = new RedisCounterStore({
      connections: this.connections,
      cluster: this.connections.cluster,
      flushMs: options.counterFlushMs ?? 1000,
      maxPending: options.counterMaxKeys ?? 100_000,
      now: options.now ?? Date.now,
      metrics: options.metrics,
      log: this.log,
    });
    this.liveness = new NodeLiveness({
      connections: this.connections,
      nodeName: options.nodeName,
      replicas: options.replicas,
      logger: options.log,
      ...options.liveness,
    });
    this.nodeRequests = new NodeRequests({
      connections: this.connections,
      nodeName: options.nodeName,
      sender: this.sender,
      peers: () => this.liveness.liveNodes().map((node) => node.name),
      metrics: options.metrics,
      log: this.log,
    });
    this.nodeRelays = new NodeRelays({ connections: this.connections, nodeName: options.nodeName, sender: this.sender, metrics: options.metrics, log: this.log });
    this.liveness.onNodeDown((node) => node.replicas.forEach((replica) => this.peerEvent({ kind: "down", replica })));
    this.liveness.onNodeUp((node) => node.replicas.forEach((replica) => this.peerEvent({ kind: "up", replica })));
  }

  // ── broadcast lane ──

  publish(message: EncodedBroadcast): void {
    if (this.closed) return;
    if (!this.connections.isReady("publisher")) return this.drop();
    const bytes = encodeBroadcast(this.sender, message);
    const channel = TOPIC_PREFIX + message.topic;
    const publisher = this.connections.publisher;
    const buffer = asBuffer(bytes);
    const sent = this.options.sharded ? publisher.spublish(channel, buffer) : publisher.publish(channel, buffer);
    sent.catch(() => this.drop());
    this.options.metrics.fabricSent.inc();
  }

  reaches(): boolean {
    // Which other nodes listen is not known here; Redis drops what nobody subscribed to.
    return true;
  }

  onBroadcast(handler: (message: EncodedBroadcast) => void): void {
    this.broadcastHandlers.push(handler);
  }

  // ── history lane ──

  appendHistory(message: HistoryAppend): void {
    if (this.closed) return;
    if (!this.connections.isReady("publisher")) return this.drop();
    this.options.metrics.fabricSent.inc();
    this.history.append(message).then(
      (appended) => {
        if (!this.options.sharded) return;
        const bytes = encodeHistory(this.sender, { ...message, ...appended });
        return this.connections.publisher.spublish(TOPIC_PREFIX + message.topic, asBuffer(bytes));
      },
      (err: unknown) => {
        this.drop();
        this.log.warn({ err, topic: message.topic }, "a history broadcast could not be stored");
      },
    ).catch(() => this.drop());
  }

  /**
   * Reads a topic's history. When this node receives the topic, the read also publishes a marker
   * at its own point in the stream, and resolves once the marker is back: by then every broadcast
   * the page holds has been delivered here too, so a joining socket attached now gets none of
   * them twice. (A marker lost in an outage costs a bounded wait, SUBSCRIBE_WAIT_MS.)
   */
  async readHistory(topic: string, since: number, limit: number, limits: HistoryLimits): Promise<HistoryPage> {
    if (!this.interest.has(topic)) return this.history.read(topic, since, limit, limits);
    const token = `${this.nextMarker++}`;
    const back = new Promise<void>((resolve) => this.markers.set(token, resolve));
    try {
      const marker = asBuffer(encodeMarker(this.sender, token));
      if (!this.options.sharded) {
        const page = await this.history.read(topic, since, limit, limits, marker);
        await settleWithin(back, SUBSCRIBE_WAIT_MS);
        return page;
      }
      // Sharded: the script cannot publish to the topic's shard, so the marker follows the read.
      const page = await this.history.read(topic, since, limit, limits);
      await this.connections.publisher.spublish(TOPIC_PREFIX + topic, marker);
      await settleWithin(back, SUBSCRIBE_WAIT_MS);
      return page;
    } finally {
      this.markers.delete(token);
    }
  }

  // ── interest lane ──

  setInterest(topic: string, interested: boolean): Promise<void> | void {
    if (this.closed) return;
    if (interested) {
      this.interest.add(topic);
      // Every caller waits for the confirmation, not only the first (it resolves at once once
      // confirmed); never long, though: while Redis is down a join goes ahead.
      return settleWithin(this.topicChannels.add(TOPIC_PREFIX + topic, this.topicListener), SUBSCRIBE_WAIT_MS);
    }
    if (this.interest.delete(topic)) this.topicChannels.remove(TOPIC_PREFIX + topic, this.topicListener);
    this.streams.delete(topic);
  }

  // ── gossip lane ──

  /** Gossip for this node's replicas, with the replica it is addressed to (null: all). */
  onGossip(handler: (message: GossipMessage, to: ReplicaId | null) => void): void {
    this.gossipHandlers.push(handler);
  }

  onPeerEvent(listener: (event: PeerEvent) => void): void {
    this.peerListeners.push(listener);
  }

  // ── request lane: this node has no other threads to ask (a multi-worker node's hub asks its workers) ──

  async request(): Promise<FabricAnswer[]> {
    return [];
  }

  answer(): void {}

  // ── node request lane ──

  requestNodes(question: NodeQuestion, timeoutMs: number): Promise<NodeAnswer[]> {
    if (this.closed) return Promise.resolve([]);
    return this.nodeRequests.ask(question, timeoutMs);
  }

  answerNodes(responder: (question: NodeQuestion) => Promise<NodeAnswer | undefined>): void {
    this.nodeRequests.answer(responder);
  }

  // ── relay lane ──

  relay(to: RelayTarget, request: RelayRequest, timeoutMs: number): Promise<RelayResponse | undefined> {
    if (this.closed) return Promise.resolve(undefined);
    return this.nodeRelays.relay(to, request, timeoutMs);
  }

  answerRelays(responder: RelayResponder): void {
    this.nodeRelays.answer(responder);
  }

  linkStatus(): NodeLinkStatus {
    return {
      ...this.connections.status(),
      subscribedTopics: clientTopicCount(this.interest.size, (topic) => this.interest.has(topic)),
      dropped: this.dropped,
      rejected: this.rejected,
      pendingSubscribes: this.topicChannels.waiterCount,
    };
  }

  start(): void {
    this.liveness.start();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.nodeRequests.close();
    this.nodeRelays.close();
    await this.counters.close();
    await this.liveness.stop();
    await this.connections.close();
  }

  private publishGossip(channel: string, to: ReplicaId | null, message: GossipMessage): void {
    // Lost gossip is repaired by the next heartbeat and transfer, so nothing is queued while Redis is down.
    if (this.closed || !this.connections.isReady("publisher")) return;
    this.connections.publisher.publish(channel, asBuffer(encodeGossip(this.sender, to, message))).catch(() => {});
  }

  private receiveBroadcast(bytes: Buffer, channel: string): void {
    // Our own live broadcasts come back from Redis: recognised without decoding them. (History
    // broadcasts are delivered here, to this node too, once Redis has numbered them.)
    if (bytes[0] === BROADCAST_HEADER && isFrom(bytes, this.ownPrefix)) return;
    const topic = channel.slice(TOPIC_PREFIX.length);
    // A lingering subscription (see SubscriptionRegistry) may still bring a topic we left.
    if (!this.interest.has(topic)) return;
    const envelope = this.decode(bytes, channel);
    if (!envelope) return;
    if (envelope.kind === "marker") {
      if (envelope.sender === this.sender) this.markers.get(envelope.token)?.();
      return;
    }
    if ((envelope.kind !== "broadcast" && envelope.kind !== "history") || envelope.broadcast.topic !== topic) {
      this.reject(channel, "a broadcast channel carried something else");
      return;
    }
    this.options.metrics.fabricReceived.inc();
    if (envelope.kind === "history") this.receiveHistory(envelope.broadcast);
    else this.deliver(envelope.broadcast);
  }

  private deliver(message: EncodedBroadcast): void {
    for (const handler of this.broadcastHandlers) handler(message);
  }

  /**
   * History broadcasts arrive in offset order, unless Redis pub/sub lost some (a reconnect): a
   * jump is refilled from the topic's stream once for the whole node, and what arrives meanwhile
   * waits behind the refill. Duplicates are dropped by offset.
   */
  private receiveHistory(message: EncodedBroadcast): void {
    const offset = message.offset as number;
    const epoch = message.epoch as string;
    const position = this.streams.get(message.topic);
    if (position?.refilling) return void position.waiting.push(message);
    if (!position || position.epoch !== epoch) {
      this.streams.set(message.topic, { epoch, last: offset, refilling: false, waiting: [] });
      return this.deliver(message);
    }
    if (offset <= position.last) return;
    if (offset === position.last + 1) {
      position.last = offset;
      return this.deliver(message);
    }
    position.refilling = true;
    position.waiting.push(message);
    const missing = offset - position.last - 1;
    this.history
      .read(message.topic, position.last, missing, { size: missing, ttlMs: 1000 })
      .then(
        (page) => {
          if (page.epoch !== epoch) return;
          for (const entry of page.entries) {
            if (entry.offset !== position.last + 1) break;
            position.last = entry.offset;
            this.options.metrics.historyRefills.inc();
            this.deliver({ topic: message.topic, event: eventOf(entry.frame), frame: entry.frame, offset: entry.offset, epoch });
          }
        },
        (err: unknown) => this.log.warn({ err, topic: message.topic }, "could not refill a gap in a history topic"),
      )
      .finally(() => {
        position.refilling = false;
        const waiting = position.waiting;
        position.waiting = [];
        // What could not be refilled is gone for good: carry on from what arrived.
        if (waiting.length > 0 && (waiting[0].offset as number) > position.last + 1) position.last = (waiting[0].offset as number) - 1;
        if (this.streams.get(message.topic) === position) for (const waited of waiting) this.receiveHistory(waited);
      });
  }

  private receiveGossip(bytes: Buffer): void {
    if (isFrom(bytes, this.ownPrefix)) return;
    const envelope = this.decode(bytes, GOSSIP_CHANNEL);
    if (!envelope) return;
    if (envelope.kind !== "gossip") return this.reject(GOSSIP_CHANNEL, "a gossip channel carried something else");
    for (const handler of this.gossipHandlers) handler(envelope.message, envelope.to);
  }

  private decode(bytes: Buffer, channel: string) {
    try {
      return decodeEnvelope(bytes);
    } catch (error) {
      this.reject(channel, error instanceof Error ? error.message : String(error));
      return undefined;
    }
  }

  private reject(channel: string, reason: string): void {
    this.rejected++;
    this.log.warn({ channel, reason }, "dropped a bad message from Redis");
  }

  private peerEvent(event: PeerEvent): void {
    for (const listener of this.peerListeners) listener(event);
  }

  private drop(): void {
    if (this.droppedInOutage === 0) this.log.warn("Redis unreachable: broadcasts to other nodes are being dropped");
    this.dropped++;
    this.droppedInOutage++;
  }
}

interface StreamPosition {
  epoch: string;
  last: number;
  refilling: boolean;
  waiting: EncodedBroadcast[];
}

/** The event of a stored V2 JSON frame (only refills need it). */
function eventOf(frame: string): string {
  return String((JSON.parse(frame) as unknown[])[3]);
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
