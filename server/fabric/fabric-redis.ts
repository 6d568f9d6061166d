import type { ReplicaId } from "../../crdt/index.js";
import { NodeLiveness, type NodeLivenessOptions } from "../redis/liveness.js";
import type { RedisConnections } from "../redis/redis-connections.js";
import type { ChannelListener, SubscriptionRegistry } from "../redis/subscription-registry.js";
import type { Logger } from "../ops/logger.js";
import type { FabricMetrics } from "./fabric-metrics.js";
import { NodeQuestions, type NodeResponder } from "./node-questions.js";
import type { Audience, Fabric, GossipLane, ThreadEvent, Responder } from "./fabric.js";
import type { EncodedBroadcast } from "./encoded-broadcast.js";
import type { RedisStatus } from "./redis-status.js";
import { BROADCAST_HEADER, decodeEnvelope, decodeTopicEnvelope, encodeBroadcast, encodeGossip, isFrom, senderPrefix } from "./redis-envelope.js";
import type { TopicChannels, TopicEnvelopeKind } from "./topic-channels.js";
import { nodeOfReplica } from "./replica-names.js";
import { settleWithin } from "./settle-within.js";
import { clientTopicCount } from "./internal-topics.js";

/** How long a join waits for Redis to confirm the subscription of its topic before going ahead. */
export const SUBSCRIBE_WAIT_MS = 1000;
const TOPIC_PREFIX = "cinder:t:";
/** The items of a broadcast's envelope after its version and sender: topic, event, frame. */
const BROADCAST_ITEMS = 3;
/** The Redis channel of a topic's broadcasts (fenced broadcasts, and the lanes' envelopes, go out on it too). */
export const topicChannel = (topic: string): string => TOPIC_PREFIX + topic;
/** Heartbeats and permdowns, for every node. */
const GOSSIP_CHANNEL = "cinder:presence";
/** Transfer requests and replies, for the replicas of one node. */
const nodeGossipChannel = (node: string) => `${GOSSIP_CHANNEL}:${node}`;

export interface RedisFabricOptions {
  /**
   * The node's two Redis connections, built by the wiring (which hands them to the node's other
   * Redis lanes too: leases, counters, history). The fabric closes them when it closes, last.
   */
  connections: RedisConnections;
  nodeName: string;
  /**
   * `nodeName#incarnation` (senderOf), one per node start: heads every envelope this node sends,
   * and tells its messages from those of its previous lives. The wiring gives it to the node's
   * Redis lanes too.
   */
  sender: string;
  /** SSUBSCRIBE/SPUBLISH for broadcasts (Redis 7 sharded pub/sub, for Redis Cluster). */
  sharded: boolean;
  /** Checks a gossip message from another node (presence's check; throws on anything else): a bad one is dropped and counted as rejected. */
  checkGossip: (message: unknown) => unknown;
  /** This node's presence replicas, kept in its liveness key. */
  replicas: () => readonly ReplicaId[];
  log: Logger;
  metrics: FabricMetrics;
  liveness?: Pick<NodeLivenessOptions, "ttlMs" | "refreshMs" | "pollMs">;
}

/**
 * The fabric between nodes, through Redis: one per node (held by its main thread when
 * it runs several workers). One subscriber connection per node; each message from Redis is
 * decoded once here. Broadcasts are routed by interest: one Redis channel per topic, subscribed
 * only while this node has a subscriber of it. Delivery is at most once: while Redis is
 * unreachable, broadcasts to other nodes are dropped and counted, and presence gossip repairs
 * itself afterwards (clocks and delta numbers reveal what was missed).
 */
