import type { ReplicaId } from "../../crdt/index.js";
import type { EncodedBroadcast } from "./encoded-broadcast.js";
import type { RedisStatus } from "./redis-status.js";

/**
 * The gossip lane: messages to every other thread or to one, carried as they are (presence's
 * tracker is its user, and checks what it gets). Delivery may be lossy, duplicated or
 * reordered; the user copes with all three.
 */
export interface GossipLane {
  /** To every other thread. */
  broadcast(message: unknown): void;
  sendTo(replica: ReplicaId, message: unknown): void;
  onMessage(handler: (message: unknown) => void): void;
}

/**
 * What the fabric learns about other threads outside gossip: `gone` (a worker crashed, or a
 * node left for good: drop its presences now), `down` (a node's liveness key expired: hide
 * them), `up` (its key is there: first seen, or back) and `listed` (every replica live when the
 * fabric first looked has been reported `up`; at once where there is nobody to look for).
 */
export type ThreadEvent = { kind: "gone" | "down" | "up"; replica: ReplicaId } | { kind: "listed" };

/** One thread of the cluster: a node, and its worker's index (0 on a single-thread node). */
export interface ThreadAddress {
  node: string;
  worker: number;
}

/**
 * Who a question goes to: `threads`, every other thread of this node; `main`, this node's main
 * thread (a worker's way to what the node keeps once: its Redis connections, its history, its counters);
 * `nodes`, every other node, each answering for itself as a whole (one of its workers answers);
 * or one thread of the cluster, on this node or another.
 */
export type Audience = "threads" | "main" | "nodes" | ThreadAddress;

/** How a thread answers a lane's questions; undefined: no answer (the asker's wait ends without it). */
export type Responder = (question: unknown) => Promise<unknown>;

/**
 * The fabric: the one way to reach the other threads of the cluster, that is the other
 * worker threads of this node and the other nodes (through Redis). It carries broadcasts,
 * interest, gossip and thread events, and every feature's questions on one request primitive
 * (ask, serve, tell); it knows no feature. Each medium is one implementation beside this file:
 *   fabric-memory.ts  — nobody else (one thread, no Redis)
 *   fabric-workers.ts — a worker thread: its siblings and the node's main thread
 *   fabric-redis.ts   — a node: the other nodes, through one Redis subscriber per node
 * and fabric-main-thread.ts joins the last two in the main thread of a multi-worker node. Lanes are built
 * for the medium chosen with the fabric (medium.ts), never for its class; on Redis, a lane may
 * also send envelopes of its own on the topics' channels (topic-channels.ts).
 */
export interface Fabric {
  // ── broadcast lane ──
  /** To every other thread with a subscriber of `message.topic`; never echoed back here. */
  publish(message: EncodedBroadcast): void;
  /** Whether a broadcast of `topic` may need to cross (when not, it is not encoded for the fabric). */
  reaches(topic: string): boolean;
  /** Broadcasts from other threads, for local delivery. */
  onBroadcast(handler: (message: EncodedBroadcast) => void): void;

  // ── interest lane ──
  /**
   * This thread gained its first (true) or lost its last (false) subscriber of `topic`. Gaining
   * returns a promise that settles once other threads' broadcasts of the topic are routed here
   * (or after a bounded wait when a peer does not answer); every joiner awaits it.
   */
  setInterest(topic: string, interested: boolean): Promise<void> | void;

  // ── gossip lane ──
  readonly gossip: GossipLane;
  onThreadEvent(listener: (event: ThreadEvent) => void): void;

  // ── request lane ──
  /**
   * Asks `to` a question on `lane` (a feature names its lane; the fabric carries what it is
   * given, and a question from another node is the answering feature's to check). Resolves with
   * the answers that came within `timeoutMs`: [] when nobody is there to ask.
   */
  ask(lane: string, to: Audience, question: unknown, timeoutMs: number): Promise<unknown[]>;
  /** How this thread answers `lane`'s questions, from any thread of the cluster. */
  serve(lane: string, responder: Responder): void;
  /**
   * One-way, within this node: hands `message` to `lane`'s responder on the main thread or on
   * every other thread, in order with everything else this thread sends there; no answer comes
   * back (a worker's history appends, its counter increments).
   */
  tell(lane: string, to: "main" | "threads", message: unknown): void;

  /** The state of the Redis connections, when this thread holds them. */
  redisStatus(): RedisStatus | undefined;
  /** Starts liveness and whatever needs this thread to be serving. */
  start(): void;
  /** Graceful: queued messages flushed, liveness key removed, connections closed. */
  close(): Promise<void>;
}
