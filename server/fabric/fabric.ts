import type { ReplicaId } from "../../crdt/index.js";
import type { Leases } from "../leases/leases.js";
import type { GossipMessage } from "../presence/messages.js";
import type { CounterQuery, CounterStore } from "../counters/counter-store.js";
import type { NodeSnapshot } from "../dashboard/node-snapshot.js";
import type { TopicCount } from "../pubsub/local-fanout.js";
import type { StoredBroadcast } from "../history/store-error.js";
import type { HistoryAppend, HistoryLimits, HistoryPage } from "../history/history.js";
import type { EncodedBroadcast } from "./encoded-broadcast.js";
import type { NodeLinkStatus } from "./link-status.js";

/**
 * The presence gossip lane: what a tracker needs to reach the other replicas. Delivery may be
 * lossy, duplicated or reordered; the tracker copes with all three.
 */
export interface GossipLane {
  /** To every other replica. */
  broadcast(message: GossipMessage): void;
  sendTo(replica: ReplicaId, message: GossipMessage): void;
  onMessage(handler: (message: GossipMessage) => void): void;
}

/**
 * What the fabric learns about other replicas outside gossip: `gone` (a worker crashed, or a
 * node left for good: drop its presences now), `down` (a node's liveness key expired: hide
 * them), `up` (its key is there: first seen, or back) and `listed` (every replica live when the
 * fabric first looked has been reported `up`; at once where there is nobody to look for).
 */
export type PeerEvent = { kind: "gone" | "down" | "up"; replica: ReplicaId } | { kind: "listed" };

/** The figures of one worker thread, as /health shows them. */
export interface WorkerStats {
  index: number;
  sockets: number;
  channels: number;
  topics: number;
}

/** prom-client's `getMetricsAsJSON()` of one registry, summed across threads for /metrics. */
export type MetricsJson = unknown[];

/**
 * The request lane: a question to every other thread of this node, and what each answers.
 * A worker answers with its own figures; the node's main thread with its link to other nodes
 * and the node-wide topic count.
 */
export type FabricQuestion =
  /** `top`: also the thread's this many topics with the most subscribers (the dashboard). */
  | { kind: "stats"; top?: number }
  | { kind: "history"; topic: string; since: number; limit: number; limits: HistoryLimits }
  | { kind: "counter"; query: CounterQuery }
  /** Subscribers of one topic on the thread. */
  | { kind: "topic"; topic: string }
  /** Worker → main thread: ask the other nodes (the main thread holds the node's link). */
  | { kind: "nodes"; question: NodeQuestion; timeoutMs: number }
  /** Main thread → one worker: answer another node's question for this whole node. */
  | { kind: "node"; question: NodeQuestion };
export type FabricAnswer =
  | { kind: "worker"; stats: WorkerStats; metrics: MetricsJson; top?: TopicCount[] }
  | { kind: "topic"; subscribers: number }
  | { kind: "nodes"; answers: NodeAnswer[] }
  | { kind: "node"; topics: number; link: NodeLinkStatus | undefined; metrics: MetricsJson }
  /** null: the authority could not be read (Redis unreachable). */
  | { kind: "history"; page: HistoryPage | null }
  /** null: the counter could not be read (Redis unreachable). */
  | { kind: "counter"; value: number | null };

/**
 * The node request lane: a question to every other node of the cluster, each answering for
 * itself as a whole (all its threads). The dashboard's lane: a node's snapshot, and one topic's
 * subscribers on it.
 */
export type NodeQuestion = { kind: "snapshot" } | { kind: "topic"; topic: string };
export type NodeAnswer = { kind: "snapshot"; snapshot: NodeSnapshot } | { kind: "topic"; node: string; subscribers: number };

/** One thread of the cluster: a node, and its worker's index (0 on a single-thread node). */
export interface RelayTarget {
  node: string;
  worker: number;
}

/**
 * A LongPoll request that reached a thread which does not own its session (docs/longpoll.md):
 * handed to the owner as it came. `lines` are a POST's ndjson lines.
 */
export interface RelayRequest {
  kind: "longpoll";
  method: "GET" | "POST";
  token: string;
  lines?: string[];
}

/** The owner's answer: the JSON body the client gets. */
export interface RelayResponse {
  body: string;
}