export class RedisFabric implements Fabric, TopicChannels {
  /** `nodeName#incarnation`, at the head of every envelope this node sends. */
  readonly sender: string;
  private readonly ownPrefix: Uint8Array;
  /** The node's two Redis connections (given by the wiring). */
  readonly connections: RedisConnections;
  private readonly topicChannels: SubscriptionRegistry;
  private readonly liveness: NodeLiveness;
  private readonly interest = new Set<string>();
  private readonly broadcastHandlers: Array<(message: EncodedBroadcast) => void> = [];
  private readonly gossipHandlers: Array<(message: unknown, to: ReplicaId | null) => void> = [];
  private readonly threadListeners: Array<(event: ThreadEvent) => void> = [];
  private readonly topicListener: ChannelListener = (bytes, channel) => this.receiveTopicMessage(bytes, channel);
  private readonly gossipListener: ChannelListener = (bytes) => this.receiveGossip(bytes);
  private readonly questions: NodeQuestions;
  /** How this thread answers other nodes' questions, by lane (a multi-worker node's main thread hands them to its workers instead). */
  private readonly responders = new Map<string, Responder>();
  /** The lanes' own envelopes on the topic channels, by their number of items. */
  private readonly topicEnvelopes = new Map<number, (topic: string, items: readonly unknown[], sender: string) => void>();
  private readonly interestLostListeners: Array<(topic: string) => void> = [];
  private dropped = 0;
  private droppedInOutage = 0;
  private rejected = 0;
  private isClosed = false;
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
    this.sender = options.sender;
    this.ownPrefix = senderPrefix(this.sender);
    this.log = options.log.child({ component: "fabric" });
    this.connections = options.connections;
    this.topicChannels = options.sharded ? this.connections.shardChannels : this.connections.channels;
    this.connections.channels.add(GOSSIP_CHANNEL, this.gossipListener);
    this.connections.channels.add(nodeGossipChannel(options.nodeName), this.gossipListener);
    this.connections.onReady((role) => {
      if (role !== "publisher" || this.droppedInOutage === 0) return;
      this.log.warn({ dropped: this.droppedInOutage }, "cross-node broadcasts dropped while Redis was unreachable");
      this.droppedInOutage = 0;
    });
    this.liveness = new NodeLiveness({
      connections: this.connections,
      nodeName: options.nodeName,
      replicas: options.replicas,
      logger: options.log,
      ...options.liveness,
    });
    this.questions = new NodeQuestions({
      connections: this.connections,
      nodeName: options.nodeName,
      sender: this.sender,
      peers: () => this.liveness.liveNodes().map((node) => node.name),
      metrics: options.metrics,
      log: this.log,
    });
    this.questions.answer(async (lane, question) => this.responders.get(lane)?.(question));
    this.liveness.onNodeDown((node) => node.replicas.forEach((replica) => this.threadEvent({ kind: "down", replica })));
    this.liveness.onNodeUp((node) => node.replicas.forEach((replica) => this.threadEvent({ kind: "up", replica })));
    this.liveness.onListed(() => this.threadEvent({ kind: "listed" }));
  }

  // ── broadcast lane ──

  publish(message: EncodedBroadcast): void {
    if (this.isClosed) return;
    if (!this.connections.isReady("publisher")) return this.drop();
    const bytes = encodeBroadcast(this.sender, message);
    const channel = topicChannel(message.topic);
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

  // ── interest lane ──

  setInterest(topic: string, interested: boolean): Promise<void> | void {
    if (this.isClosed) return;
    if (interested) {
      this.interest.add(topic);
      // Every caller waits for the confirmation, not only the first (it resolves at once once
      // confirmed); never long, though: while Redis is down a join goes ahead.
      return settleWithin(this.topicChannels.add(topicChannel(topic), this.topicListener), SUBSCRIBE_WAIT_MS);
    }
    if (this.interest.delete(topic)) this.topicChannels.remove(topicChannel(topic), this.topicListener);
    for (const listener of this.interestLostListeners) listener(topic);
  }

  channelOf(topic: string): string {
    return topicChannel(topic);
  }

  hasInterest(topic: string): boolean {
    return this.interest.has(topic);
  }

  onInterestLost(listener: (topic: string) => void): void {
    this.interestLostListeners.push(listener);
  }

  onTopicEnvelope<T>(kind: TopicEnvelopeKind<T>, handler: (message: T, sender: string) => void): void {
    if (kind.items === BROADCAST_ITEMS) throw new RangeError(`an envelope of ${BROADCAST_ITEMS} items on a topic channel is a broadcast`);
    if (this.topicEnvelopes.has(kind.items)) throw new RangeError(`envelopes of ${kind.items} items on the topic channels have a handler already`);
    this.topicEnvelopes.set(kind.items, (topic, items, sender) => {
      let message: T;
      try {
        message = kind.decode(topic, items);
      } catch (error) {
        return this.reject(topicChannel(topic), error instanceof Error ? error.message : String(error));
      }
      handler(message, sender);
    });
  }

  get closed(): boolean {
    return this.isClosed;
  }

  // ── gossip lane ──

  /** Gossip for this node's replicas, with the replica it is addressed to (null: all). */
  onGossip(handler: (message: unknown, to: ReplicaId | null) => void): void {
    this.gossipHandlers.push(handler);
  }

  onThreadEvent(listener: (event: ThreadEvent) => void): void {
    this.threadListeners.push(listener);
  }

  /** What a replica that starts now has missed: every live replica of the other nodes up, and whether they were listed yet. */
  threadsSoFar(): ThreadEvent[] {
    const up = this.liveness.liveNodes().flatMap((node) => node.replicas.map((replica): ThreadEvent => ({ kind: "up", replica })));
    return this.liveness.listed ? [...up, { kind: "listed" }] : up;
  }

  // ── request lane ──

  /** Other nodes through Redis; this node has no other threads to ask (a multi-worker node's main thread asks its workers). */
  ask(lane: string, to: Audience, question: unknown, timeoutMs: number): Promise<unknown[]> {
    if (this.isClosed || to === "threads" || to === "main") return Promise.resolve([]);
    if (to === "nodes") return this.questions.ask(lane, undefined, question, timeoutMs);
    if (to.node === this.options.nodeName) return Promise.resolve([]);
    return this.questions.ask(lane, to, question, timeoutMs);
  }

  serve(lane: string, responder: Responder): void {
    this.responders.set(lane, responder);
  }

  /** This node has no other threads (a multi-worker node's main thread tells its workers). */
  tell(): void {}

  /** Every lane's questions from other nodes, to one responder: a multi-worker node's main thread, which hands them to its workers. */
  serveNode(responder: NodeResponder): void {
    this.questions.answer(responder);
  }

  redisStatus(): RedisStatus {
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
    if (this.isClosed) return;
    this.isClosed = true;
    this.questions.close();
    await this.liveness.stop();
    await this.connections.close();
  }

  private publishGossip(channel: string, to: ReplicaId | null, message: unknown): void {
    // Lost gossip is repaired by the next heartbeat and transfer, so nothing is queued while Redis is down.
    if (this.isClosed || !this.connections.isReady("publisher")) return;
    this.connections.publisher.publish(channel, asBuffer(encodeGossip(this.sender, to, message))).catch(() => {});
  }

  private receiveTopicMessage(bytes: Buffer, channel: string): void {
    // Our own live broadcasts come back from Redis: recognised without decoding them. (A lane's
    // envelopes come back to this node too: history's numbered broadcasts are delivered here
    // once Redis has numbered them.)
    if (bytes[0] === BROADCAST_HEADER && isFrom(bytes, this.ownPrefix)) return;
    const topic = channel.slice(TOPIC_PREFIX.length);
    // A lingering subscription (see SubscriptionRegistry) may still bring a topic we left.
    if (!this.interest.has(topic)) return;
    const envelope = this.decode(bytes, channel, decodeTopicEnvelope);
    if (!envelope) return;
    if (envelope.kind === "lane") {
      const handler = this.topicEnvelopes.get(envelope.items.length);
      if (!handler) return this.reject(channel, `no lane takes an envelope of ${envelope.items.length} items on a topic channel`);
      return handler(topic, envelope.items, envelope.sender);
    }
    if (envelope.broadcast.topic !== topic) return this.reject(channel, "a broadcast channel carried another topic's broadcast");
    this.options.metrics.fabricReceived.inc();
    this.deliver(envelope.broadcast);
  }

  deliver(message: EncodedBroadcast): void {
    for (const handler of this.broadcastHandlers) handler(message);
  }

  private receiveGossip(bytes: Buffer): void {
    if (isFrom(bytes, this.ownPrefix)) return;
    const envelope = this.decode(bytes, GOSSIP_CHANNEL, decodeEnvelope);
    if (!envelope) return;
    if (envelope.kind !== "gossip") return this.reject(GOSSIP_CHANNEL, "a gossip channel carried something else");
    let message: unknown;
    try {
      message = this.options.checkGossip(envelope.message);
    } catch (error) {
      return this.reject(GOSSIP_CHANNEL, error instanceof Error ? error.message : String(error));
    }
    for (const handler of this.gossipHandlers) handler(message, envelope.to);
  }

  private decode<T>(bytes: Buffer, channel: string, decode: (bytes: Buffer) => T): T | undefined {
    try {
      return decode(bytes);
    } catch (error) {
      this.reject(channel, error instanceof Error ? error.message : String(error));
      return undefined;
    }
  }

  private reject(channel: string, reason: string): void {
    this.rejected++;
    this.log.warn({ channel, reason }, "dropped a bad message from Redis");
  }

  private threadEvent(event: ThreadEvent): void {
    for (const listener of this.threadListeners) listener(event);
  }

  drop(): void {
    if (this.droppedInOutage === 0) this.log.warn("Redis unreachable: broadcasts to other nodes are being dropped");
    this.dropped++;
    this.droppedInOutage++;
  }
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
