import { EVENTS, type Frame } from "../../client/codec/frame.js";
import type { Subscriber } from "../pubsub/subscriber.js";
import type { ChannelConnection, ChannelServices } from "./channel-services.js";
import type { ChannelSocket, PresenceMeta } from "./channel-socket.js";
import type { ChannelHandler, JoinParams, PushRef } from "./handler.js";
import { isReply, type HandleInResult, type Payload, type Reply } from "./results.js";
import { SerialQueue, type QueueOwner } from "./serial-queue.js";
import { parseSince, type Recovery, type Since } from "../history/recovery.js";
import { presenceModeOf, type PresenceMode } from "../pubsub/presence-mode.js";
import type { PresenceCount } from "../presence/presence-counts.js";

/** A presence track or update past the socket's maxPresencePerSecond. */
const RATE_LIMITED = { ok: false, reason: "rate_limited" } as const;

/** What a client that follows presence by count never gets (README, "Presence counts"). */
const LIST_EVENTS: ReadonlySet<string> = new Set(["presence_state", "presence_diff"]);

/** The join reply of a history topic carries the recovery outcome under `_recovery`. */
function withRecovery(reply: Reply, recovery: Recovery): Reply {
  const { response } = reply;
  if (typeof response !== "object" || response === null || response instanceof ArrayBuffer || response instanceof Uint8Array) return reply;
  return { ...reply, response: { ...response, _recovery: recovery } };
}

type ChannelState = "joining" | "joined" | "closed";

/**
 * One (socket, topic) membership: the channel process of Phoenix. It runs the handler,
 * one call at a time, and turns its results into replies, closes and errors.
 */
export class Channel implements ChannelSocket, Subscriber, QueueOwner {
  state: ChannelState = "joining";
  private ownAssigns: Record<string, unknown> | null = null;
  private readonly queue: SerialQueue;
  /** Handed to the fan-out (it may still be waiting for the topic to be routed here). */
  private subscribed = false;
  presenceMode: PresenceMode = "list";

  constructor(
    private readonly connection: ChannelConnection,
    private readonly services: ChannelServices,
    readonly topic: string,
    readonly joinRef: string,
    readonly handler: ChannelHandler,
  ) {
    this.queue = new SerialQueue(this);
  }

  /** For its queue (QueueOwner): how many pushes may wait, and where a failed task is reported. */
  get queueCapacity(): number {
    return this.services.maxQueuedPushes;
  }

  taskFailed(err: unknown): void {
    this.services.log.error({ err, topic: this.topic, socket: this.socketId }, "channel task failed");
  }

  /** Seeded from the connection's assigns on first use: most channels never touch them. */
  get assigns(): Record<string, unknown> {
    return (this.ownAssigns ??= { ...this.connection.assigns });
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

  /** Handles the join; `onJoined` runs once the ok reply is out (used to close a duplicate). */
  join(params: JoinParams, ref: string | null, onJoined: () => void): void {
    const { log, metrics } = this.services;
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
    this.queue.run(async () => {
      let result: unknown;
      try {
        result = await this.handler.join(this.topic, params, this);
      } catch (err) {
        log.error({ err, topic: this.topic, socket: this.socketId }, "join crashed");
        result = null;
      }
      if (this.state === "closed") return; // replaced by a newer join or the socket closed meanwhile
      if (!isReply(result) || result.status !== "ok") {
        if (!isReply(result) && result !== null) log.error({ topic: this.topic }, "join must return ok(...) or error(...)");
        this.sendReply(ref, isReply(result) ? result : { kind: "reply", status: "error", response: { reason: "join crashed" } });
        this.connection.forget(this);
        this.state = "closed";
        return;
      }
      let reply: Reply = result;
      this.subscribed = true;
      let replay: string[] | undefined;
      if (this.handler.history) {
        const prepared = await this.services.joinHistory(this, since);
        const settled = this.isClosed ? null : prepared.settle();
        if (!settled) return; // the socket closed while the history was being read
        replay = settled.replay;
        reply = withRecovery(reply, settled.recovery);
      } else {
        const routed = this.services.subscribe(this);
        if (routed) await routed;
        if (this.isClosed) return; // the socket closed while the topic was being routed here
      }
      // An ok reply that cannot be encoded became an error reply: the client is not joined.
      if (!this.sendReply(ref, reply)) return this.shutdown("join reply could not be encoded");
      // What the client missed, after the reply and before anything live.
      if (replay) for (const frame of replay) this.connection.sendJsonFrame(frame);
      this.state = "joined";
      if (this.presenceMode === "count") this.push("presence_count", { ...this.presenceCount() });
      metrics.channelsJoined.inc();
      metrics.joins.inc();
      log.debug({ topic: this.topic, socket: this.socketId }, "channel joined");
      onJoined();
      if (this.handler.afterJoin) await this.guard(() => this.handler.afterJoin?.(this));
    }, true);
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
      // Kept free of async/await so synchronous handlers never allocate a promise.
      return this.guard(() => {
        const result = handleIn.call(this.handler, frame.event, frame.payload as Payload, this, ref);
        if (result instanceof Promise) return result.then((settled) => this.applyResult(frame.ref, settled));
        this.applyResult(frame.ref, result);
      });
    };
    if (this.queue.run(task)) return;
    // The handler is behind by maxQueuedPushes: refuse rather than let the backlog grow.
    this.services.metrics.pushesRefused.inc();
    this.sendReply(frame.ref, { kind: "reply", status: "error", response: { reason: "too many pending pushes" } });
  }

  leave(ref: string | null): void {
    this.queue.run(() => {
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
    this.services.broadcast(this.topic, event, payload, null);
  }

  broadcastFrom(event: string, payload: Payload): void {
    this.services.broadcast(this.topic, event, payload, this);
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
    if (this.subscribed) this.services.unsubscribe(this);
    if (wasJoined) metrics.channelsJoined.dec();
    // A closing socket drops all of its presences at once (SocketConnection.onClose).
    if (reason !== "closed") this.services.presence.untrack(this.socketId, this.topic);
    try {
      this.handler.terminate?.(reason, this);
    } catch (err) {
      log.error({ err, topic: this.topic }, "terminate threw");
    }
    log.debug({ topic: this.topic, socket: this.socketId, reason }, "channel closed");
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
    const frame = { joinRef: this.joinRef, ref, topic: this.topic, event: EVENTS.reply };
    if (this.connection.send({ ...frame, payload: { status: reply.status, response: reply.response } })) return true;
    this.connection.send({ ...frame, payload: { status: "error", response: { reason: "reply could not be encoded" } } });
    return false;
  }

  /** Runs handler code; a throw crashes this channel only (phx_error), never the socket. */
  private guard(task: () => unknown): Promise<void> | void {
    const crash = (err: unknown) => {
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
    };
    try {
      const result = task();
      if (result instanceof Promise) return result.then(() => undefined, crash);
    } catch (err) {
      crash(err);
    }
  }
}
