import type { ReplicaId } from "../../crdt/index.js";
import { NodeLiveness, type NodeLivenessOptions } from "../cluster/liveness.js";
import { RedisConnections, type RedisConnectionsOptions } from "../cluster/redis-connections.js";
import type { ChannelListener, SubscriptionRegistry } from "../cluster/subscription-registry.js";
import type { Logger } from "../ops/logger.js";
import type { Metrics } from "../ops/metrics.js";
import { NodeQuestions, type NodeResponder } from "./node-questions.js";
import type { Audience, Fabric, GossipLane, PeerEvent, Responder } from "./fabric.js";
import type { EncodedBroadcast } from "./encoded-broadcast.js";
import type { HistoryAppend, HistoryLimits, HistoryPage } from "../history/history.js";
import type { NodeLinkStatus } from "./link-status.js";
import { ReplyError } from "ioredis";
import { DEFAULTS } from "../config.js";
import { PendingStores, type StoreLimits } from "../history/pending-stores.js";
import { RedisHistory, type Appended } from "../history/redis-history.js";
import { StoreError, type StoredBroadcast, type StoreFailure } from "../history/store-error.js";
import { BROADCAST_HEADER, decodeEnvelope, encodeBroadcast, encodeGossip, encodeHistory, encodeMarker, isFrom, senderPrefix } from "./redis-envelope.js";
import { nodeOfReplica } from "./replica-names.js";
import { settleWithin } from "./settle-within.js";
import { clientTopicCount } from "./internal-topics.js";
import { HistoryStreams } from "./history-streams.js";

/** How long a join waits for Redis to confirm the subscription of its topic before going ahead. */
export const SUBSCRIBE_WAIT_MS = 1000;
/**
 * How long a read-back of missed history broadcasts waits for the publishing connection: after an
 * outage the two connections come back apart, by up to one reconnect step (5 s at most, jittered),
 * and the first arrivals on the subscriber may well be the ones that show what was missed.
 */
const READ_BACK_WAIT_MS = 6000;

