import type { WebSocket } from "../uws-types.js";
import { CodecError, EVENTS, SOCKET_TOPIC, type Frame } from "../../client/codec/frame.js";
import { jsonSerializer, type EncodedFrame, type Serializer } from "../../client/codec/serializer.js";
import { Channel } from "../channel/channel.js";
import type { ChannelConnection, ChannelServices } from "../channel/channel-services.js";
import type { JoinParams } from "../channel/handler.js";
import type { ChannelSocket } from "../channel/channel-socket.js";
import type { ChannelRouter } from "../channel/router.js";
import type { Logger } from "../ops/logger.js";
import type { PresenceService } from "../presence/presence-service.js";
import type { PubsubMetrics } from "../pubsub/pubsub-metrics.js";
import type { SocketMetrics } from "./socket-metrics.js";
import type { StateFrame } from "../presence/presence-states.js";
import type { LocalFanout } from "../pubsub/local-fanout.js";
import type { PublishQueue, QueuedWriter } from "../pubsub/publish-queue.js";
import type { Authenticator } from "../auth/auth-config.js";
import type { Identity } from "../auth/identity.js";
import { ACCESS_TOKEN_EVENT, SocketAuth } from "../auth/socket-auth.js";
import { CLOSE } from "./close-codes.js";
import { jsonTextCost, msgpackCost, TOO_COSTLY, TOO_DEEP } from "../pubsub/payload-depth.js";
import { inboundBurst } from "./inbound-budget.js";
import type { NodeBufferCap } from "./node-buffer-cap.js";
import type { SlowConsumerSweep } from "./slow-consumers.js";
import type { JoinBacklog } from "./join-backlog.js";
import { budgetNow, isFull, takeBytes, takeTokens, tokensAt, type FullAt } from "./socket-budget.js";
import { ChannelTable } from "./channel-table.js";
import { heartbeatRef, heartbeatReplyText } from "./heartbeat-text.js";
import { socketIdText } from "./socket-id.js";

/** A socket over its frame rate this long without a break is closed (1008). */
export const RATE_CLOSE_AFTER_MS = 5000;

/**
 * The limits of one socket (docs/security.md, "Limits and bad input"), as the settings of the
 * same names give them (settings/table.ts): a socket knows its limits, not the settings table.
 */
export interface SocketLimits {
  /** Deepest nesting of a payload, in levels. */
  readonly maxPayloadDepth: number;
  /** Longest topic a frame may name, characters. */
  readonly maxTopicLength: number;
  /** Longest event a frame may name, characters. */
  readonly maxEventLength: number;
  /** Frames a second (0: no limit). */
  readonly maxFramesPerSecond: number;
  /** Joins a second (0: no limit). */
  readonly maxJoinsPerSecond: number;
  /** Presence tracks and updates a second (0: no limit). */
  readonly maxPresencePerSecond: number;
  /** What the frames may cost to decode a second, bytes (0: no limit). */
  readonly maxInboundBytesPerSecond: number;
  /** Largest inbound frame, bytes. */
  readonly maxPayloadLength: number;
}

/**
 * What a connection needs of the link to its client: a uWS WebSocket, or a LongPoll session's
 * outbox (server/longpoll/), which stands in for it so channels never know the transport.
 */
export type SocketTransport = Pick<
  WebSocket<SocketUserData>,
  "send" | "subscribe" | "unsubscribe" | "publish" | "end" | "close" | "getBufferedAmount" | "sendFirstFragment" | "sendLastFragment"
> & {
  cork(writes: () => void): unknown;
  /**
   * Unsent bytes below which the transport takes more without cost (see canTakeMore): 0 for a
   * WebSocket, whose unsent bytes uWS holds in a per-socket buffer that keeps its size.
   */
  readonly lowWaterBytes?: number;
};

/** A frame for this socket; with a `tail`, sent as two fragments (head, then tail). */
type OutgoingFrame = EncodedFrame & { tail?: Uint8Array };

/** What uWS keeps for each WebSocket. */
export interface SocketUserData {
  connection: SocketConnection;
}

