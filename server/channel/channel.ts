import { EVENTS, type Frame } from "../../client/codec/frame.js";
import type { Subscriber } from "../pubsub/subscriber.js";
import type { ChannelConnection, ChannelServices } from "./channel-services.js";
import type { ChannelSocket, PresenceMeta, StoredBroadcast } from "./channel-socket.js";
import type { ChannelHandler, JoinParams, PushRef } from "./handler.js";
import { isReply, type HandleInResult, type Payload, type Reply } from "./results.js";
import { SerialQueue } from "./serial-queue.js";
import { parseSince, type Recovery, type Since } from "../history/recovery.js";
import { presenceModeOf, type PresenceMode } from "../pubsub/presence-mode.js";
import type { PresenceCount } from "../presence/presence-counts.js";

/** A presence track or update past the socket's maxPresencePerSecond. */
const RATE_LIMITED = { ok: false, reason: "rate_limited" } as const;

/** What a client that follows presence by count never gets (docs/presence.md, "Presence counts"). */
const LIST_EVENTS: ReadonlySet<string> = new Set(["presence_state", "presence_diff"]);

/** The join reply of a history topic carries the recovery outcome under `_recovery`. */
function withRecovery(reply: Reply, recovery: Recovery): Reply {
  const { response } = reply;
  if (typeof response !== "object" || response === null || response instanceof ArrayBuffer || response instanceof Uint8Array) return reply;
  return { ...reply, response: { ...response, _recovery: recovery } };
}

/**
 * A channel's own assigns, seeded from its socket's. Built by a constructor rather than a
 * spread: V8 then learns how many properties such objects end up with (handlers add theirs
 * right after the join) and stops reserving room for more, which a million memberships feel.
 * Their prototype is Object.prototype, as a literal's.
 */
const ChannelAssigns = function (this: Record<string, unknown>, seed: Readonly<Record<string, unknown>>) {
  for (const key in seed) {
    if (!Object.prototype.hasOwnProperty.call(seed, key)) continue;
    // Defined, not assigned, as a spread would: an own "__proto__" stays a plain property.
    if (key === "__proto__") Object.defineProperty(this, key, { value: seed[key], enumerable: true, writable: true, configurable: true });
    else this[key] = seed[key];
  }
  for (const symbol of Object.getOwnPropertySymbols(seed)) {
    if (Object.prototype.propertyIsEnumerable.call(seed, symbol)) (this as Record<symbol, unknown>)[symbol] = (seed as Record<symbol, unknown>)[symbol];
  }
} as unknown as new (seed: Readonly<Record<string, unknown>>) => Record<string, unknown>;
ChannelAssigns.prototype = Object.prototype;

function seedAssigns(seed: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return new ChannelAssigns(seed);
}

type ChannelState = "joining" | "joined" | "closed";

/**
 * `flags` bits: the state (two bits), whether it was handed to the fan-out, how it follows
 * presence, whether the fan-out delivers to it, whether a task of its queue is pending; above
 * them, its handler's number (ChannelServices.handlers).
 */
const STATE_MASK = 0b11;
const STATES: readonly ChannelState[] = ["joining", "joined", "closed"];
const SUBSCRIBED = 0b100;
const COUNTS_PRESENCE = 0b1000;
const ATTACHED = 0b10000;
/** Counted among the thread's joins in progress, until it is joined or closed. */
const JOIN_COUNTED = 0b100000;
/** A task of its queue is pending (SerialQueue.queueBusy). */
const QUEUE_BUSY = 0b1000000;
const HANDLER_SHIFT = 7;

/** Handler numbers a channel's flags have room for. */
export const HANDLER_NUMBERS = 1 << (31 - HANDLER_SHIFT);

/**
 * One (socket, topic) membership: the channel process of Phoenix. It runs the handler,
 * one call at a time, and turns its results into replies, closes and errors.
 *
 * A node holds one per subscription, a million of them at scale: it keeps only what differs
 * per membership (its socket, topic, join ref, own assigns) and packs its small state and its
 * handler into one integer; the server's services are reached through the socket. Five fields:
 * 64 bytes with the object's header on a 64-bit heap without pointer compression (Node's).
 */
export class Channel extends SerialQueue implements ChannelSocket, Subscriber {
  private flags: number;
  private ownAssigns: Record<string, unknown> | null = null;

  constructor(
    private readonly connection: ChannelConnection,
    readonly topic: string,
    readonly joinRef: string,
    handler: ChannelHandler,
  ) {
    super();
    this.flags = connection.channelServices.handlers.numberOf(handler) << HANDLER_SHIFT;
  }