/** How a thread answers requests relayed to it; undefined: no answer (the asker times out). */
export type RelayResponder = (request: RelayRequest, to: RelayTarget) => Promise<RelayResponse | undefined>;

/**
 * The fabric: the one way to reach the other replicas of the cluster, that is the other
 * worker threads of this node and the other nodes (through Redis). Each lane is typed; each
 * medium is one implementation beside this file:
 *   fabric-local.ts   — nobody else (one thread, no Redis)
 *   fabric-workers.ts — a worker thread: its siblings and the node's main thread
 *   fabric-redis.ts   — a node: the other nodes, through one Redis subscriber per node
 * and node-hub.ts joins the last two in the main thread of a multi-worker node.
 */
export interface Fabric {
  // ── broadcast lane ──
  /** To every other replica with a subscriber of `message.topic`; never echoed back here. */
  publish(message: EncodedBroadcast): void;
  /** Whether a broadcast of `topic` may need to cross (when not, it is not encoded for the fabric). */
  reaches(topic: string): boolean;
  /** Broadcasts from other replicas, for local delivery. */
  onBroadcast(handler: (message: EncodedBroadcast) => void): void;

  // ── history lane ──
  /**
   * A broadcast to a history topic: the topic's one authority (this thread on a single-thread
   * node, the node's main thread, or Redis in a cluster) gives it the next offset, keeps it, and
   * delivers it to every replica with interest — this one included — through `onBroadcast`.
   */
  appendHistory(message: HistoryAppend): void;
  /**
   * `appendHistory`, confirmed: resolves once the authority has numbered and kept the message,
   * with its offset and epoch, or rejects with a StoreError (history/store-error.ts) — at the
   * latest after historyStoreTimeoutMs. Stores and appends of one thread keep their order.
   */
  storeHistory(message: HistoryAppend): Promise<StoredBroadcast>;
  /** What the authority holds of `topic` after offset `since` (at most `limit` entries). */
  readHistory(topic: string, since: number, limit: number, limits: HistoryLimits): Promise<HistoryPage>;

  // ── counters lane ──
  /**
   * Where this thread's counter increments go and its reads come from: memory on a node without
   * Redis (the main thread's, for a worker), Redis in a cluster, coalesced on the way.
   */
  readonly counters: CounterStore;

  // ── interest lane ──
  /**
   * This replica gained its first (true) or lost its last (false) subscriber of `topic`. Gaining
   * returns a promise that settles once other replicas' broadcasts of the topic are routed here
   * (or after a bounded wait when a peer does not answer); every joiner awaits it.
   */
  setInterest(topic: string, interested: boolean): Promise<void> | void;

  // ── presence gossip lane ──
  readonly gossip: GossipLane;
  onPeerEvent(listener: (event: PeerEvent) => void): void;

  // ── lease lane ──
  /** One holder per topic across the cluster, with fencing (topic workers; see leases.ts). */
  readonly leases: Leases;

  // ── request lane ──
  /** Asks every other thread of this node; resolves with the answers that came within `timeoutMs`. */
  request(question: FabricQuestion, timeoutMs: number): Promise<FabricAnswer[]>;
  answer(responder: (question: FabricQuestion) => Promise<FabricAnswer>): void;

  // ── node request lane ──
  /** Asks every other node; resolves with the answers that came within `timeoutMs` ([] without other nodes). */
  requestNodes(question: NodeQuestion, timeoutMs: number): Promise<NodeAnswer[]>;
  /** How this node answers other nodes (undefined: no answer). */
  answerNodes(responder: (question: NodeQuestion) => Promise<NodeAnswer | undefined>): void;

  // ── relay lane ──
  /**
   * Hands `request` to one thread (of this node or another) and resolves with its answer, or
   * with undefined when it did not come within `timeoutMs` (or the thread cannot be reached).
   */
  relay(to: RelayTarget, request: RelayRequest, timeoutMs: number): Promise<RelayResponse | undefined>;
  answerRelays(responder: RelayResponder): void;

  /** The link to other nodes, when this thread holds it. */
  linkStatus(): NodeLinkStatus | undefined;
  /** Starts liveness and whatever needs this replica to be serving. */
  start(): void;
  /** Graceful: queued messages flushed, liveness key removed, connections closed. */
  close(): Promise<void>;
}
