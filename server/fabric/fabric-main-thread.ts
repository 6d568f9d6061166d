import type { MessagePort } from "node:worker_threads";
import type { ReplicaId } from "../../crdt/index.js";
import type { Logger } from "../ops/logger.js";
import { BroadcastBatches } from "./broadcast-batches.js";
import { InterestMap } from "./interest-map.js";
import { clientTopicCount } from "./internal-topics.js";
import type { ThreadEvent, Responder, ThreadAddress } from "./fabric.js";
import { PendingReplies } from "./pending-replies.js";
import type { RedisFabric } from "./fabric-redis.js";
import type { MeshMessage } from "./mesh-messages.js";
import type { EncodedBroadcast } from "./encoded-broadcast.js";
import { PeerMesh } from "./mesh.js";
import { workerIndexOf } from "./replica-names.js";

/** How long the main thread waits for its worker's answer to another node's question to every node. */
const NODE_ANSWER_TIMEOUT_MS = 1000;
/**
 * How long the main thread waits for its worker's answer to another node's question to that one
 * thread: longer than any LongPoll window (at most 15 s), which the worker's own timer ends first.
 */
const THREAD_ANSWER_TIMEOUT_MS = 20_000;

export interface MainThreadFabricOptions {
  nodeName: string;
  /** The presence replicas of this node's workers. */
  replicas: () => readonly ReplicaId[];
  /** The node's Redis fabric (to the other nodes); undefined on a node without Redis. */
  redis: RedisFabric | undefined;
  log: Logger;
}

/**
 * The main thread of a multi-worker node, on the fabric: one mesh peer (MAIN_THREAD) of every worker.
 * It holds the node's Redis connections and joins the two media: what a worker publishes or
 * gossips goes out once per node, and what comes in from Redis is decoded once and handed only
 * to the workers with interest in its topic (gossip to every worker, or to the one addressed).
 * It also knows the node's topics (the union of the workers' interest) for /health, passes the
 * workers' questions on to other nodes (and theirs to its workers), and answers the lanes the
 * wiring serves here (the node's history, leases and counters: worker-threads/supervisor.ts).
 */
export class MainThreadFabric {
  private readonly mesh = new PeerMesh();
  /** Workers with at least one subscriber, by topic. */
  private readonly interestedWorkers = new InterestMap();
  private readonly batches = new BroadcastBatches(this.mesh);
  /** Other nodes' questions, handed to the worker that answers them. */
  private readonly questions = new PendingReplies<unknown>();
  /** How the main thread answers its workers' questions, by lane. */
  private readonly responders = new Map<string, Responder>();
  /** The workers serve: a worker added from now on replaces one that crashed. */
  private started = false;

  constructor(private readonly options: MainThreadFabricOptions) {
    const { redis } = options;
    this.mesh.onMessage((from, message) => this.receive(from, message));
    redis?.onBroadcast((message) => {
      const workers = this.interestedWorkers.peersOf(message.topic);
      if (workers) for (const worker of workers) this.batches.add(worker, message);
    });
    redis?.onGossip((message, to) => {
      if (to === null) return this.mesh.postAll({ k: "gossip", to, message });
      const worker = workerIndexOf(to, options.nodeName);
      if (worker !== undefined) this.mesh.post(worker, { k: "gossip", to, message });
    });
    redis?.onThreadEvent((event) => this.mesh.postAll({ k: "peer", event }));
    redis?.serveNode((lane, question, to) => (to ? this.askWorker(to.worker, lane, question, THREAD_ANSWER_TIMEOUT_MS) : this.askFirstWorker(lane, question)));
  }

  /** How the main thread answers its workers' questions on `lane` (the node's figures, for one). */
  serve(lane: string, responder: Responder): void {
    this.responders.set(lane, responder);
  }

  /** One-way, to every worker of the node. */
  tell(lane: string, to: "threads", message: unknown): void {
    this.mesh.postAll({ k: "tell", lane, message });
  }

  /** Hands a broadcast to the node's workers with interest in its topic (but `except`, which has it). */
  deliver(message: EncodedBroadcast, except?: number): void {
    const workers = this.interestedWorkers.peersOf(message.topic);
    if (workers) for (const worker of workers) if (worker !== except) this.batches.add(worker, message);
  }

  /** Sends the broadcasts batched for the workers now (what is answered next must not overtake them). */
  flush(): void {
    this.batches.flush();
  }

  /** A worker started: this is the main thread's end of its port. */
  addWorker(index: number, port: MessagePort): void {
    this.mesh.addPeer(index, port);
    if (this.started) this.introduce(index);
  }

  /**
   * A worker ended without a drain (it crashed): its sockets are gone, so every other replica
   * drops its presences now: its siblings through the mesh, other nodes through a permdown
   * said on its behalf (its incarnation never comes back).
   */
  async workerCrashed(index: number, replica: ReplicaId): Promise<void> {
    await this.workerEnded(index);
    this.mesh.postAll({ k: "peer", event: { kind: "gone", replica } });
    this.options.redis?.gossip.broadcast({ type: "gracefulPermdown", from: replica });
  }

