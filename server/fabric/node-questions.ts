import type { ChannelListener } from "../redis/subscription-registry.js";
import type { RedisConnections } from "../redis/redis-connections.js";
import type { Logger } from "../ops/logger.js";
import type { FabricMetrics } from "./fabric-metrics.js";
import type { ThreadAddress } from "./fabric.js";
import { PendingReplies } from "./pending-replies.js";
import { decodeEnvelope, encodeAnswer, encodeQuestion, isFrom, senderPrefix } from "./redis-envelope.js";

/** Questions to every node. */
const EVERY_NODE_CHANNEL = "cinder:request";
/** Questions to one thread of a node, on the node's own channel. */
const nodeChannel = (node: string) => `cinder:request:${node}`;
/** Answers, to the node that asked. */
const replyChannel = (node: string) => `cinder:reply:${node}`;
/**
 * Questions to every node in flight each way: this node's own, and other nodes' it is answering.
 * Past it a question is not asked (it resolves with no answers) or not answered, and counted in
 * cinder_fabric_node_requests_refused_total{side}.
 */
export const MAX_NODE_REQUESTS = 32;
/**
 * Questions to one thread in flight each way (a LongPoll poll holds for its window). Past it a
 * question is not sent (it resolves with no answer) or not answered, and counted in
 * cinder_fabric_node_relays_refused_total{side}.
 */
export const MAX_NODE_RELAYS = 10_000;

/** How a node answers a question from another node: on `lane`, for one of its threads (`to`) or for the whole node (undefined). */
export type NodeResponder = (lane: string, question: unknown, to: ThreadAddress | undefined) => Promise<unknown>;

export interface NodeQuestionsOptions {
  connections: RedisConnections;
  nodeName: string;
  /** `nodeName#incarnation`, as in every envelope: answers name the asker's life, so a restarted node ignores its past. */
  sender: string;
  /** The other nodes seen alive: a question to every node ends once each of them answered. */
  peers: () => readonly string[];
  metrics: FabricMetrics;
  log: Logger;
}

/**
 * The request lane through Redis, for every feature's questions: one to every node goes on one
 * channel, one to a thread on its node's channel, and each answer on the asker's channel. The
 * asker waits for the nodes it sees alive (its liveness poll), or the one it named, or until its
 * timeout. At most once, like the rest of the fabric: a question or answer lost in an outage is
 * simply missing from the result. What a question and its answer hold is the lane's to check.
 */
export class NodeQuestions {
  private readonly pending = new PendingReplies<unknown, string>();
  private readonly ownPrefix: Uint8Array;
  private responder: NodeResponder | undefined;
  /** In flight, by audience: this node's questions and the other nodes' it is answering. */
  private readonly asking = { nodes: 0, thread: 0 };
  private readonly answering = { nodes: 0, thread: 0 };
  private readonly questionListener: ChannelListener = (bytes) => this.receiveQuestion(bytes);
  private readonly answerListener: ChannelListener = (bytes) => this.receiveAnswer(bytes);

  constructor(private readonly options: NodeQuestionsOptions) {
    this.ownPrefix = senderPrefix(options.sender);
    options.connections.channels.add(EVERY_NODE_CHANNEL, this.questionListener);
    options.connections.channels.add(nodeChannel(options.nodeName), this.questionListener);
    options.connections.channels.add(replyChannel(options.nodeName), this.answerListener);
  }

  /** Asks every other node seen alive (`to` undefined), or one thread of another node. */
  async ask(lane: string, to: ThreadAddress | undefined, question: unknown, timeoutMs: number): Promise<unknown[]> {
    const { connections, metrics, sender } = this.options;
    const audience = to ? "thread" : "nodes";
    const peers = to ? [to.node] : this.options.peers();
    if (peers.length === 0 || !connections.isReady("publisher")) return [];
    if (this.asking[audience] >= limitOf(audience)) {
      refusedOf(metrics, audience).inc({ side: "asked" });
      return [];
    }
    this.asking[audience]++;
    if (audience === "nodes") metrics.nodeRequestsPending.set(this.asking.nodes);
    try {
      return await this.pending.ask(peers, timeoutMs, (id) => {
        const bytes = asBuffer(encodeQuestion(sender, id, to ?? null, lane, question));
        connections.publisher.publish(to ? nodeChannel(to.node) : EVERY_NODE_CHANNEL, bytes).catch(() => {});
      });
    } finally {
      this.asking[audience]--;
      if (audience === "nodes") metrics.nodeRequestsPending.set(this.asking.nodes);
    }
  }

  answer(responder: NodeResponder): void {
    this.responder = responder;
  }

  close(): void {
    this.pending.close();
  }

  private receiveQuestion(bytes: Buffer): void {
    if (isFrom(bytes, this.ownPrefix)) return;
    const envelope = this.decode(bytes);
    const responder = this.responder;
    if (envelope?.kind !== "question" || !responder) return;
    const { sender, id, to, lane, question } = envelope;
    if (to && to.node !== this.options.nodeName) return;
    const audience = to ? "thread" : "nodes";
    if (this.answering[audience] >= limitOf(audience)) return void refusedOf(this.options.metrics, audience).inc({ side: "answered" });
    this.answering[audience]++;
    responder(lane, question, to ?? undefined)
      .then((answer) => {
        if (answer === undefined || !this.options.connections.isReady("publisher")) return;
        const node = sender.slice(0, sender.lastIndexOf("#"));
        return this.options.connections.publisher.publish(replyChannel(node), asBuffer(encodeAnswer(this.options.sender, id, sender, answer)));
      })
      .catch((err: unknown) => this.options.log.warn({ err, lane }, "could not answer another node's question"))
      .finally(() => this.answering[audience]--);
  }

  private receiveAnswer(bytes: Buffer): void {
    const envelope = this.decode(bytes);
    // An answer to an earlier life of this node (same name, other incarnation) is not ours.
    if (envelope?.kind !== "answer" || envelope.to !== this.options.sender) return;
    const node = envelope.sender.slice(0, envelope.sender.lastIndexOf("#"));
    this.pending.reply(envelope.id, node, envelope.answer);
  }

  private decode(bytes: Buffer) {
    try {
      return decodeEnvelope(bytes);
    } catch (err) {
      this.options.log.warn({ err }, "dropped a bad question or answer from Redis");
      return undefined;
    }
  }
}

function limitOf(audience: "nodes" | "thread"): number {
  return audience === "nodes" ? MAX_NODE_REQUESTS : MAX_NODE_RELAYS;
}

function refusedOf(metrics: FabricMetrics, audience: "nodes" | "thread") {
  return audience === "nodes" ? metrics.nodeRequestsRefused : metrics.nodeRelaysRefused;
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
