import { CHANNEL_EVENTS, CHANNEL_STATES, type ChannelState } from "./constants.js";
import type { Params, SocketErrorCallback } from "./message.js";
import { Push, type PushChannel, type PushSocket } from "./push.js";
import { HistoryPosition, type RecoverCallback } from "./recovery.js";
import { Timer } from "./timer.js";
import { closure } from "./url.js";

/** A callback bound to a channel event: the payload, the message's ref and its join ref. */
export type BindingCallback<P = unknown> = (payload: P, ref?: string | null, joinRef?: string | null) => void;

interface Binding {
  event: string;
  ref: number;
  callback: BindingCallback;
}

/** Why a channel errored when the cause is the connection rather than the server. */
export interface TransportErrorPayload {
  source: "transport";
  reason: "connection_closed" | "connection_error" | "heartbeat_timeout";
}

/**
 * The socket a Channel lives on, as far as the channel and its pushes use it (Socket is one): its
 * defaults, whether it is connected, its open and error events, and taking the channel off it.
 */
export interface ChannelHost extends PushSocket<Channel> {
  timeout: number;
  rejoinAfterMs: (tries: number) => number;
  isConnected(): boolean;
  onOpen(callback: () => void): string;
  onError(callback: SocketErrorCallback): string;
  log(kind: string, msg: string, data?: unknown): void;
  /** Leaves an older channel of the same topic that is still joined, as the server would. */
  leaveOpenTopic(topic: string): void;
  remove(channel: Channel): void;
}

/**
 * One topic joined over the socket. A channel is created `closed`, joins once, and from then
 * on keeps itself joined: on an error it rejoins with `rejoinAfterMs` backoff while the socket
 * is connected, and at once when the socket reconnects. Pushes made before the join succeeds
 * wait in a buffer, their timeout already running.
 *
 * On a topic that keeps history, the channel recovers by itself: it remembers the offset `_o`
 * of the last message it received and the epoch `_e` that offset belongs to, and every later
 * join (the rejoins after a reconnect included) sends them as `_since`, so the server replays
 * what was missed right after the reply. A `_since` in the app's own params (say, one saved
 * before a page reload) is sent as given until the channel has a position of its own. See
 * `onRecover`.
 */
export class Channel implements PushChannel {
  state: ChannelState = CHANNEL_STATES.closed;
  params: () => Params;
  bindings: Binding[] = [];
  bindingRef = 0;
  timeout: number;
  joinedOnce = false;
  joinPush: Push;
  pushBuffer: Push[] = [];
  stateChangeRefs: string[] = [];
  rejoinTimer: Timer;
  /** The last offset received and the topic's epoch, sent as `_since` by every join once known. */
  position = new HistoryPosition();
  recoverCallbacks: [number, RecoverCallback][] = [];

  constructor(
    public topic: string,
    params: Params | (() => Params) | undefined,
    public socket: ChannelHost,
  ) {
    this.params = closure(params || {});
    this.timeout = socket.timeout;
    this.joinPush = new Push(this, CHANNEL_EVENTS.join, () => this.position.joinParams(this.params()), this.timeout);
    this.rejoinTimer = new Timer(() => {
      if (socket.isConnected()) this.rejoin();
    }, socket.rejoinAfterMs);
    this.stateChangeRefs.push(socket.onError(() => this.rejoinTimer.reset()));
    this.stateChangeRefs.push(
      socket.onOpen(() => {
        this.rejoinTimer.reset();
        if (this.isErrored()) this.rejoin();
      }),
    );
    this.joinPush.receive("ok", (response) => {
      this.state = CHANNEL_STATES.joined;
      this.rejoinTimer.reset();
      for (const push of this.pushBuffer) push.send();
      this.pushBuffer = [];
      const recovery = this.position.joined(response);
      if (recovery) for (const [, callback] of this.recoverCallbacks) callback(recovery);
    });
    this.joinPush.receive("error", () => {
      this.state = CHANNEL_STATES.errored;
      if (socket.isConnected()) this.rejoinTimer.scheduleTimeout();
    });
    this.onClose(() => {
      this.rejoinTimer.reset();
      socket.log("channel", `close ${topic} ${this.joinRef()}`);
      this.state = CHANNEL_STATES.closed;
      socket.remove(this);
    });
    this.onError((reason) => {
      socket.log("channel", `error ${topic}`, reason);
      if (this.isJoining()) this.joinPush.reset();
      this.state = CHANNEL_STATES.errored;
      if (socket.isConnected()) this.rejoinTimer.scheduleTimeout();
    });
    this.joinPush.receive("timeout", () => {
      socket.log("channel", `timeout ${topic} (${this.joinRef()})`, this.joinPush.timeout);
      // The server may still have joined: tell it to leave that join before trying again.
      new Push(this, CHANNEL_EVENTS.leave, closure({}), this.timeout).send();
      this.state = CHANNEL_STATES.errored;
      this.joinPush.reset();
      if (socket.isConnected()) this.rejoinTimer.scheduleTimeout();
    });
    this.on<{ status: string; response: unknown }>(CHANNEL_EVENTS.reply, (payload, ref) => {
      this.trigger(this.replyEventName(ref), payload);
    });
  }

  /** Joins the topic. Call it once per channel; the channel rejoins by itself after that. */
  join(timeout: number = this.timeout): Push {
    if (this.joinedOnce) {
      throw new Error("tried to join multiple times. 'join' can only be called a single time per channel instance");
    }
    this.timeout = timeout;
    this.joinedOnce = true;
    this.rejoin();
    return this.joinPush;
  }