  /** The channel handler it runs (the route its topic matched at the join). */
  get handler(): ChannelHandler {
    return this.services.handlers.handlerOf(this.flags >>> HANDLER_SHIFT);
  }

  get state(): ChannelState {
    return STATES[this.flags & STATE_MASK];
  }

  private set state(state: ChannelState) {
    this.flags = (this.flags & ~STATE_MASK) | STATES.indexOf(state);
    if (state !== "joining" && (this.flags & JOIN_COUNTED) !== 0) {
      this.flags &= ~JOIN_COUNTED;
      this.services.joinsInProgress.ended();
    }
  }

  /** Handed to the fan-out (it may still be waiting for the topic to be routed here). */
  private get subscribed(): boolean {
    return (this.flags & SUBSCRIBED) !== 0;
  }

  private set subscribed(subscribed: boolean) {
    this.flags = subscribed ? this.flags | SUBSCRIBED : this.flags & ~SUBSCRIBED;
  }

  /** The fan-out's mark (Subscriber.attached): it delivers to this channel. */
  get attached(): boolean {
    return (this.flags & ATTACHED) !== 0;
  }

  set attached(attached: boolean) {
    this.flags = attached ? this.flags | ATTACHED : this.flags & ~ATTACHED;
  }

  get presenceMode(): PresenceMode {
    return (this.flags & COUNTS_PRESENCE) !== 0 ? "count" : "list";
  }

  private set presenceMode(mode: PresenceMode) {
    this.flags = mode === "count" ? this.flags | COUNTS_PRESENCE : this.flags & ~COUNTS_PRESENCE;
  }

  private get services(): ChannelServices {
    return this.connection.channelServices;
  }

  protected get queueBusy(): boolean {
    return (this.flags & QUEUE_BUSY) !== 0;
  }

  protected set queueBusy(busy: boolean) {
    this.flags = busy ? this.flags | QUEUE_BUSY : this.flags & ~QUEUE_BUSY;
  }

  /** For its queue: how many pushes may wait, and where a failed task is reported. */
  protected get queueCapacity(): number {
    return this.services.maxQueuedPushes;
  }

  protected taskFailed(err: unknown): void {
    this.services.log.error({ err, topic: this.topic, socket: this.socketId }, "channel task failed");
  }

  /** Seeded from the connection's assigns on first use: most channels never touch them. */
  get assigns(): Record<string, unknown> {
    return (this.ownAssigns ??= seedAssigns(this.connection.assigns));
  }

  get socketId(): string {
    return this.connection.id;
  }

  get userId(): string | undefined {
    return this.connection.userId;
  }

  /** Read afresh after every await: the socket may close meanwhile. */
  private get isClosed(): boolean {
    return this.state === "closed";
  }

  /** The socket side of this subscription, for the fan-out. */
  get socket(): ChannelConnection {
    return this.connection;
  }

  // ── inbound ──────────────────────────────────────────────────────────────

  /**
   * Handles the join. `replaced` is the membership of the same topic this join replaces: it gets
   * its phx_close once the ok reply is out.
   */
  join(params: JoinParams, ref: string | null, replaced?: Channel): void {
    const { log } = this.services;
    this.flags |= JOIN_COUNTED;
    this.services.joinsInProgress.started();
    this.presenceMode = presenceModeOf(params);
    let since: Since | undefined;
    if (this.handler.history) {
      const { _since, ...rest } = params;
      params = rest;
      try {
        since = parseSince(_since);
      } catch (err) {
        this.sendReply(ref, { kind: "reply", status: "error", response: { reason: (err as Error).message } });
        this.connection.forget(this);
        this.state = "closed";
        return;
      }
    }
    // Free of async/await: a synchronous join on a routed topic completes at once, so nothing
    // of it outlives the frame that asked (a join storm then leaves no garbage behind in the heap).
    this.run(() => {
      let result: unknown;
      try {
        result = this.handler.join(this.topic, params, this);
      } catch (err) {
        log.error({ err, topic: this.topic, socket: this.socketId }, "join crashed");
        result = null;
      }
      if (!(result instanceof Promise)) return this.joinAnswered(result, ref, since, replaced);
      return result.then(
        (settled: unknown) => this.joinAnswered(settled, ref, since, replaced),
        (err: unknown) => {
          log.error({ err, topic: this.topic, socket: this.socketId }, "join crashed");
          return this.joinAnswered(null, ref, since, replaced);
        },
      );
    }, true);
  }

