import type { ReplicaId } from "../../crdt/index.js";
import type { Logger } from "../ops/logger.js";
import { BroadcastBatches } from "./broadcast-batches.js";
import { InterestMap } from "./interest-map.js";
import type { Audience, Fabric, GossipLane, ThreadEvent, Responder } from "./fabric.js";
import type { EncodedBroadcast } from "./encoded-broadcast.js";
import type { RedisStatus } from "./redis-status.js";
import { MAIN_THREAD, type MeshMessage } from "./mesh-messages.js";
import type { PeerMesh } from "./mesh.js";
import { PendingReplies } from "./pending-replies.js";
import { workerIndexOf } from "./replica-names.js";

/** How long a join waits for the other threads to confirm a new interest before going ahead. */
export const INTEREST_ACK_TIMEOUT_MS = 1000;
/** How much longer than the other nodes' timeout a worker waits for the main thread's answer. */
const MAIN_THREAD_MARGIN_MS = 200;

export interface WorkerFabricOptions {
  /** Ports to the sibling workers and to the node's main thread (MAIN_THREAD). */
  mesh: PeerMesh;
  nodeName: string;
  /** The node is in a cluster: the main thread carries broadcasts and gossip on to other nodes. */
  linked: boolean;
  log: Logger;
}

/**
 * The fabric of one worker thread. Its peers are the sibling workers (reached directly) and
 * the node's main thread, which holds the node's Redis connections and forwards to this worker
 * only what it has interest in. Interest-routed: a worker tells every peer when it gains its
 * first or loses its last subscriber of a topic, and a broadcast crosses only to siblings that
 * have one (and to the main thread when the node is linked). Broadcasts are batched per peer
 * and flushed from setImmediate, so a burst costs one postMessage per peer.
 */
export class WorkerFabric implements Fabric {
  /** Sibling workers with at least one subscriber, by topic. */
  private readonly siblingInterest = new InterestMap();
  private readonly localTopics = new Set<string>();
  private readonly batches: BroadcastBatches;
  private readonly acks = new PendingReplies<never>();
  /** Questions asked of other threads, and their answers. */
  private readonly questions = new PendingReplies<unknown>();
  private readonly broadcastHandlers: Array<(message: EncodedBroadcast) => void> = [];
  private readonly threadListeners: Array<(event: ThreadEvent) => void> = [];
  private gossipHandler: (message: unknown) => void = () => {};
  private readonly responders = new Map<string, Responder>();
  private readonly mesh: PeerMesh;

  readonly gossip: GossipLane = {
    broadcast: (message) => {
      for (const peer of this.gossipPeers()) this.mesh.post(peer, { k: "gossip", to: null, message });
    },
    sendTo: (replica: ReplicaId, message) => {
      const sibling = workerIndexOf(replica, this.options.nodeName);
      if (sibling !== undefined) this.mesh.post(sibling, { k: "gossip", to: replica, message });
      else if (this.options.linked) this.mesh.post(MAIN_THREAD, { k: "gossip", to: replica, message });
    },
    onMessage: (handler) => {
      this.gossipHandler = handler;
    },
  };

  constructor(private readonly options: WorkerFabricOptions) {
    this.mesh = options.mesh;
    this.batches = new BroadcastBatches(this.mesh);
    this.mesh.onMessage((from, message) => this.receive(from, message));
    this.mesh.onPeerUp((peer) => {
      // A new or restarted peer learns everything we subscribe to.
      if (this.localTopics.size > 0) this.mesh.post(peer, { k: "interest", topics: [...this.localTopics], on: true });
    });
    this.mesh.onPeerDown((peer) => {
      this.siblingInterest.removePeer(peer);
      this.acks.peerGone(peer);
      this.questions.peerGone(peer);
    });
  }

  publish(message: EncodedBroadcast): void {
    const siblings = this.siblingInterest.peersOf(message.topic);
    if (siblings) for (const peer of siblings) this.batches.add(peer, message);
    if (this.options.linked) this.batches.add(MAIN_THREAD, message);
  }

  reaches(topic: string): boolean {
    return this.options.linked || this.siblingInterest.has(topic);
  }

  onBroadcast(handler: (message: EncodedBroadcast) => void): void {
    this.broadcastHandlers.push(handler);
  }