const TOPIC_PREFIX = "cinder:t:";
/** The Redis channel of a topic's broadcasts (fenced broadcasts go out on it too). */
export const topicChannel = (topic: string): string => TOPIC_PREFIX + topic;
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
  /** Checks a gossip message from another node (presence's check; throws on anything else): a bad one is dropped and counted as rejected. */
  checkGossip: (message: unknown) => unknown;
  /** This node's presence replicas, kept in its liveness key. */
  replicas: () => readonly ReplicaId[];
  log: Logger;
  metrics: Metrics;
  /** Reconnect backoff and subscription batching (tests shorten them). */
  connections?: Pick<RedisConnectionsOptions, "backoff" | "subscriptions">;
  liveness?: Pick<NodeLivenessOptions, "ttlMs" | "refreshMs" | "pollMs">;
  /** Stored broadcasts in flight to Redis and how long each is waited on (default: historyMaxPendingStores, historyStoreTimeoutMs). */
  stores?: StoreLimits;
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
  private readonly gossipHandlers: Array<(message: unknown, to: ReplicaId | null) => void> = [];
  private readonly peerListeners: Array<(event: PeerEvent) => void> = [];
  private readonly topicListener: ChannelListener = (bytes, channel) => this.receiveBroadcast(bytes, channel);
  private readonly gossipListener: ChannelListener = (bytes) => this.receiveGossip(bytes);
  private readonly history: RedisHistory;
  private readonly stores: PendingStores;
  private readonly questions: NodeQuestions;
  /** How this thread answers other nodes' questions, by lane (a multi-worker node's main thread hands them to its workers instead). */
  private readonly responders = new Map<string, Responder>();
  /** Per history topic with interest: where its subscribers are, to refill what pub/sub lost. */
  private readonly streams: HistoryStreams;
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
    const pending = options.metrics.historyStoresPending.labels({ on: "redis" });
    this.stores = new PendingStores({
      max: options.stores?.max ?? DEFAULTS.historyMaxPendingStores,
      timeoutMs: options.stores?.timeoutMs ?? DEFAULTS.historyStoreTimeoutMs,
      onSize: (size) => pending.set(size),
    });
    this.streams = new HistoryStreams({
      // A topic read back here has its epoch already; the TTL only matters if it vanished meanwhile.
      read: async (topic, since, limit) => {
        await this.publisherReady(READ_BACK_WAIT_MS);
        return this.history.read(topic, since, limit, { size: limit, ttlMs: 1000 });
      },
      deliver: (message) => this.deliver(message),
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
    this.sendAppend(message).catch(() => undefined); // counted and logged by sendAppend
  }

  /**
   * Resolves once the script has kept and numbered the message (when sharded, its SPUBLISH
   * follows in order; a node that misses it refills the gap from the stream). Not sent at all
   * while Redis is unreachable.
   */
  storeHistory(message: HistoryAppend): Promise<StoredBroadcast> {
    if (this.closed) return Promise.reject(new StoreError("unavailable"));
    if (!this.connections.isReady("publisher")) {
      this.drop();
      return Promise.reject(new StoreError("unavailable"));
    }
    return this.stores.run(() =>
      this.sendAppend(message).then(
        ({ offset, epoch }) => ({ offset, epoch }),
        (err: unknown) => Promise.reject(new StoreError(appendFailure(err))),
      ),
    );
  }

  /** One EVAL of the append script, on the publisher connection (so a publisher's appends keep their order). */
  private sendAppend(message: HistoryAppend): Promise<Appended> {
    this.options.metrics.fabricSent.inc();
    const appended = this.history.append(message);
    appended.then(
      (numbered) => {
        if (!this.options.sharded) return;
        const bytes = encodeHistory(this.sender, { ...message, ...numbered });
        return this.connections.publisher.spublish(TOPIC_PREFIX + message.topic, asBuffer(bytes));
      },
      (err: unknown) => {
        this.drop();
        this.log.warn({ err, topic: message.topic }, "a history broadcast could not be stored");
      },
    ).catch(() => this.drop());
    return appended;
  }

  /**
   * Reads a topic's history. When this node receives the topic, the read also publishes a marker
   * at its own point in the stream, and resolves once the marker is back and the node's
   * subscribers have everything up to the page's top (what pub/sub lost is read back first, see
   * HistoryStreams.reach): a joining socket attached now gets none of the page's broadcasts
   * twice. (A marker lost in an outage costs a bounded wait, SUBSCRIBE_WAIT_MS.)
   */
  async readHistory(topic: string, since: number, limit: number, limits: HistoryLimits): Promise<HistoryPage> {
    if (!this.interest.has(topic)) return this.history.read(topic, since, limit, limits);
    const token = `${this.nextMarker++}`;
    const back = new Promise<void>((resolve) => this.markers.set(token, resolve));
    let page: HistoryPage;
    try {
      const marker = asBuffer(encodeMarker(this.sender, token));
      if (!this.options.sharded) {
        page = await this.history.read(topic, since, limit, limits, marker);
      } else {
        // Sharded: the script cannot publish to the topic's shard, so the marker follows the read.
        page = await this.history.read(topic, since, limit, limits);
        await this.connections.publisher.spublish(TOPIC_PREFIX + topic, marker);
      }
      await settleWithin(back, SUBSCRIBE_WAIT_MS);
    } finally {
      this.markers.delete(token);
    }
    if (this.interest.has(topic)) await this.streams.reach(topic, page);
    return page;
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
    this.streams.forget(topic);
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
    if (this.closed || to === "threads" || to === "main") return Promise.resolve([]);
    if (to === "nodes") return this.questions.ask(lane, undefined, question, timeoutMs);
    if (to.node === this.options.nodeName) return Promise.resolve([]);
    return this.questions.ask(lane, to, question, timeoutMs);
  }

  serve(lane: string, responder: Responder): void {
    this.responders.set(lane, responder);
  }

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
    if (this.closed) return;
    this.closed = true;
    this.questions.close();
    await this.liveness.stop();
    await this.connections.close();
  }

  /** Resolves once the publishing connection is ready, or after `ms` (what is sent then fails as it would have). */
  private async publisherReady(ms: number): Promise<void> {
    if (this.connections.isReady("publisher")) return;
    let stop = () => {};
    const ready = new Promise<void>((resolve) => {
      stop = this.connections.onReady((role) => role === "publisher" && resolve());
    });
    await settleWithin(ready, ms);
    stop();
  }

  private publishGossip(channel: string, to: ReplicaId | null, message: unknown): void {
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
    if (envelope.kind === "history") this.streams.receive(envelope.broadcast);
    else this.deliver(envelope.broadcast);
  }

  private deliver(message: EncodedBroadcast): void {
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

  private drop(): void {
    if (this.droppedInOutage === 0) this.log.warn("Redis unreachable: broadcasts to other nodes are being dropped");
    this.dropped++;
    this.droppedInOutage++;
  }
}

/**
 * Why an append failed: Redis answered with an error (the script failed: nothing was kept), the
 * command could not be written (not sent), or the connection went with the command on its way
 * (it may have run: the outcome is not known, as after a timeout).
 */
function appendFailure(err: unknown): StoreFailure {
  if (err instanceof ReplyError) return "failed";
  if (err instanceof Error && err.message.startsWith("Stream isn't writeable")) return "unavailable";
  return "timeout";
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
