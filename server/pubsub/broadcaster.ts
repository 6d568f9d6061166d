import { isObjectPayload } from "../../client/codec/frame.js";
import { jsonSerializer } from "../../client/codec/serializer.js";
import type { Payload } from "./payload.js";
import type { Fabric } from "../fabric/fabric.js";
import type { Leases } from "../leases/leases.js";
import type { EncodedBroadcast } from "../fabric/encoded-broadcast.js";
import type { HistoryAppend, HistoryAuthority, HistoryDeclarations, HistoryLimits } from "../history/history.js";
import { StoreError, type StoredBroadcast } from "../history/store-error.js";
import { isInternalTopic } from "../fabric/internal-topics.js";
import type { Logger } from "../ops/logger.js";
import type { PubsubMetrics } from "./pubsub-metrics.js";
import type { LocalFanout } from "./local-fanout.js";
import type { Subscriber } from "./subscriber.js";
import { valueWithin } from "./payload-depth.js";

/**
 * Where every broadcast starts and every broadcast from another thread arrives: local
 * delivery through this thread's fan-out, and the fabric for the rest of the cluster. The V2
 * JSON frame is encoded once and shared by both (and by every thread downstream). A broadcast
 * to a history topic goes to the topic's authority first, which numbers it and delivers it
 * everywhere, here included.
 */
export class Broadcaster {
  constructor(
    private readonly fanout: LocalFanout,
    private readonly fabric: Fabric,
    /** Where a topic worker's fenced broadcasts are checked and sent on. */
    private readonly leases: Pick<Leases, "publish">,
    /** The authority of history topics, which numbers their broadcasts and delivers them. */
    private readonly history: HistoryAuthority,
    private readonly metrics: PubsubMetrics,
    private readonly log: Logger,
    /** The history a topic keeps, from its channel's declaration (the router). */
    private readonly declarations: HistoryDeclarations,
    /** maxPayloadDepth: checked here, so that no serializer fails on a payload downstream. */
    private readonly maxDepth: number,
  ) {
    fabric.onBroadcast((message) => this.receive(message));
  }

  /** To every subscriber of `topic` in the cluster; `from` (a local subscriber) is skipped. */
  broadcast(topic: string, event: string, payload: Payload, from: Subscriber | null): void {
    // Only Cinder speaks on its internal topics: no app or client broadcast can close sockets.
    if (isInternalTopic(topic)) {
      this.log.warn({ topic }, "broadcast to a reserved topic dropped");
      return;
    }
    this.checkDepth(payload);
    this.metrics.broadcasts.inc();
    const limits = this.declarations.historyOf(topic);
    // Byte payloads cannot carry an offset: they are delivered live, outside the history.
    if (limits && isObjectPayload(payload)) return this.appendHistory(topic, event, payload, limits, from);
    // Encoded here only when another thread may need it; local delivery encodes for itself.
    const json = this.fabric.reaches(topic) ? this.fanout.encode(jsonSerializer, { joinRef: null, ref: null, topic, event, payload }) : undefined;
    this.fanout.deliver(topic, event, payload, from, json);
    if (json) this.fabric.publish({ topic, event, frame: json.data });
  }

  /**
   * A broadcast to a history topic that resolves once the topic's authority has kept and numbered
   * it (then it is delivered, or recovered by a rejoin), with its place in the history; or rejects
   * with a StoreError saying why it could not be confirmed. A TypeError for what can never be
   * stored: a topic without history, a byte payload, one nested too deep or that cannot be encoded.
   */
  async broadcastStored(topic: string, event: string, payload: Payload, from: Subscriber | null): Promise<StoredBroadcast> {
    if (isInternalTopic(topic)) throw new TypeError(`topic ${JSON.stringify(topic)} is reserved`);
    const limits = this.declarations.historyOf(topic);
    if (!limits) throw new TypeError(`topic ${JSON.stringify(topic)} keeps no history: there is nothing to store a broadcast in (see the channel's \`history\` option; use broadcast)`);
    if (!isObjectPayload(payload)) throw new TypeError("a stored broadcast's payload must be a JSON object (byte payloads carry no offset)");
    this.checkDepth(payload);
    const message = this.historyAppend(topic, event, payload, limits, from);
    this.metrics.broadcasts.inc();
    try {
      return await this.history.store(message);
    } catch (err) {
      if (err instanceof StoreError) this.metrics.historyStoresFailed.inc({ reason: err.reason });
      throw err;
    }
  }

  /**
   * A topic worker's broadcast: the lease's authority checks `token` and sends it on to the
   * other threads in one step; only then is it delivered here. False when the lease had passed on.
   */
  async broadcastFenced(token: string, topic: string, event: string, payload: Payload): Promise<boolean> {
    if (this.declarations.historyOf(topic)) throw new TypeError(`topic ${JSON.stringify(topic)} keeps history: a topic worker's broadcasts are live only`);
    this.checkDepth(payload);
    const json = this.fanout.encode(jsonSerializer, { joinRef: null, ref: null, topic, event, payload });
    if (!json) return false;
    if (!(await this.leases.publish(token, { topic, event, frame: json.data }))) return false;
    this.metrics.broadcasts.inc();
    this.fanout.deliver(topic, event, payload, null, json);
    return true;
  }

  private checkDepth(payload: Payload): void {
    if (!valueWithin(payload, this.maxDepth)) throw new TypeError(`payload nested deeper than ${this.maxDepth} levels`);
  }

  private appendHistory(topic: string, event: string, payload: Record<string, unknown>, limits: HistoryLimits, from: Subscriber | null): void {
    let message: HistoryAppend;
    try {
      message = this.historyAppend(topic, event, payload, limits, from);
    } catch (err) {
      this.log.warn({ err, topic, event }, "broadcast payload cannot be encoded; not kept or sent");
      return;
    }
    this.history.append(message);
  }

  /** The payload as JSON text, for the authority to number; a TypeError (counted) when it cannot be encoded. */
  private historyAppend(topic: string, event: string, payload: Record<string, unknown>, limits: HistoryLimits, from: Subscriber | null): HistoryAppend {
    let text: string;
    try {
      text = JSON.stringify(payload);
    } catch (err) {
      this.metrics.encodeErrors.inc({ serializer: "json" });
      throw new TypeError(`payload cannot be encoded as JSON: ${(err as Error).message}`);
    }
    return { topic, event, payload: text, limits, ...(from ? { except: from.socket.id } : {}) };
  }

  /** A broadcast from another thread, or numbered by the history authority: delivered to this thread's subscribers. */
  receive(message: EncodedBroadcast): void {
    if (isInternalTopic(message.topic)) return; // handled by their own listeners (auth/disconnect.ts)
    try {
      this.fanout.deliverEncoded(message);
    } catch (err) {
      // Only a peer running other code could send a frame we cannot read; it costs that message only.
      this.metrics.encodeErrors.inc({ serializer: "json" });
      this.log.warn({ err, topic: message.topic }, "dropped a broadcast from another replica that cannot be decoded");
    }
  }
}