/** What a socket uses of its server. */
export interface SocketServices {
  /** The first part of its sockets' ids (the node's incarnation; see socket-id.ts). */
  readonly idPrefix: string;
  readonly log: Logger;
  /** Its own, and the serializers' encode errors (counted with the fan-out's). */
  readonly metrics: SocketMetrics & Pick<PubsubMetrics, "encodeErrors">;
  readonly queue: PublishQueue;
  readonly maxChannels: number;
  readonly limits: SocketLimits;
  /** Bytes uWS holds for one socket before it drops what is sent to it (maxBufferedBytes × 2). */
  readonly maxBackpressure: number;
  readonly channels: ChannelServices;
  /** Which channel serves a topic a client joins. */
  readonly router: Pick<ChannelRouter, "match">;
  /** The fan-out's copy of a topic name, shared by its subscribers (`intern`). */
  readonly fanout: Pick<LocalFanout, "intern" | "drained">;
  /** When the socket closes, every presence it tracked leaves (`untrackOwner`). */
  readonly presence: Pick<PresenceService, "untrackOwner">;
  /** The thread's share of the node-wide cap on unread outbound bytes. */
  readonly bufferCap: NodeBufferCap<SocketConnection>;
  /** Reads the sockets written to, a second later, and closes those over their limit. */
  readonly slowConsumers: Pick<SlowConsumerSweep<SocketConnection>, "wrote">;
  /** Joins that wait while the thread is busy. */
  readonly joinBacklog: JoinBacklog;
}

/**
 * `SocketConnection.bits`: two flags, its serializer (an index in SERIALIZERS), whether frames of
 * its own wait in QUEUED, then the count of its frames in the join backlog, one small integer
 * where five fields cost 40 bytes. The count stays below 2^24: the join backlog holds at most
 * 200,000 frames a thread (join-backlog.ts).
 */
const CLOSED = 0b1;
const ENDING = 0b10;
const SERIALIZER_SHIFT = 2;
const SERIALIZER_MASK = 0b1111 << SERIALIZER_SHIFT;
const HAS_QUEUED = 0b1000000;
const LOW_MASK = 0b11 | SERIALIZER_MASK | HAS_QUEUED;
const BACKLOGGED_SHIFT = 7;

/**
 * The frames of sockets that wait for their turn in the publish queue (see write), by socket:
 * only while the queue holds broadcasts, so a field for them was null on nearly every socket
 * (8 bytes each). A socket here has HAS_QUEUED set, so one that has none never looks here.
 */
const QUEUED = new Map<SocketConnection, OutgoingFrame[]>();

/** The serializers sockets use (json, msgpack), each once: a socket keeps its index. */
const SERIALIZERS: Serializer[] = [];

function serializerIndex(serializer: Serializer): number {
  let at = SERIALIZERS.indexOf(serializer);
  if (at < 0) {
    if (SERIALIZERS.length > SERIALIZER_MASK >>> SERIALIZER_SHIFT) throw new Error("more serializers than a socket can tell apart");
    at = SERIALIZERS.push(serializer) - 1;
  }
  return at;
}

/**
 * What few sockets have, in one object apart rather than four fields on every socket: a token's
 * session, an id for force-disconnects, a fixed list of topics (these three from the connect),
 * and the record of a socket over its frame rate (made when it first is). It holds the socket's
 * assigns too: a socket keeps either its assigns or this in one field (`about`), a class of its
 * own so that no app's assigns can pass for it.
 */
class SocketExtras {
  /** While the socket has had frames refused at least once a second: since when, and the last one; null while not. */
  overRate: { since: number; last: number } | null = null;

  constructor(
    readonly assigns: Readonly<Record<string, unknown>>,
    readonly auth: SocketAuth | undefined,
    readonly disconnectId: string | undefined,
    readonly onlyTopics: readonly string[] | undefined,
  ) {}
}

/** The class of the sockets of one server's services (SocketConnection.of). */
export type SocketConnectionClass = new (
  /** Its id as a number (socket-id.ts). */
  idNumber: number,
  serializer: Serializer,
  assigns: Readonly<Record<string, unknown>>,
  session?: SocketSessionInit,
) => SocketConnection;

/** A class per services (see SocketConnection.services). */
const CLASSES = new WeakMap<SocketServices, SocketConnectionClass>();

/**
 * A socket's rate limits: the field of each one's moment, and the limit that counts it. A limit
 * of 0 counts nothing (takeTokens), so its moment stays null for good: the class `of` makes for
 * a server whose limit is 0 keeps that null on its prototype, and its sockets have no field for
 * it (8 bytes each); a socket only writes a moment while its limit counts.
 */
const BUDGETS = [
  ["framesFullAt", "maxFramesPerSecond"],
  ["joinsFullAt", "maxJoinsPerSecond"],
  ["presenceFullAt", "maxPresencePerSecond"],
  ["inboundFullAt", "maxInboundBytesPerSecond"],
] as const;