  /** The handler answered the join (null: it crashed): reply with an error, or subscribe. */
  private joinAnswered(result: unknown, ref: string | null, since: Since | undefined, replaced: Channel | undefined): Promise<void> | void {
    if (this.state === "closed") return; // replaced by a newer join or the socket closed meanwhile
    if (!isReply(result) || result.status !== "ok") {
      if (!isReply(result) && result !== null) this.services.log.error({ topic: this.topic }, "join must return ok(...) or error(...)");
      this.sendReply(ref, isReply(result) ? result : { kind: "reply", status: "error", response: { reason: "join crashed" } });
      this.connection.forget(this);
      this.state = "closed";
      return;
    }
    this.subscribed = true;
    if (this.handler.history) return this.joinWithHistory(result, ref, since, replaced);
    const routed = this.services.fanout.subscribe(this);
    if (!routed) return this.joined(result, ref, undefined, replaced);
    return routed.then(() => {
      if (this.isClosed) return; // the socket closed while the topic was being routed here
      return this.joined(result, ref, undefined, replaced);
    });
  }

  private async joinWithHistory(reply: Reply, ref: string | null, since: Since | undefined, replaced: Channel | undefined): Promise<void> {
    const prepared = await this.services.historyTopics.join(this, since);
    const settled = this.isClosed ? null : prepared.settle();
    if (!settled) return; // the socket closed while the history was being read
    return this.joined(withRecovery(reply, settled.recovery), ref, settled.replay, replaced);
  }

  /** Subscribed: the ok reply, what the client missed, then the handler's afterJoin. */
  private joined(reply: Reply, ref: string | null, replay: string[] | undefined, replaced: Channel | undefined): Promise<void> | void {
    const { log, metrics } = this.services;
    // An ok reply that cannot be encoded became an error reply: the client is not joined.
    if (!this.sendReply(ref, reply)) return this.shutdown("join reply could not be encoded");
    // What the client missed, after the reply and before anything live.
    if (replay) for (const frame of replay) this.connection.sendJsonFrame(frame);
    this.state = "joined";
    if (this.presenceMode === "count") this.push("presence_count", { ...this.presenceCount() });
    metrics.channelsJoined.inc();
    metrics.joins.inc();
    if (log.isLevelEnabled("debug")) log.debug({ topic: this.topic, socket: this.socketId }, "channel joined");
    replaced?.sendClose();
    this.connection.channelJoined(this);
    const { afterJoin } = this.handler;
    if (!afterJoin) return;
    // Called here rather than through guard(): no closure per join.
    let result: unknown;
    try {
      result = afterJoin.call(this.handler, this);
    } catch (err) {
      return this.crashed(err);
    }
    if (result instanceof Promise) return result.then(undefined, (err: unknown) => this.crashed(err));
  }

  handleIn(frame: Frame): void {
    const task = () => {
      if (this.state !== "joined") return;
      const handleIn = this.handler.handleIn;
      if (!handleIn) {
        this.sendReply(frame.ref, { kind: "reply", status: "error", response: { reason: "unhandled event" } });
        return;
      }
      const ref: PushRef = { topic: this.topic, joinRef: this.joinRef, ref: frame.ref };
      this.services.clientPushes?.(this.topic, frame.event, frame.payload, this.connection.userId);
      // Kept free of async/await so synchronous handlers never allocate a promise.
      return this.guard(() => {
        const result = handleIn.call(this.handler, frame.event, frame.payload as Payload, this, ref);
        if (result instanceof Promise) return result.then((settled) => this.applyResult(frame.ref, settled));
        this.applyResult(frame.ref, result);
      });
    };
    if (this.run(task)) return;
    // The handler is behind by maxQueuedPushes: refuse rather than let the backlog grow.
    this.services.metrics.pushesRefused.inc();
    this.sendReply(frame.ref, { kind: "reply", status: "error", response: { reason: "too many pending pushes" } });
  }

  leave(ref: string | null): void {
    this.run(() => {
      if (this.state === "closed") return;
      this.shutdown("leave");
      this.sendReply(ref, { kind: "reply", status: "ok", response: {} });
      this.sendClose();
    }, true);
  }

  /** An intercepted broadcast for this subscriber. */
  deliverOut(event: string, payload: Payload): void {
    if (this.state !== "joined") return;
    this.guard(() => this.handler.handleOut?.(event, payload, this));
  }

  // ── ChannelSocket ────────────────────────────────────────────────────────

  push(event: string, payload: Payload): void {
    if (this.state === "closed") return;
    if (this.presenceMode === "count" && LIST_EVENTS.has(event)) return;
    this.connection.send({ joinRef: this.joinRef, ref: null, topic: this.topic, event, payload });
  }

  broadcast(event: string, payload: Payload): void {
    this.services.broadcaster.broadcast(this.topic, event, payload, null);
  }

