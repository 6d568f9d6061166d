import type { ChannelListener } from "../cluster/subscription-registry.js";
import type { RedisConnections } from "../cluster/redis-connections.js";
import type { Logger } from "../ops/logger.js";
import type { Metrics } from "../ops/metrics.js";
import type { NodeAnswer, NodeQuestion } from "./fabric.js";
import { PendingReplies } from "./pending-replies.js";
import { decodeEnvelope, encodeAnswer, encodeQuestion, isFrom, senderPrefix } from "./redis-envelope.js";

/** Questions to every node. */
const REQUEST_CHANNEL = "cinder:request";
/** Answers, to the node that asked. */
const replyChannel = (node: string) => `cinder:reply:${node}`;
/**
 * Questions in flight each way: this node's own, and other nodes' it is answering. Past it a
 * question is not asked (it resolves with no answers) or not answered, and counted in
 * cinder_fabric_node_requests_refused_total{side}.
 */
export const MAX_NODE_REQUESTS = 32;

export interface NodeRequestsOptions {
  connections: RedisConnections;
  nodeName: string;
  /** `nodeName#incarnation`, as in every envelope. */
  sender: string;
  /** The other nodes seen alive: a question ends once each of them answered. */
  peers: () => readonly string[];
  metrics: Metrics;
  log: Logger;
}

/**
 * The node request lane through Redis: a question goes to every node on one channel, each
 * node answers on the asker's own channel, and the asker waits for the nodes it sees alive (its
 * liveness poll) or until its timeout. At most once, like the rest of the fabric: a question or
 * answer lost in an outage is simply missing from the result.
 */
export class NodeRequests {
  private readonly pending = new PendingReplies<NodeAnswer, string>();
  private readonly ownPrefix: Uint8Array;
  private responder: ((question: NodeQuestion) => Promise<NodeAnswer | undefined>) | undefined;
  private answering = 0;
  private readonly questionListener: ChannelListener = (bytes) => this.receiveQuestion(bytes);
  private readonly answerListener: ChannelListener = (bytes) => this.receiveAnswer(bytes);

  constructor(private readonly options: NodeRequestsOptions) {
    this.ownPrefix = senderPrefix(options.sender);
    options.connections.channels.add(REQUEST_CHANNEL, this.questionListener);
    options.connections.channels.add(replyChannel(options.nodeName), this.answerListener);
  }

  ask(question: NodeQuestion, timeoutMs: number): Promise<NodeAnswer[]> {
    const { connections, metrics, sender } = this.options;
    const peers = this.options.peers();
    if (peers.length === 0 || !connections.isReady("publisher")) return Promise.resolve([]);
    if (this.pending.size >= MAX_NODE_REQUESTS) {
      metrics.nodeRequestsRefused.inc({ side: "asked" });
      return Promise.resolve([]);
    }
    const asked = this.pending.ask(peers, timeoutMs, (id) => {
      connections.publisher.publish(REQUEST_CHANNEL, asBuffer(encodeQuestion(sender, id, question))).catch(() => {});
    });
    metrics.nodeRequestsPending.set(this.pending.size);
    return asked.finally(() => metrics.nodeRequestsPending.set(this.pending.size));
  }

  answer(responder: (question: NodeQuestion) => Promise<NodeAnswer | undefined>): void {
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
    if (this.answering >= MAX_NODE_REQUESTS) return void this.options.metrics.nodeRequestsRefused.inc({ side: "answered" });
    this.answering++;
    const { sender, id, question } = envelope;
    responder(question)
      .then((answer) => {
        if (!answer || !this.options.connections.isReady("publisher")) return;
        const node = sender.slice(0, sender.lastIndexOf("#"));
        return this.options.connections.publisher.publish(replyChannel(node), asBuffer(encodeAnswer(this.options.sender, id, sender, answer)));
      })
      .catch((err: unknown) => this.options.log.warn({ err }, "could not answer another node's question"))
      .finally(() => this.answering--);
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
      this.options.log.warn({ err }, "dropped a bad request or answer from Redis");
      return undefined;
    }
  }
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