/** What a socket is known by beyond its connection: its verified token, and its id. */
export interface SocketSessionInit {
  /** The token built-in auth verified, and the verifier for in-band refreshes. */
  auth?: { authenticator: Authenticator; identity: Identity };
  /** Phoenix's socket `id/1`: `server.disconnect(id)` closes every socket with it. */
  id?: string;
  /** The only topics it may join (the dashboard page's socket: the dashboard's); unset: any the channels and the token allow. */
  topics?: readonly string[];
}

/**
 * One client WebSocket: decodes frames once, routes them to its channels by topic, and is the
 * only writer of its bytes. Its own frames (replies, pushes) wait in its write queue only while
 * the thread's publish queue holds broadcasts, so it sees everything in production order.
 * Mirrors Phoenix.Socket's transport process (docs/protocol.md).
 *
 * A node holds one per client, and an idle client costs little else: its fields are what each
 * socket needs of its own (its transport, channels, state bits, rate limits, id, and its assigns
 * or its rare parts), 9 fields: 96 bytes with the object's header on a 64-bit heap without
 * pointer compression (Node's), 8 fewer for each of its four rate limits set to 0 (BUDGETS).
 * Its server's services are on the prototype of a class made for them (`of`), its frames waiting
 * in the publish queue in QUEUED, only while they wait.
 */
export class SocketConnection extends ChannelTable<Channel> implements ChannelConnection, QueuedWriter {
  ws: SocketTransport | null = null;
  /** Whether it closed, whether this side is closing it, its serializer, whether it has frames in QUEUED, and its frames in the join backlog, in one integer (see below). */
  private bits: number;
  /**
   * Its rate limits, each as the moment its bucket is full again (socket-budget.ts): frames,
   * joins, presence, inbound bytes. A field only where its limit counts (see BUDGETS).
   */
  private declare framesFullAt: FullAt;
  private declare joinsFullAt: FullAt;
  private declare presenceFullAt: FullAt;
  private declare inboundFullAt: FullAt;
  /** Its assigns, or, on the few sockets that have more (see SocketExtras), the object that holds them with the rest. */
  private about: Readonly<Record<string, unknown>> | SocketExtras;
  /**
   * What it uses of its server: one object per endpoint, on the prototype of the class `of` made
   * for it rather than in a field of every socket (8 bytes each).
   */
  private declare readonly services: SocketServices;

  /** The class of the sockets of `services`, made once for them: `new (SocketConnection.of(services))(id, serializer, assigns, session)`. */
  static of(services: SocketServices): SocketConnectionClass {
    const known = CLASSES.get(services);
    if (known !== undefined) return known;
    // Named SocketConnection too, as heap snapshots and profiles show its sockets.
    const made = {
      SocketConnection: class extends SocketConnection {
        constructor(idNumber: number, serializer: Serializer, assigns: Readonly<Record<string, unknown>>, session?: SocketSessionInit) {
          super(idNumber, serializer, assigns, session);
        }
      },
    }.SocketConnection;
    Object.defineProperty(made.prototype, "services", { value: services });
    // Writable: were a limit turned on later, a socket's first moment would become a field of its own.
    for (const [field, limit] of BUDGETS) if (services.limits[limit] === 0) Object.defineProperty(made.prototype, field, { value: null, writable: true });
    CLASSES.set(services, made);
    return made;
  }

  protected constructor(
    /** Its id as a number (socket-id.ts): the text is `id`. */
    private readonly idNumber: number,
    serializer: Serializer,
    assigns: Readonly<Record<string, unknown>>,
    session: SocketSessionInit = {},
  ) {
    super();
    this.bits = serializerIndex(serializer) << SERIALIZER_SHIFT;
    // The moments of the limits that count (BUDGETS): the others are null on the prototype.
    const { limits } = this.services;
    if (limits.maxFramesPerSecond !== 0) this.framesFullAt = null;
    if (limits.maxJoinsPerSecond !== 0) this.joinsFullAt = null;
    if (limits.maxPresencePerSecond !== 0) this.presenceFullAt = null;
    if (limits.maxInboundBytesPerSecond !== 0) this.inboundFullAt = null;
    this.about =
      session.auth || session.id !== undefined || session.topics
        ? new SocketExtras(assigns, session.auth && new SocketAuth(session.auth.authenticator, session.auth.identity, this), session.id, session.topics)
        : assigns;
  }