  broadcastFrom(event: string, payload: Payload): void {
    this.services.broadcaster.broadcast(this.topic, event, payload, this);
  }

  broadcastStored(event: string, payload: Record<string, unknown>): Promise<StoredBroadcast> {
    return this.services.broadcaster.broadcastStored(this.topic, event, payload, null);
  }

  broadcastFromStored(event: string, payload: Record<string, unknown>): Promise<StoredBroadcast> {
    return this.services.broadcaster.broadcastStored(this.topic, event, payload, this);
  }

  reply(ref: PushRef, reply: Reply): void {
    if (this.state === "closed" || ref.joinRef !== this.joinRef) return;
    this.sendReply(ref.ref, reply);
  }

  track(key: string, meta: PresenceMeta) {
    if (!this.connection.takePresence()) return RATE_LIMITED;
    return this.services.presence.track(this.socketId, this.topic, key, meta);
  }

  updatePresence(key: string, meta: PresenceMeta | ((old: PresenceMeta) => PresenceMeta)) {
    if (!this.connection.takePresence()) return RATE_LIMITED;
    return this.services.presence.update(this.socketId, this.topic, key, meta);
  }

  untrack(key?: string): void {
    this.services.presence.untrack(this.socketId, this.topic, key);
  }

  listPresence() {
    // Usually pushed as presence_state: the diffs that follow must agree with it.
    return this.services.presence.snapshot(this.topic);
  }

  pushPresenceState(): void {
    if (this.state !== "joined" || this.presenceMode !== "list") return;
    this.services.presenceStates.request(this);
  }

  presenceCount(): PresenceCount {
    return this.services.presence.count(this.topic);
  }

  // ── ending ───────────────────────────────────────────────────────────────

  /**
   * Ends the membership: unsubscribes, drops its presences and calls `terminate`.
   * Sends nothing; callers decide between phx_close, phx_error or silence (socket gone).
   */
  shutdown(reason: string): void {
    if (this.state === "closed") return;
    const { log, metrics } = this.services;
    const wasJoined = this.state === "joined";
    this.state = "closed";
    this.connection.forget(this);
    this.services.presenceStates.forget(this);
    if (this.subscribed) this.services.fanout.unsubscribe(this);
    if (wasJoined) metrics.channelsJoined.dec();
    // A closing socket drops all of its presences at once (SocketConnection.onClose).
    if (reason !== "closed") this.services.presence.untrack(this.socketId, this.topic);
    try {
      this.handler.terminate?.(reason, this);
    } catch (err) {
      log.error({ err, topic: this.topic }, "terminate threw");
    }
    if (log.isLevelEnabled("debug")) log.debug({ topic: this.topic, socket: this.socketId, reason }, "channel closed");
  }

  sendClose(joinRef: string = this.joinRef): void {
    this.connection.send({ joinRef, ref: joinRef, topic: this.topic, event: EVENTS.close, payload: {} });
  }

  private applyResult(ref: string | null, result: HandleInResult): void {
    if (!result || result.kind === "noreply") return;
    if (result.kind === "reply") {
      this.sendReply(ref, result);
      return;
    }
    if (result.reply) this.sendReply(ref, result.reply);
    this.shutdown(`stop:${result.reason}`);
    this.sendClose();
  }

  /** Sends a reply; one that cannot be encoded goes out as an error reply instead (and false is returned). */
  private sendReply(ref: string | null, reply: Reply): boolean {
    const { joinRef, topic } = this;
    const payload = { status: reply.status, response: reply.response };
    if (this.connection.send({ joinRef, ref, topic, event: EVENTS.reply, payload })) return true;
    this.connection.send({ joinRef, ref, topic, event: EVENTS.reply, payload: { status: "error", response: { reason: "reply could not be encoded" } } });
    return false;
  }

  /** Runs handler code; a throw crashes this channel only (phx_error), never the socket. */
  private guard(task: () => unknown): Promise<void> | void {
    try {
      const result = task();
      if (result instanceof Promise) return result.then(() => undefined, (err: unknown) => this.crashed(err));
    } catch (err) {
      this.crashed(err);
    }
  }

  /** Handler code threw or rejected: this channel ends with phx_error. */
  private crashed(err: unknown): void {
    if (this.state === "closed") return;
    this.services.log.error({ err, topic: this.topic, socket: this.socketId }, "channel crashed");
    this.services.metrics.channelCrashes.inc();
    this.shutdown("crash");
    this.connection.send({
      joinRef: this.joinRef,
      ref: this.joinRef,
      topic: this.topic,
      event: EVENTS.error,
      payload: { reason: "channel_crash" },
    });
  }
}