  /** Called when the channel closes: the server's `phx_close`, or `leave()`. */
  onClose(callback: BindingCallback): number {
    return this.on(CHANNEL_EVENTS.close, callback);
  }

  /** Called when the channel errors: a server crash (`phx_error`) or the connection going away. */
  onError(callback: (reason?: unknown) => void): number {
    return this.on(CHANNEL_EVENTS.error, (reason) => callback(reason));
  }

  /**
   * Calls `callback` with `{recovered, o, e}` on every join reply of a topic that keeps history
   * (the `_recovery` of the reply), before the join's `receive("ok")` callbacks and before any
   * replayed message is delivered. `recovered: true`: the messages missed since the last one
   * received follow, as their original events and in order, then live ones; nothing is lost or
   * repeated. `recovered: false`: nothing is replayed (the first join, a gap longer than the
   * server keeps, or a history that started again): load the state afresh; the channel goes on
   * from `o` in epoch `e`. Messages keep their offset under `_o` and its epoch under `_e` in the
   * payloads handed to `on` callbacks. Returns the ref `offRecover` takes.
   */
  onRecover(callback: RecoverCallback): number {
    const ref = this.bindingRef++;
    this.recoverCallbacks.push([ref, callback]);
    return ref;
  }

  /** Removes an `onRecover` callback by the ref it returned. */
  offRecover(ref: number): void {
    this.recoverCallbacks = this.recoverCallbacks.filter(([r]) => r !== ref);
  }

  /** Binds `callback` to `event`; returns the ref `off(event, ref)` takes. */
  on<P = unknown>(event: string, callback: BindingCallback<P>): number {
    const ref = this.bindingRef++;
    this.bindings.push({ event, ref, callback: callback as BindingCallback });
    return ref;
  }

  /** Unbinds one callback of `event` (by ref), or all of them. */
  off(event: string, ref?: number): void {
    this.bindings = this.bindings.filter((b) => !(b.event === event && (ref === undefined || ref === b.ref)));
  }

  canPush(): boolean {
    return this.socket.isConnected() && this.isJoined();
  }

  /** Sends `event` to the channel's handler; buffered until the channel is joined and connected. */
  push(event: string, payload?: object | ArrayBuffer | Uint8Array, timeout: number = this.timeout): Push {
    if (!this.joinedOnce) {
      throw new Error(`tried to push '${event}' to '${this.topic}' before joining. Use channel.join() before pushing events`);
    }
    const body = payload || {};
    const push = new Push(this, event, () => body, timeout);
    if (this.canPush()) {
      push.send();
    } else {
      push.startTimeout();
      this.pushBuffer.push(push);
    }
    return push;
  }

  /**
   * Leaves the topic: sends `phx_leave` and closes the channel. As in phoenix.js, a leaving
   * channel cannot push, so its leave push gets "ok" and `onClose` runs at once, without
   * waiting for the server's ack.
   */
  leave(timeout: number = this.timeout): Push {
    this.rejoinTimer.reset();
    this.joinPush.cancelTimeout();
    this.state = CHANNEL_STATES.leaving;
    const onClose = (): void => {
      this.socket.log("channel", `leave ${this.topic}`);
      this.trigger(CHANNEL_EVENTS.close, "leave");
    };
    const leavePush = new Push(this, CHANNEL_EVENTS.leave, closure({}), timeout);
    leavePush.receive("ok", onClose).receive("timeout", onClose);
    leavePush.send();
    if (!this.canPush()) leavePush.trigger("ok", {});
    return leavePush;
  }

  /** Overridable hook that sees every incoming payload; it must return the payload (changed or not). */
  onMessage(_event: string, payload: unknown, _ref?: string | null, _joinRef?: string | null): unknown {
    return payload;
  }

  /** Whether a message belongs to this channel; messages of an earlier join are dropped. */
  isMember(topic: string, event: string, payload: unknown, joinRef?: string | null): boolean {
    if (this.topic !== topic) return false;
    if (joinRef && joinRef !== this.joinRef()) {
      this.socket.log("channel", "dropping outdated message", { topic, event, payload, joinRef });
      return false;
    }
    return true;
  }

  /** The ref of the current join: every message of this join carries it. */
  joinRef(): string | null {
    return this.joinPush.ref;
  }

  rejoin(timeout: number = this.timeout): void {
    if (this.isLeaving()) return;
    this.socket.leaveOpenTopic(this.topic);
    this.state = CHANNEL_STATES.joining;
    this.joinPush.resend(timeout);
  }

  trigger(event: string, payload?: unknown, ref?: string | null, joinRef?: string | null): void {
    this.position.see(payload);
    const handled = this.onMessage(event, payload, ref, joinRef);
    if (payload && !handled) throw new Error("channel onMessage callbacks must return the payload, modified or unmodified");
    for (const bind of this.bindings.filter((b) => b.event === event)) {
      bind.callback(handled, ref, joinRef || this.joinRef());
    }
  }

  replyEventName(ref?: string | null): string {
    return `chan_reply_${ref}`;
  }

  isClosed(): boolean {
    return this.state === CHANNEL_STATES.closed;
  }

  isErrored(): boolean {
    return this.state === CHANNEL_STATES.errored;
  }

  isJoined(): boolean {
    return this.state === CHANNEL_STATES.joined;
  }

  isJoining(): boolean {
    return this.state === CHANNEL_STATES.joining;
  }

  isLeaving(): boolean {
    return this.state === CHANNEL_STATES.leaving;
  }
}