  /** A worker ended (drained or crashed): once its last messages are read, its interest goes with it. */
  async workerEnded(index: number): Promise<void> {
    await this.mesh.removePeer(index);
    this.questions.peerGone(index);
    for (const topic of this.interestedWorkers.removePeer(index)) this.options.redis?.setInterest(topic, false);
  }

  /**
   * Liveness starts once the workers serve (their replicas are in the node's key); its first
   * look lists the other nodes' live replicas to the workers. Without Redis there is nobody to
   * list (the workers all start with nothing).
   */
  start(): void {
    this.started = true;
    if (this.options.redis) this.options.redis.start();
    else this.mesh.postAll({ k: "peer", event: { kind: "listed" } });
  }

  /** Topics with a subscriber anywhere on this node. */
  get topicCount(): number {
    return clientTopicCount(this.interestedWorkers.size, (topic) => this.interestedWorkers.has(topic));
  }

  async close(): Promise<void> {
    this.batches.flush();
    this.questions.close();
    this.mesh.close();
    await this.options.redis?.close();
  }

  private receive(from: number, message: MeshMessage): void {
    const { redis } = this.options;
    switch (message.k) {
      case "interest": {
        for (const topic of message.topics) {
          if (this.interestedWorkers.apply(from, topic, message.on)) redis?.setInterest(topic, false);
        }
        if (message.ack === undefined) break;
        const ack = message.ack;
        const routed = message.on && redis ? message.topics.map((topic) => redis.setInterest(topic, true)) : [];
        const confirm = () => this.mesh.post(from, { k: "ack", id: ack });
        Promise.all(routed).then(confirm, confirm);
        break;
      }
      case "broadcasts":
        if (redis) for (const item of message.items) redis.publish(item);
        break;
      case "tell":
        this.responders.get(message.lane)?.(message.message).catch((err: unknown) => this.options.log.warn({ err, lane: message.lane }, "could not take a worker's message"));
        break;
      case "gossip":
        if (!redis) break;
        if (message.to === null) redis.gossip.broadcast(message.message);
        else redis.gossip.sendTo(message.to, message.message);
        break;
      case "ask":
        this.answer(from, message.id, message.lane, message.question, message.to, message.timeoutMs ?? 0);
        break;
      case "answer":
        this.questions.reply(message.id, from, message.answer ?? undefined);
        break;
      case "ack":
      case "peer":
        break; // never asked of the main thread
    }
  }

  /**
   * A worker that replaces a crashed one starts with nobody's presences: it is told what the
   * others were told while it was not there (its siblings and the other nodes' live replicas
   * are up, and whether they were all listed), so its first sync asks each of them.
   */
  private introduce(index: number): void {
    const { redis, nodeName } = this.options;
    const siblings = this.options.replicas().filter((replica) => workerIndexOf(replica, nodeName) !== index);
    const events: ThreadEvent[] = siblings.map((replica) => ({ kind: "up", replica }));
    events.push(...(redis ? redis.threadsSoFar() : [{ kind: "listed" as const }]));
    for (const event of events) this.mesh.post(index, { k: "peer", event });
  }

  /**
   * A worker's question: answered here (null when the main thread does not serve its lane), or
   * passed on to the other nodes or to the thread it names.
   */
  private answer(from: number, id: number, lane: string, question: unknown, to: "nodes" | ThreadAddress | undefined, timeoutMs: number): void {
    const { redis, nodeName } = this.options;
    let answered: Promise<unknown>;
    if (to === undefined) answered = this.responders.get(lane)?.(question) ?? Promise.resolve(undefined);
    else if (to === "nodes") answered = redis ? redis.ask(lane, to, question, timeoutMs) : Promise.resolve([]);
    else if (to.node === nodeName) answered = this.askWorker(to.worker, lane, question, timeoutMs);
    else answered = redis ? redis.ask(lane, to, question, timeoutMs).then(([answer]) => answer) : Promise.resolve(undefined);
    answered.then(
      (answer) => this.mesh.post(from, { k: "answer", id, answer: answer ?? null }),
      (err: unknown) => {
        this.mesh.post(from, { k: "answer", id, answer: null });
        this.options.log.warn({ err, lane }, "could not answer a worker's question");
      },
    );
  }

  /** Another node's question to every node, answered for this node by its first worker (which gathers its siblings' figures as /health does). */
  private askFirstWorker(lane: string, question: unknown): Promise<unknown> {
    const [worker] = [...this.mesh.peers()].sort((a, b) => a - b);
    if (worker === undefined) return Promise.resolve(undefined);
    return this.askWorker(worker, lane, question, NODE_ANSWER_TIMEOUT_MS);
  }

  /** A question for one of this node's workers; it waits at most `timeoutMs` (a LongPoll window, for one). */
  private async askWorker(worker: number, lane: string, question: unknown, timeoutMs: number): Promise<unknown> {
    if (!this.mesh.has(worker)) return undefined;
    const [answer] = await this.questions.ask([worker], timeoutMs, (id) => this.mesh.post(worker, { k: "ask", id, lane, question }));
    return answer;
  }
}