  /** What it was connected with (the connect hook's, the token's meta): its channels' assigns start from these. */
  get assigns(): Readonly<Record<string, unknown>> {
    const about = this.about;
    return about instanceof SocketExtras ? about.assigns : about;
  }

  /** What few sockets have (see SocketExtras), or null. */
  private get extras(): SocketExtras | null {
    const about = this.about;
    return about instanceof SocketExtras ? about : null;
  }

  /** How it encodes and decodes frames (json or msgpack), chosen at connect. */
  get serializer(): Serializer {
    return SERIALIZERS[(this.bits & SERIALIZER_MASK) >>> SERIALIZER_SHIFT];
  }

  /** Its id, unique per node start (socket-id.ts): made on each call, the same text every time. */
  get id(): string {
    return socketIdText(this.services.idPrefix, this.idNumber);
  }

  /** Its token's session (built-in auth only). */
  get auth(): SocketAuth | undefined {
    return this.extras?.auth;
  }

  /** The id given at connect (see SocketSessionInit), not the connection's unique `id`. */
  get disconnectId(): string | undefined {
    return this.extras?.disconnectId;
  }

  private get closed(): boolean {
    return (this.bits & CLOSED) !== 0;
  }

  private set closed(closed: boolean) {
    this.bits = closed ? this.bits | CLOSED : this.bits & ~CLOSED;
  }

  /** This side closed it (end): frames still arriving before the close completes are ignored. */
  private get ending(): boolean {
    return (this.bits & ENDING) !== 0;
  }

  private set ending(ending: boolean) {
    this.bits = ending ? this.bits | ENDING : this.bits & ~ENDING;
  }

  /** Its frames waiting in the join backlog: while there are any, the next ones wait behind them. */
  get backlogged(): number {
    return this.bits >>> BACKLOGGED_SHIFT;
  }

  set backlogged(count: number) {
    this.bits = (this.bits & LOW_MASK) | (count << BACKLOGGED_SHIFT);
  }

  /** What its channels use of the server (each reaches it through here rather than holding it). */
  get channelServices(): ChannelServices {
    return this.services.channels;
  }

