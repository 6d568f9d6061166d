import type { ReplicaId } from "../../crdt/index.js";
import { NodeLiveness, type NodeLivenessOptions } from "../cluster/liveness.js";
import type { RedisConnections } from "../cluster/redis-connections.js";
import type { ChannelListener, SubscriptionRegistry } from "../cluster/subscription-registry.js";
import type { Logger } from "../ops/logger.js";
import type { FabricMetrics } from "./fabric-metrics.js";
import { NodeQuestions, type NodeResponder } from "./node-questions.js";
import type { Audience, Fabric, GossipLane, PeerEvent, Responder } from "./fabric.js";
import type { EncodedBroadcast } from "./encoded-broadcast.js";
import type { NodeLinkStatus } from "./link-status.js";
import { BROADCAST_HEADER, decodeEnvelope, encodeBroadcast, encodeGossip, isFrom, senderPrefix } from "./redis-envelope.js";
import { nodeOfReplica } from "./replica-names.js";
import { settleWithin } from "./settle-within.js";
import { clientTopicCount } from "./internal-topics.js";

/** How long a join waits for Redis to confirm the subscription of its topic before going ahead. */
export const SUBSCRIBE_WAIT_MS = 1000;
const TOPIC_PREFIX = "cinder:t:";
/** The Redis channel of a topic's broadcasts (fenced broadcasts go out on it too). */
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
  /** One per node start: tells this node's messages from those of its previous lives. */
  nodeIncarnation: string;
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
  /** The node's two Redis connections (given by the wiring). */
  readonly connections: RedisConnections;
  private readonly topicChannels: SubscriptionRegistry;
  private readonly liveness: NodeLiveness;
  private readonly interest = new Set<string>();
  private readonly broadcastHandlers: Array<(message: EncodedBroadcast) => void> = [];
  private readonly gossipHandlers: Array<(message: unknown, to: ReplicaId | null) => void> = [];
  private readonly peerListeners: Array<(event: PeerEvent) => void> = [];
  private readonly topicListener: ChannelListener = (bytes, channel) => this.receiveBroadcast(bytes, channel);
  private readonly gossipListener: ChannelListener = (bytes) => this.receiveGossip(bytes);
  private readonly questions: NodeQuestions;
  /** How this thread answers other nodes' questions, by lane (a multi-worker node's main thread hands them to its workers instead). */
  private readonly responders = new Map<string, Responder>();
  /** Numbered broadcasts (kept in a topic's history) go here: history-redis.ts refills their gaps before delivering them. */
  private numberedHandler: (message: EncodedBroadcast) => void = (message) => this.deliver(message);
  private markerHandler: (token: string) => void = () => {};
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
    this.sender = `${options.nodeName}#${options.nodeIncarnation}`;
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
    this.liveness.onNodeDown((node) => node.replicas.forEach((replica) => this.peerEvent({ kind: "down", replica })));
    this.liveness.onNodeUp((node) => node.replicas.forEach((replica) => this.peerEvent({ kind: "up", replica })));
    this.liveness.onListed(() => this.peerEvent({ kind: "listed" }));
  }

  // ── broadcast lane ──

  publish(message: EncodedBroadcast): void {
    if (this.isClosed) return;
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

  // ── interest lane ──

  setInterest(topic: string, interested: boolean): Promise<void> | void {
    if (this.isClosed) return;
    if (interested) {
      this.interest.add(topic);
      // Every caller waits for the confirmation, not only the first (it resolves at once once
      // confirmed); never long, though: while Redis is down a join goes ahead.
      return settleWithin(this.topicChannels.add(TOPIC_PREFIX + topic, this.topicListener), SUBSCRIBE_WAIT_MS);
    }
    if (this.interest.delete(topic)) this.topicChannels.remove(TOPIC_PREFIX + topic, this.topicListener);
    for (const listener of this.interestLostListeners) listener(topic);
  }

  /** Whether this node receives `topic` (it has a subscriber of it). */
  hasInterest(topic: string): boolean {
    return this.interest.has(topic);
  }

  /** `topic` lost this node's interest (or never had it). */
  onInterestLost(listener: (topic: string) => void): void {
    this.interestLostListeners.push(listener);
  }

  /** Numbered broadcasts from the topic channels (a history's), instead of delivering them as they come. */
  onNumbered(handler: (message: EncodedBroadcast) => void): void {
    this.numberedHandler = handler;
  }

  /** This node's own markers, back from a topic channel: where a read stands in the topic's stream. */
  onMarker(handler: (token: string) => void): void {
    this.markerHandler = handler;
  }

  /** True once closed: nothing more is sent. */
  get closed(): boolean {
    return this.isClosed;
  }

  // ── gossip lane ──

  /** Gossip for this node's replicas, with the replica it is addressed to (null: all). */
  onGossip(handler: (message: unknown, to: ReplicaId | null) => void): void {
    this.gossipHandlers.push(handler);
  }

  onPeerEvent(listener: (event: PeerEvent) => void): void {
    this.peerListeners.push(listener);
  }

  /** What a replica that starts now has missed: every live replica of the other nodes up, and whether they were listed yet. */
  peersSoFar(): PeerEvent[] {
    const up = this.liveness.liveNodes().flatMap((node) => node.replicas.map((replica): PeerEvent => ({ kind: "up", replica })));
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
      if (envelope.sender === this.sender) this.markerHandler(envelope.token);
      return;
    }
    if ((envelope.kind !== "broadcast" && envelope.kind !== "history") || envelope.broadcast.topic !== topic) {
      this.reject(channel, "a broadcast channel carried something else");
      return;
    }
    this.options.metrics.fabricReceived.inc();
    if (envelope.kind === "history") this.numberedHandler(envelope.broadcast);
    else this.deliver(envelope.broadcast);
  }

  /** Hands `message` to this node's broadcast handlers, as if it came from another node. */
  deliver(message: EncodedBroadcast): void {
    for (const handler of this.broadcastHandlers) handler(message);
  }

  private receiveGossip(bytes: Buffer): void {
    if (isFrom(bytes, this.ownPrefix)) return;
    const envelope = this.decode(bytes, GOSSIP_CHANNEL);
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

  /** A message to other nodes was not sent (Redis unreachable): counted in linkStatus().dropped, and logged once per outage. */
  drop(): void {
    if (this.droppedInOutage === 0) this.log.warn("Redis unreachable: broadcasts to other nodes are being dropped");
    this.dropped++;
    this.droppedInOutage++;
  }
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
