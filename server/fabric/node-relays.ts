import type { ChannelListener } from "../cluster/subscription-registry.js";
import type { RedisConnections } from "../cluster/redis-connections.js";
import type { Logger } from "../ops/logger.js";
import type { Metrics } from "../ops/metrics.js";
import type { RelayRequest, RelayResponder, RelayResponse, RelayTarget } from "./fabric.js";
import { PendingReplies } from "./pending-replies.js";

/** Requests for one node, on its own channel. */
const relayChannel = (node: string) => `cinder:relay:${node}`;
/** Answers, to the node that asked. */
const relayedChannel = (node: string) => `cinder:relayed:${node}`;
/**
 * Relayed requests in flight each way (a LongPoll poll holds for its window): this node's own,
 * and other nodes' it is answering. Past it a request is not sent (it resolves with no answer)
 * or not answered, and counted in cinder_fabric_node_relays_refused_total{side}.
 */
export const MAX_NODE_RELAYS = 10_000;

export interface NodeRelaysOptions {
  connections: RedisConnections;
  nodeName: string;
  /** `nodeName#incarnation`: answers name the asker's life, so a restarted node ignores its past. */
  sender: string;
  metrics: Metrics;
  log: Logger;
}

interface RelayEnvelope {
  s: string;
  id: number;
  to: RelayTarget;
  request: RelayRequest;
}

interface RelayedEnvelope {
  s: string;
  id: number;
  /** The asker's `sender`. */
  to: string;
  response: RelayResponse;
}

/**
 * The node relay lane through Redis: a request addressed to one thread of one node, published
 * on that node's channel, answered on the asker's. At most once, like the rest of the fabric: a
 * request or answer lost in an outage resolves with no answer after the asker's timeout.
 */
export class NodeRelays {
  private readonly pending = new PendingReplies<RelayResponse, string>();
  private responder: RelayResponder | undefined;
  private answering = 0;
  private readonly requestListener: ChannelListener = (bytes) => this.receiveRequest(bytes);
  private readonly answerListener: ChannelListener = (bytes) => this.receiveAnswer(bytes);

  constructor(private readonly options: NodeRelaysOptions) {
    options.connections.channels.add(relayChannel(options.nodeName), this.requestListener);
    options.connections.channels.add(relayedChannel(options.nodeName), this.answerListener);
  }

  async relay(to: RelayTarget, request: RelayRequest, timeoutMs: number): Promise<RelayResponse | undefined> {
    const { connections, metrics, sender } = this.options;
    if (!connections.isReady("publisher")) return undefined;
    if (this.pending.size >= MAX_NODE_RELAYS) {
      metrics.nodeRelaysRefused.inc({ side: "asked" });
      return undefined;
    }
    const [answer] = await this.pending.ask([to.node], timeoutMs, (id) => {
      const envelope: RelayEnvelope = { s: sender, id, to, request };
      connections.publisher.publish(relayChannel(to.node), JSON.stringify(envelope)).catch(() => {});
    });
    return answer;
  }

  answer(responder: RelayResponder): void {
    this.responder = responder;
  }

  close(): void {
    this.pending.close();
  }

  private receiveRequest(bytes: Buffer): void {
    const envelope = this.decode(bytes) as RelayEnvelope | undefined;
    const responder = this.responder;
    if (!envelope || typeof envelope.s !== "string" || typeof envelope.id !== "number" || !isRequest(envelope.request) || !isTarget(envelope.to) || !responder) return;
    if (this.answering >= MAX_NODE_RELAYS) return void this.options.metrics.nodeRelaysRefused.inc({ side: "answered" });
    this.answering++;
    const { s: asker, id } = envelope;
    responder(envelope.request, envelope.to)
      .then((response) => {
        if (!response || !this.options.connections.isReady("publisher")) return;
        const node = asker.slice(0, asker.lastIndexOf("#"));
        const answer: RelayedEnvelope = { s: this.options.sender, id, to: asker, response };
        return this.options.connections.publisher.publish(relayedChannel(node), JSON.stringify(answer));
      })
      .catch((err: unknown) => this.options.log.warn({ err }, "could not answer a relayed request"))
      .finally(() => this.answering--);
  }

  private receiveAnswer(bytes: Buffer): void {
    const envelope = this.decode(bytes) as RelayedEnvelope | undefined;
    // An answer to an earlier life of this node (same name, other incarnation) is not ours.
    if (!envelope || envelope.to !== this.options.sender || typeof envelope.s !== "string" || typeof envelope.response?.body !== "string") return;
    this.pending.reply(envelope.id, envelope.s.slice(0, envelope.s.lastIndexOf("#")), { body: envelope.response.body });
  }

  private decode(bytes: Buffer): unknown {
    try {
      return JSON.parse(bytes.toString("utf8"));
    } catch (err) {
      this.options.log.warn({ err }, "dropped a bad relayed request or answer from Redis");
      return undefined;
    }
  }
}

function isTarget(value: unknown): value is RelayTarget {
  const target = value as RelayTarget | null;
  return typeof target === "object" && target !== null && typeof target.node === "string" && Number.isInteger(target.worker);
}

function isRequest(value: unknown): value is RelayRequest {
  const request = value as RelayRequest | null;
  if (typeof request !== "object" || request === null || request.kind !== "longpoll") return false;
  if ((request.method !== "GET" && request.method !== "POST") || typeof request.token !== "string") return false;
  return request.lines === undefined || (Array.isArray(request.lines) && request.lines.every((line) => typeof line === "string"));
}