  /** The token's `sub`, when built-in auth verified one. */
  get userId(): string | undefined {
    return this.auth?.identity.userId;
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  opened(ws: SocketTransport): void {
    this.ws = ws;
    this.auth?.start();
  }

  /** An inbound WebSocket message; `data` is only valid during this call. */
  receive(data: ArrayBuffer, isBinary: boolean): void {
    if (this.ending) return;
    this.receiveFrame(isBinary ? new Uint8Array(data) : Buffer.from(data).toString("utf8"));
  }

  /** An inbound frame: text, or the bytes of a binary frame. */
  receiveFrame(raw: string | Uint8Array): void {
    if (this.ending) return;
    const { limits } = this.services;
    const now = budgetNow();
    // Paid before anything is decoded: its bytes, then what decoding it costs (maxInboundBytesPerSecond),
    // the frame as a whole rounded up to a whole millisecond when it found the budget full (takeBytes).
    const lone = isFull(this.inboundFullAt, now);
    if (!this.takeInbound(typeof raw === "string" ? raw.length : raw.byteLength, now, false)) return this.closeOverBudget();
    // The frame is one level, its payload the rest; checked before decoding, which deep nesting makes costly.
    const depthLimit = limits.maxPayloadDepth + 1;
    const costLimit = tokensAt(this.inboundFullAt, now, limits.maxInboundBytesPerSecond, inboundBurst(limits));
    const cost =
      typeof raw === "string" ? jsonTextCost(raw, depthLimit, costLimit) : this.serializer.name === "msgpack" ? msgpackCost(raw, depthLimit, costLimit) : 0;
    if (cost === TOO_DEEP) return this.refuse("depth", `payload nested deeper than ${limits.maxPayloadDepth} levels`);
    if (cost === TOO_COSTLY) return this.closeOverBudget();
    this.takeInbound(cost, now, lone);
    const heartbeat = typeof raw === "string" && this.answersHeartbeatText() ? heartbeatRef(raw) : undefined;
    if (heartbeat !== undefined) return this.receiveHeartbeat(heartbeat);
    let frame: Frame;
    try {
      frame = this.serializer.decode(raw, "toServer");
    } catch (err) {
      const reason = err instanceof CodecError ? err.message : "undecodable frame";
      this.services.metrics.frameErrors.inc();
      this.services.log.debug({ socket: this.id, reason }, "closing socket on a bad frame");
      this.end(CLOSE.invalidFrame, `invalid frame: ${reason}`);
      return;
    }
    this.services.metrics.messagesReceived.inc();
    if (frame.topic.length > limits.maxTopicLength) return this.refuse("topic_length", `topic longer than ${limits.maxTopicLength} characters`);
    if (frame.event.length > limits.maxEventLength) return this.refuse("event_length", `event longer than ${limits.maxEventLength} characters`);
    if (!this.withinFrameRate(frame)) return;
    if (this.services.joinBacklog.mustWait(this, frame.event)) {
      // Bytes of a binary frame are only valid during this call: a frame that waits keeps a copy.
      this.services.joinBacklog.add(this, typeof raw === "string" ? frame : this.serializer.decode(raw.slice(), "toServer"));
      return;
    }
    this.dispatch(frame);
  }

  /**
   * Whether a heartbeat in phoenix.js's exact text may skip decoding (heartbeat-text.ts): with the
   * JSON serializer, on a socket with no frame waiting in the join backlog (later frames wait
   * behind those, in order), and limits that would not refuse its topic or event.
   */
  private answersHeartbeatText(): boolean {
    const { limits } = this.services;
    return (
      this.serializer.name === "json" &&
      this.backlogged === 0 &&
      limits.maxTopicLength >= SOCKET_TOPIC.length &&
      limits.maxEventLength >= EVENTS.heartbeat.length
    );
  }

  /**
   * A heartbeat recognised by its text, its bytes already paid: the steps of a decoded frame
   * (message count, frame rate, join backlog, reply in order with the write queue), without
   * JSON.parse for it or JSON.stringify for its reply.
   */
  private receiveHeartbeat(ref: string | null): void {
    this.services.metrics.messagesReceived.inc();
    const frame: Frame = { joinRef: null, ref, topic: SOCKET_TOPIC, event: EVENTS.heartbeat, payload: {} };
    if (!this.withinFrameRate(frame)) return;
    if (this.services.joinBacklog.mustWait(this, frame.event)) {
      this.services.joinBacklog.add(this, frame);
      return;
    }
    if (this.closed) return;
    this.write({ data: heartbeatReplyText(ref), binary: false });
  }

  /** A frame that waited in the join backlog (see JoinBacklog). */
  dispatchFrame(frame: Frame): void {
    this.dispatch(frame);
  }

  /** A presence track or update of this socket's channels is within maxPresencePerSecond. */
  takePresence(): boolean {
    const limit = this.services.limits.maxPresencePerSecond;
    const fullAt = takeTokens(this.presenceFullAt, budgetNow(), limit, limit);
    if (fullAt !== false) {
      if (limit !== 0) this.presenceFullAt = fullAt;
      return true;
    }
    this.services.metrics.rateLimited.inc({ limit: "presence" });
    return false;
  }

  send(frame: Frame): boolean {
    if (this.closed) return true;
    let encoded: EncodedFrame;
    try {
      encoded = this.serializer.encode(frame, "toClient");
    } catch (err) {
      this.services.metrics.encodeErrors.inc({ serializer: this.serializer.name });
      this.services.log.error({ err, socket: this.id, topic: frame.topic, event: frame.event }, "a frame for this socket cannot be encoded");
      return false;
    }
    this.write(encoded);
    return true;
  }

  /**
   * Frames written in one go (one write where they fit in uWS's cork buffer); a frame with a
   * `head` is one message in two fragments, the head (per socket) then `data` (shared by many
   * sockets, never copied here).
   */
  sendFrames(frames: readonly StateFrame[]): void {
    const ws = this.ws;
    if (this.closed || !ws || frames.length === 0) return;
    ws.cork(() => {
      for (const { head, data, binary } of frames) this.write(head === undefined ? { data, binary } : { data: head, binary, tail: data });
    });
  }

  sendJsonFrame(frame: string): void {
    if (this.closed) return;
    if (this.serializer.name === "json") this.write({ data: frame, binary: false });
    else this.send(jsonSerializer.decode(frame, "toClient"));
  }

  // ── SubscriberSocket: uWS topics, in order with the publish queue ──

  subscribe(topicKey: string): void {
    if (this.services.queue.idle) this.ws?.subscribe(topicKey);
    else this.services.queue.run(() => this.ws?.subscribe(topicKey));
  }

  unsubscribe(topicKey: string): void {
    if (this.services.queue.idle) this.ws?.unsubscribe(topicKey);
    else this.services.queue.run(() => this.ws?.unsubscribe(topicKey));
  }

  publishFrom(topicKey: string, frame: EncodedFrame): boolean {
    if (!this.ws) return false;
    this.ws.publish(topicKey, frame.data, frame.binary);
    return true;
  }

  // ── the write queue ──

  writeQueued(count: number): void {
    const queued = this.hasQueued ? QUEUED.get(this) : undefined;
    const frames = queued?.splice(0, count) ?? [];
    if (queued?.length === 0) this.forgetQueued();
    for (const frame of frames) this.writeNow(frame);
    // A presence catch-up waits for an empty queue (canTakeMore).
    if (!this.hasQueued) this.services.channels.presenceStates.drained(this);
    this.services.fanout.drained(this);
  }

  /** Frames of its own wait in QUEUED. */
  private get hasQueued(): boolean {
    return (this.bits & HAS_QUEUED) !== 0;
  }

  private forgetQueued(): void {
    if (!this.hasQueued) return;
    this.bits &= ~HAS_QUEUED;
    QUEUED.delete(this);
  }

  /** Close with a code and a short reason (at most 123 bytes by the WebSocket spec). */
  end(code: number, reason: string): void {
    if (this.closed || !this.ws) return;
    this.ending = true;
    this.ws.end(code, Buffer.from(reason).subarray(0, 123).toString());
  }

  /** Close the TCP connection at once, without a close frame (the thread is going down). */
  abort(): void {
    if (this.closed || !this.ws) return;
    this.ws.close();
  }

  /** Bytes queued for this socket that it has not read yet (the node buffer cap and presence states read it). */
  get bufferedBytes(): number {
    return this.ws?.getBufferedAmount() ?? 0;
  }

  /**
   * Whether bytes written now go out without this server holding them: nothing waits in the
   * write queue, and the transport's unsent bytes are under its low-water mark (for a WebSocket:
   * none, so the kernel takes the next write whole). Presence catch-ups write only then.
   */
  get canTakeMore(): boolean {
    const ws = this.ws;
    return ws !== null && !this.closed && !this.hasQueued && ws.getBufferedAmount() <= (ws.lowWaterBytes ?? 0);
  }

  /** The transport wrote out unsent bytes (uWS's drain). */
  drained(): void {
    const ws = this.ws;
    if (!ws) return;
    this.services.bufferCap.observe(this, ws.getBufferedAmount());
    this.services.channels.presenceStates.drained(this);
    this.services.fanout.drained(this);
  }

  /** uWS answered the client's ping with a pong: bytes written to it that no send here made. */
  pinged(): void {
    if (this.ws) this.services.slowConsumers.wrote(this);
  }

  /** The node holds too many unread bytes and this socket is among the largest holders: 1013 too. */
  closeOverNodeCap(): void {
    if (this.closed) return;
    this.services.metrics.nodeCapDisconnects.inc();
    this.services.log.debug({ socket: this.id }, "slow consumer disconnected: node buffer cap");
    this.end(CLOSE.slowConsumer, "slow consumer: server buffers full");
  }

  /** Over its slow-consumer limit: close it (1013) so the client reconnects and resyncs. */
  closeSlow(): void {
    if (this.closed) return;
    this.services.metrics.slowConsumers.inc();
    this.services.log.warn({ socket: this.id }, "slow consumer disconnected");
    this.end(CLOSE.slowConsumer, "slow consumer: too much unread data");
  }

  // ── the token's session (AuthenticatedSocket) and force-disconnects ──

  pushToJoined(event: string, payload: Record<string, unknown>): void {
    for (const channel of this.heldChannels()) if (channel.state === "joined") channel.push(event, payload);
  }

  closeExpired(): void {
    if (this.closed) return;
    this.services.metrics.tokenExpiryCloses.inc();
    this.services.log.debug({ socket: this.id }, "closing socket: its token expired");
    this.end(CLOSE.tokenExpired, "token expired");
  }

  /** `server.disconnect(id)` reached this socket. */
  disconnect(): void {
    this.end(CLOSE.disconnected, "disconnected by the server");
  }

  /** uWS reports the socket closed (by either side): end every channel and drop its presences. */
  onClose(): void {
    this.auth?.stop();
    this.closed = true;
    this.ws = null;
    this.forgetQueued();
    this.services.bufferCap.forget(this);
    for (const channel of this.heldChannels()) channel.shutdown("closed");
    this.services.presence.untrackOwner(this.id);
  }

  /** Called by a channel that ended. */
  forget(channel: Channel): void {
    this.dropChannel(channel);
  }

  private write(frame: OutgoingFrame): void {
    if (!this.hasQueued) {
      if (this.services.queue.idle) {
        this.writeNow(frame);
        return;
      }
      this.bits |= HAS_QUEUED;
      QUEUED.set(this, [frame]);
    } else {
      (QUEUED.get(this) as OutgoingFrame[]).push(frame);
    }
    this.services.queue.writeAfter(this);
  }

  private writeNow(frame: OutgoingFrame): void {
    const ws = this.ws;
    if (!ws) return;
    this.services.slowConsumers.wrote(this);
    if (frame.tail) {
      const { data, tail, binary } = frame;
      // uWS drops a message when the socket is already past its backpressure limit; half a message
      // would break the stream, so such a socket gets neither part and is closed as slow.
      if (ws.getBufferedAmount() > this.services.maxBackpressure) return this.closeSlow();
      ws.cork(() => {
        ws.sendFirstFragment(data, binary);
        ws.sendLastFragment(tail);
      });
      this.services.bufferCap.observe(this, ws.getBufferedAmount());
      return;
    }
    const status = ws.send(frame.data, frame.binary);
    // 1 = queued behind unread bytes (the node-wide cap counts them); 2 = dropped: the socket
    // is over its slow-consumer limit.
    if (status === 1) this.services.bufferCap.observe(this, ws.getBufferedAmount());
    else if (status === 2) this.closeSlow();
  }

  /** A frame past a limit that makes it unreadable for us: the socket is closed with 1007 and a reason. */
  private refuse(limit: "depth" | "topic_length" | "event_length", reason: string): void {
    this.services.metrics.framesRefused.inc({ limit });
    this.services.log.debug({ socket: this.id, reason }, "closing socket on a frame over a limit");
    this.end(CLOSE.invalidFrame, `invalid frame: ${reason}`);
  }

  /**
   * Over maxInboundBytesPerSecond: the frame is not decoded, so there is nothing to answer it
   * with, and the socket is closed with 1008 (a client that means well never gets there).
   */
  private closeOverBudget(): void {
    this.services.metrics.rateLimited.inc({ limit: "bytes" });
    this.services.log.warn({ socket: this.id }, "closing a socket over its inbound byte budget");
    this.end(CLOSE.policy, `too much to decode: over ${this.services.limits.maxInboundBytesPerSecond} bytes a second`);
  }

  /** Takes `bytes` from the inbound byte budget (see inbound-budget.ts); false when it does not cover them. */
  private takeInbound(bytes: number, now: number, roundUp: boolean): boolean {
    const { limits } = this.services;
    const fullAt = takeBytes(this.inboundFullAt, now, limits.maxInboundBytesPerSecond, inboundBurst(limits), bytes, roundUp);
    if (fullAt === false) return false;
    if (limits.maxInboundBytesPerSecond !== 0) this.inboundFullAt = fullAt;
    return true;
  }

  /**
   * Over maxFramesPerSecond a frame is answered `{reason: "rate limited"}` instead of handled;
   * a socket that stays over it (frames refused in every second) for RATE_CLOSE_AFTER_MS is
   * closed with 1008.
   */
  private withinFrameRate(frame: Frame): boolean {
    const now = budgetNow();
    const limit = this.services.limits.maxFramesPerSecond;
    const fullAt = takeTokens(this.framesFullAt, now, limit, limit);
    if (fullAt !== false) {
      if (limit !== 0) this.framesFullAt = fullAt;
      return true;
    }
    this.services.metrics.rateLimited.inc({ limit: "frames" });
    let extras = this.extras;
    if (extras === null) this.about = extras = new SocketExtras(this.about as Readonly<Record<string, unknown>>, undefined, undefined, undefined);
    let over = extras.overRate;
    if (over === null || now - over.last > 1000) over = extras.overRate = { since: now, last: now };
    over.last = now;
    if (now - over.since >= RATE_CLOSE_AFTER_MS) {
      this.services.metrics.rateLimited.inc({ limit: "close" });
      this.services.log.warn({ socket: this.id }, "closing a socket that stayed over its frame rate limit");
      this.end(CLOSE.policy, `too many frames: over ${this.services.limits.maxFramesPerSecond} a second`);
    } else if (frame.ref !== null) {
      this.replyOutside(frame, frame.joinRef, "error", { reason: "rate limited" });
    }
    return false;
  }

  private dispatch(frame: Frame): void {
    if (frame.topic === SOCKET_TOPIC && frame.event === EVENTS.heartbeat) {
      this.replyOutside(frame, null, "ok", {});
      return;
    }
    const channel = this.channelOf(frame.topic);
    if (frame.event === EVENTS.join) {
      this.join(frame, channel);
      return;
    }
    if (!channel) {
      // Leaving a topic we are not in is fine; anything else there is an error (Phoenix).
      if (frame.event === EVENTS.leave) this.replyOutside(frame, frame.joinRef, "ok", {});
      else this.replyOutside(frame, null, "error", { reason: "unmatched topic" });
      return;
    }
    // A message for an earlier membership of this topic is stale: drop it silently.
    if (frame.joinRef !== null && frame.joinRef !== channel.joinRef) return;
    if (frame.event === ACCESS_TOKEN_EVENT && this.auth && channel.state === "joined") return this.refreshToken(this.auth, frame, channel);
    if (frame.event === EVENTS.leave) channel.leave(frame.ref);
    else channel.handleIn(frame);
  }

  private join(frame: Frame, existing: Channel | undefined): void {
    const limit = this.services.limits.maxJoinsPerSecond;
    const fullAt = takeTokens(this.joinsFullAt, budgetNow(), limit, limit);
    if (fullAt === false) {
      this.services.metrics.rateLimited.inc({ limit: "joins" });
      this.replyOutside(frame, frame.joinRef, "error", { reason: "too many joins" });
      return;
    }
    if (limit !== 0) this.joinsFullAt = fullAt;
    const handler = this.services.router.match(frame.topic);
    if (!handler) {
      // A client chooses the topic: log a bounded part of it, and only at debug.
      this.services.log.debug({ topic: frame.topic.slice(0, 100), topicLength: frame.topic.length, socket: this.id }, "ignoring unmatched topic");
      this.replyOutside(frame, null, "error", { reason: "unmatched topic" });
      return;
    }
    const onlyTopics = this.extras?.onlyTopics;
    if (onlyTopics && !onlyTopics.includes(frame.topic)) {
      this.replyOutside(frame, frame.joinRef, "error", { reason: "topic not allowed on this socket" });
      return;
    }
    // The token's `channels` claim is a permission, checked before the channel's own join.
    if (this.auth && !this.auth.mayJoin(frame.topic)) {
      this.services.metrics.joinsRefusedByToken.inc();
      this.replyOutside(frame, frame.joinRef, "error", { reason: "topic not allowed by token" });
      return;
    }
    if (!existing && this.channelCount >= this.services.maxChannels) {
      this.replyOutside(frame, frame.joinRef, "error", { reason: "too many channels joined" });
      return;
    }
    // A second join of the same topic replaces the first; the old membership gets phx_close
    // after the new join's reply, which phoenix.js ignores as stale (docs/protocol.md).
    if (existing) {
      this.services.log.debug({ topic: frame.topic, socket: this.id }, "duplicate join: closing the existing channel");
      existing.shutdown("duplicate_join");
    }
    const joinRef = frame.joinRef ?? frame.ref ?? "";
    const channel = new Channel(this, this.services.fanout.intern(frame.topic), joinRef, handler);
    this.holdChannel(channel);
    channel.join(frame.payload as JoinParams, frame.ref, existing);
  }

  channelJoined(channel: ChannelSocket): void {
    this.auth?.joined((event, payload) => channel.push(event, payload));
  }

  /**
   * A fresh token pushed in-band (`access_token`): verified, answered on the channel it came
   * on, and on success the socket's session goes on with the new expiry and permissions;
   * channels the new token no longer allows are closed.
   */
  private refreshToken(auth: SocketAuth, frame: Frame, channel: Channel): void {
    auth.refresh(frame.payload).then((answer) => {
      this.services.metrics.tokenRefreshes.inc({ outcome: answer.status === "ok" ? "ok" : "refused" });
      this.send({ joinRef: channel.joinRef, ref: frame.ref, topic: frame.topic, event: EVENTS.reply, payload: answer });
      if (answer.status !== "ok") return;
      for (const joined of this.heldChannels()) {
        if (auth.mayJoin(joined.topic)) continue;
        joined.shutdown("unauthorized");
        joined.sendClose();
      }
    }, (err: unknown) => this.services.log.error({ err, socket: this.id }, "token refresh failed"));
  }

  /** A reply that does not come from a channel (heartbeat, unmatched topic, limits). */
  private replyOutside(frame: Frame, joinRef: string | null, status: string, response: Record<string, unknown>): void {
    this.send({ joinRef, ref: frame.ref, topic: frame.topic, event: EVENTS.reply, payload: { status, response } });
  }
}