  setInterest(topic: string, interested: boolean): Promise<void> | void {
    if (interested) this.localTopics.add(topic);
    else this.localTopics.delete(topic);
    if (!interested) {
      this.mesh.postAll({ k: "interest", topics: [topic], on: false });
      return;
    }
    const peers = [...this.mesh.peers()];
    if (peers.length === 0) return;
    return this.acks
      .ask(peers, INTEREST_ACK_TIMEOUT_MS, (ack) => this.mesh.postAll({ k: "interest", topics: [topic], on: true, ack }))
      .then(() => undefined);
  }

  onThreadEvent(listener: (event: ThreadEvent) => void): void {
    this.threadListeners.push(listener);
  }

  /**
   * Siblings directly (and the main thread, for `threads`); other nodes through the main thread,
   * which holds the node's Redis connections and waits `timeoutMs` for them (this worker a little longer).
   */
  async ask(lane: string, to: Audience, question: unknown, timeoutMs: number): Promise<unknown[]> {
    if (to === "threads") return this.questions.ask(this.mesh.peers(), timeoutMs, (id) => this.mesh.postAll({ k: "ask", id, lane, question }));
    if (to === "main") return this.questions.ask([MAIN_THREAD], timeoutMs, (id) => this.mesh.post(MAIN_THREAD, { k: "ask", id, lane, question }));
    if (to === "nodes") {
      if (!this.options.linked) return [];
      const [answers] = await this.questions.ask([MAIN_THREAD], timeoutMs + MAIN_THREAD_MARGIN_MS, (id) => this.mesh.post(MAIN_THREAD, { k: "ask", id, lane, question, to, timeoutMs }));
      return Array.isArray(answers) ? answers : [];
    }
    const sibling = to.node === this.options.nodeName;
    if (sibling ? !this.mesh.has(to.worker) : !this.options.linked) return [];
    if (sibling) return this.questions.ask([to.worker], timeoutMs, (id) => this.mesh.post(to.worker, { k: "ask", id, lane, question }));
    return this.questions.ask([MAIN_THREAD], timeoutMs + MAIN_THREAD_MARGIN_MS, (id) => this.mesh.post(MAIN_THREAD, { k: "ask", id, lane, question, to, timeoutMs }));
  }

  serve(lane: string, responder: Responder): void {
    this.responders.set(lane, responder);
  }

  tell(lane: string, to: "main" | "threads", message: unknown): void {
    if (to === "main") this.mesh.post(MAIN_THREAD, { k: "tell", lane, message });
    else this.mesh.postAll({ k: "tell", lane, message });
  }

  redisStatus(): RedisStatus | undefined {
    return undefined;
  }

  start(): void {}

  async close(): Promise<void> {
    this.batches.flush();
    this.acks.close();
    this.questions.close();
  }

  private *gossipPeers(): Iterable<number> {
    for (const peer of this.mesh.peers()) if (peer !== MAIN_THREAD || this.options.linked) yield peer;
  }

  /** A question from another thread of this node (or passed on by the main thread from another node): answered, null when this thread has none. */
  private answer(from: number, id: number, lane: string, question: unknown): void {
    const responder = this.responders.get(lane);
    const answered = responder ? responder(question) : Promise.resolve(undefined);
    answered.then(
      (answer) => this.mesh.post(from, { k: "answer", id, answer: answer ?? null }),
      (err: unknown) => {
        this.mesh.post(from, { k: "answer", id, answer: null });
        this.options.log.warn({ err, lane }, "could not answer a question on the fabric");
      },
    );
  }

  private receive(from: number, message: MeshMessage): void {
    switch (message.k) {
      case "broadcasts":
        for (const item of message.items) for (const handler of this.broadcastHandlers) handler(item);
        break;
      case "interest":
        for (const topic of message.topics) this.siblingInterest.apply(from, topic, message.on);
        if (message.ack !== undefined) this.mesh.post(from, { k: "ack", id: message.ack });
        break;
      case "ack":
        this.acks.reply(message.id, from);
        break;
      case "gossip":
        this.gossipHandler(message.message);
        break;
      case "peer":
        for (const listener of this.threadListeners) listener(message.event);
        break;
      case "ask":
        this.answer(from, message.id, message.lane, message.question);
        break;
      case "answer":
        this.questions.reply(message.id, from, message.answer ?? undefined);
        break;
      case "tell":
        this.responders.get(message.lane)?.(message.message).catch((err: unknown) => this.options.log.warn({ err, lane: message.lane }, "could not take a message on the fabric"));
        break;
    }
  }
}
