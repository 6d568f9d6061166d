import { CodecError, SOCKET_TOPIC } from "./codec/frame.js";
import { Channel, type ChannelHost } from "./channel.js";
import {
  AUTH_TOKEN_PREFIX,
  CHANNEL_EVENTS,
  DEFAULT_TIMEOUT,
  DEFAULT_VSN,
  SOCKET_STATES,
  WS_CLOSE_NORMAL,
  defaultReconnectAfterMs,
  defaultRejoinAfterMs,
} from "./constants.js";
import { Connection, type ConnectionSocket } from "./connection.js";
import { type FallbackSocket, type SessionStore, connectWithFallback, defaultSessionStore } from "./fallback.js";
import { withFullJitter } from "./jitter.js";
import { LongPoll } from "./longpoll.js";
import type {
  Decode,
  Encode,
  Logger,
  Message,
  OutgoingMessage,
  Params,
  SocketErrorCallback,
  Transport,
  TransportCloseEvent,
  TransportConstructor,
  TransportHandlers,
} from "./message.js";
import { type LifecycleSocket, followPageLifecycle, pageIsHidden } from "./page-lifecycle.js";
import { type ClientSerializer, Serializer } from "./serializer.js";
import { Timer } from "./timer.js";
import { encodeToken } from "./token.js";
import { appendParams, closure } from "./url.js";

export type ConnectionState = "connecting" | "open" | "closing" | "closed";
export type BinaryType = "arraybuffer" | "blob";

export interface SocketOptions {
  /** Sent as query params at every connect; a function is called again for each reconnect. */
  params?: Params | (() => Params);
  /** Sent as the WebSocket subprotocol `base64url.bearer.phx.<token>` instead of in the URL. */
  authToken?: string | (() => string);
  /** Default timeout of joins, pushes and leaves (ms). Default 10000. */
  timeout?: number;
  /** Heartbeat period, and how long a heartbeat may wait for its reply (ms). Default 30000. */
  heartbeatIntervalMs?: number;
  /** Delay before reconnect try `tries` (from 1). Default 10, 50, 100, 150, 200, 250, 500, 1000, 2000, then 5000 ms. */
  reconnectAfterMs?: (tries: number) => number;
  /** Delay before a channel's rejoin try `tries`. Default 1000, 2000, 5000, then 10000 ms. */
  rejoinAfterMs?: (tries: number) => number;
  /**
   * Full jitter on the reconnect and rejoin backoff: each wait is random between 0 and what
   * `reconnectAfterMs` / `rejoinAfterMs` give. `true` uses Math.random; a function is the random
   * source (values in [0, 1)). Off by default.
   */
  jitter?: boolean | (() => number);
  logger?: Logger;
  /** Log to the console when no `logger` is given. */
  debug?: boolean;
  /** The transport class: the global WebSocket by default, else `LongPoll` (pass `ws`'s WebSocket in Node < 22). */
  transport?: TransportConstructor;
  /** The wire format, e.g. `msgpackSerializer` from `cinder/client/msgpack`. Default: Phoenix V2 JSON. */
  serializer?: ClientSerializer;
  /** Custom encoder/decoder in phoenix.js's callback style; they override `serializer`'s. */
  encode?: Encode;
  decode?: Decode;
  binaryType?: BinaryType;
  vsn?: string;
  /**
   * Fall back to `LongPoll` when the WebSocket errors before it ever opened, or has not opened
   * and answered a ping within this many ms. Remembered for the tab in `sessionStorage`. Off by default.
   */
  longPollFallbackMs?: number;
  /** How long one LongPoll request may take (ms). Default 20000. */
  longpollerTimeout?: number;
  /** Where the LongPoll fallback is remembered: `sessionStorage` by default, or any object with its getItem/setItem. */
  sessionStorage?: SessionStore;
}

interface StateChangeCallbacks {
  open: [string, () => void][];
  close: [string, (event: TransportCloseEvent) => void][];
  error: [string, SocketErrorCallback][];
  message: [string, (message: Message) => void][];
}

/**
 * One WebSocket to the server, shared by every channel. It reconnects with backoff after an
 * unclean close, sends a heartbeat every `heartbeatIntervalMs` and drops a connection whose
 * heartbeat goes unanswered as long, buffers pushes made while disconnected, and routes each
 * incoming message to the channels of its topic. Same API and behaviour as phoenix.js's Socket.
 */
export class Socket implements ChannelHost, ConnectionSocket, FallbackSocket, LifecycleSocket {
  stateChangeCallbacks: StateChangeCallbacks = { open: [], close: [], error: [], message: [] };
  channels: Channel[] = [];
  sendBuffer: (() => void)[] = [];
  ref = 0;
  timeout: number;
  transport: TransportConstructor;
  establishedConnections = 0;
  encode!: Encode;
  decode!: Decode;
  serializerName!: string;
  closeWasClean = true;
  binaryType: BinaryType;
  connection: Connection | null = null;
  /** Bumped by every connect and disconnect, so callbacks of an older attempt can tell they are stale. */
  connectClock = 1;
  visibilityConnection: Connection | null = null;
  heartbeatIntervalMs: number;
  rejoinAfterMs: (tries: number) => number;
  reconnectAfterMs: (tries: number) => number;
  logger: Logger | null;
  params: () => Params;
  endPoint: string;
  vsn: string;
  heartbeatTimer: ReturnType<typeof setTimeout> | undefined;
  heartbeatTimeoutTimer: ReturnType<typeof setTimeout> | undefined;
  pendingHeartbeatRef: string | null = null;
  reconnectTimer: Timer;
  /** The channel of each message a `Push` hands to `push()`, so an outdated one can be told and dropped. */
  pushedBy = new WeakMap<OutgoingMessage, Channel>();
  authToken: (() => string) | undefined;
  longPollFallbackMs: number | undefined;
  longpollerTimeout: number;
  sessionStore: SessionStore | null;
  fallbackTimer: ReturnType<typeof setTimeout> | undefined;
  fallbackRef: string | undefined;
  /** The primary transport once opened and answered a ping: a later fallback is then not remembered. */
  primaryPassedHealthCheck: boolean | undefined;
  /** The wire format the options asked for; LongPoll connections use Phoenix's JSON one instead. */
  private chosenCodec: { encode: Encode; decode: Decode; name: ClientSerializer["name"] };

  constructor(endPoint: string, opts: SocketOptions = {}) {
    this.timeout = opts.timeout || DEFAULT_TIMEOUT;
    this.transport = opts.transport || (globalThis as { WebSocket?: TransportConstructor }).WebSocket || LongPoll;
    const serializer = opts.serializer || Serializer;
    this.chosenCodec = { encode: opts.encode || serializer.encode, decode: opts.decode || serializer.decode, name: serializer.name };
    this.selectCodec();
    this.longPollFallbackMs = opts.longPollFallbackMs;
    this.longpollerTimeout = opts.longpollerTimeout || 20000;
    this.sessionStore = opts.sessionStorage || defaultSessionStore();
    this.binaryType = opts.binaryType || "arraybuffer";
    this.heartbeatIntervalMs = opts.heartbeatIntervalMs || 30000;
    this.rejoinAfterMs = opts.rejoinAfterMs || defaultRejoinAfterMs;
    this.reconnectAfterMs = opts.reconnectAfterMs || defaultReconnectAfterMs;
    if (opts.jitter) {
      const random = opts.jitter === true ? Math.random : opts.jitter;
      this.rejoinAfterMs = withFullJitter(this.rejoinAfterMs, random);
      this.reconnectAfterMs = withFullJitter(this.reconnectAfterMs, random);
    }
    this.logger = opts.logger || (opts.debug ? (kind, msg, data) => console.log(`${kind}: ${msg}`, data) : null);
    this.params = closure(opts.params || {});
    this.endPoint = `${endPoint}/websocket`;
    this.vsn = opts.vsn || DEFAULT_VSN;
    this.authToken = opts.authToken ? closure(opts.authToken) : undefined;
    this.reconnectTimer = new Timer(() => {
      // A hidden page does not reconnect; it does when it becomes visible again.
      if (this.pageHidden) {
        this.log("transport", "Not reconnecting as page is hidden!");
        this.teardown();
        return;
      }
      this.teardownAndReconnect(() => this.connect());
    }, this.reconnectAfterMs);
    followPageLifecycle(this);
  }

  /** The current transport instance (a WebSocket), if any. */
  get conn(): Transport | null {
    return this.connection && this.connection.transport;
  }

  get pageHidden(): boolean {
    return pageIsHidden();
  }

  /** A page that becomes visible after an unclean close reconnects at once instead of waiting out the backoff. */
  handleVisibilityChange(): void {
    if (this.pageHidden) {
      this.visibilityConnection = null;
      return;
    }
    const connection = this.connection;
    if (connection && connection === this.visibilityConnection && connection.isConnecting()) return;
    if (!this.isConnected() && !this.closeWasClean) {
      this.reconnectTimer.reset();
      this.teardownAndReconnect(() => {
        this.connect();
        this.visibilityConnection = this.connection;
      });
    }
  }

  /** Phoenix's JSON over LongPoll (its server speaks nothing else), else what the options chose. */
  private selectCodec(): void {
    const codec = this.transport === LongPoll ? Serializer : this.chosenCodec;
    this.encode = codec.encode;
    this.decode = codec.decode;
    this.serializerName = codec.name;
  }

  /** Switches to another transport class; the next `connect()` uses it. */
  replaceTransport(newTransport: TransportConstructor): number {
    const connectClock = ++this.connectClock;
    this.closeWasClean = true;
    clearTimeout(this.fallbackTimer);
    this.reconnectTimer.reset();
    this.transport = newTransport;
    this.selectCodec();
    const connection = this.connection;
    if (connection) {
      const wasOpen = connection.isOpen();
      this.connection = null;
      connection.ended = true;
      connection.close();
      this.clearHeartbeats();
      if (wasOpen) this.triggerChanError("connection_closed", connection);
    }
    return connectClock;
  }

  protocol(): string {
    return location.protocol.match(/^https/) ? "wss" : "ws";
  }

  /** The URL connected to: the endpoint with params, `vsn` and (for msgpack) `serializer`; relative URLs resolve against the page. */
  endPointURL(): string {
    const extra: Params = { vsn: this.vsn };
    if (this.serializerName !== "json") extra.serializer = this.serializerName;
    const uri = appendParams(appendParams(this.endPoint, this.params()), extra);
    if (uri.charAt(0) !== "/") return uri;
    if (uri.charAt(1) === "/") return `${this.protocol()}:${uri}`;
    return `${this.protocol()}://${location.host}${uri}`;
  }

  /** Closes the connection for good (no reconnect); `callback` runs once it is closed. */
  disconnect(callback?: () => void, code?: number, reason?: string): void {
    this.connectClock++;
    this.closeWasClean = true;
    clearTimeout(this.fallbackTimer);
    this.reconnectTimer.reset();
    if (this.connection) this.connection.ended = true;
    this.teardown(callback, code, reason);
  }

  connect(params?: Params | (() => Params)): void {
    if (params) {
      console.log("passing params to connect is deprecated. Instead pass :params to the Socket constructor");
      this.params = closure(params);
    }
    if (this.connection && !this.connection.ended) return;
    if (this.longPollFallbackMs && this.transport !== LongPoll) connectWithFallback(this, LongPoll, this.longPollFallbackMs);
    else this.transportConnect();
  }

  log(kind: string, msg: string, data?: unknown): void {
    if (this.logger) this.logger(kind, msg, data);
  }

  hasLogger(): boolean {
    return this.logger !== null;
  }

  onOpen(callback: () => void): string {
    return this.addCallback("open", callback);
  }

  onClose(callback: (event: TransportCloseEvent) => void): string {
    return this.addCallback("close", callback);
  }

  onError(callback: SocketErrorCallback): string {
    return this.addCallback("error", callback);
  }

  onMessage(callback: (message: Message) => void): string {
    return this.addCallback("message", callback);
  }

  private addCallback<K extends keyof StateChangeCallbacks>(kind: K, callback: StateChangeCallbacks[K][number][1]): string {
    const ref = this.makeRef();
    (this.stateChangeCallbacks[kind] as [string, unknown][]).push([ref, callback]);
    return ref;
  }

  /** Sends a heartbeat and calls `callback` with the round trip in ms; false when not connected. */
  ping(callback: (latency: number) => void): boolean {
    if (!this.isConnected()) return false;
    const ref = this.makeRef();
    const start = Date.now();
    this.connection!.pings.set(ref, () => callback(Date.now() - start));
    this.push({ topic: SOCKET_TOPIC, event: "heartbeat", payload: {}, ref });
    return true;
  }

  transportConnect(): void {
    const previous = this.connection;
    this.connectClock++;
    this.closeWasClean = false;
    clearTimeout(this.reconnectTimer.timer);
    const protocols = this.authToken ? ["phoenix", AUTH_TOKEN_PREFIX + encodeToken(this.authToken())] : undefined;
    const transport = new this.transport(this.endPointURL(), protocols);
    (transport as Transport & TransportHandlers).binaryType = this.binaryType;
    // Only LongPoll reads it, as in phoenix.js; on a WebSocket it is an unused property.
    (transport as { timeout?: number }).timeout = this.longpollerTimeout;
    this.connection = new Connection(this, transport);
    if (previous && previous.isOpen()) this.triggerChanError("connection_closed", previous);
  }

  clearHeartbeats(): void {
    clearTimeout(this.heartbeatTimer);
    clearTimeout(this.heartbeatTimeoutTimer);
    this.pendingHeartbeatRef = null;
  }

  onConnOpen(): void {
    // endPointURL() calls a params function again: only worth it when the line is logged.
    if (this.logger) this.log("transport", `connected to ${this.endPointURL()}`);
    this.closeWasClean = false;
    this.establishedConnections++;
    this.flushSendBuffer();
    this.reconnectTimer.reset();
    this.resetHeartbeat();
    for (const [, callback] of this.stateChangeCallbacks.open) callback();
  }

  /** An unanswered heartbeat means a dead connection the OS has not noticed yet: drop it and reconnect. */
  heartbeatTimeout(): void {
    if (!this.pendingHeartbeatRef) return;
    const connection = this.connection;
    this.pendingHeartbeatRef = null;
    this.log("transport", "heartbeat timeout. Attempting to re-establish connection");
    this.closeWasClean = false;
    if (connection) connection.close(WS_CLOSE_NORMAL, "heartbeat timeout");
    if (!this.stillUses(connection)) return;
    this.triggerChanError("heartbeat_timeout");
    if (!this.stillUses(connection)) return;
    this.teardownAndReconnect(() => this.reconnectTimer.scheduleTimeout());
  }

  resetHeartbeat(): void {
    this.clearHeartbeats();
    if (this.conn && (this.conn as { skipHeartbeat?: boolean }).skipHeartbeat) return;
    this.heartbeatTimer = setTimeout(() => this.sendHeartbeat(), this.heartbeatIntervalMs);
  }

  teardownAndReconnect(reconnect: () => void): void {
    const connection = this.connection;
    const connectClock = this.connectClock;
    this.teardown(() => {
      if (connectClock !== this.connectClock || (connection && connection.ended)) return;
      reconnect();
    });
  }

  stillUses(connection: Connection | null): boolean {
    return this.connection === connection && !(connection && connection.ended);
  }

  /** Closes the current connection once its send buffer drained (bounded wait), then calls `callback`. */
  teardown(callback?: () => void, code?: number, reason?: string): void {
    const connection = this.connection;
    if (!connection) {
      callback && callback();
      return;
    }
    this.clearHeartbeats();
    this.waitFor(() => !connection.transport.bufferedAmount || !connection.isOpen(), () => {
      if (!connection.closing) {
        const wasOpened = !connection.isConnecting();
        connection.close(code, reason);
        if (wasOpened) this.triggerChanError("connection_closed", connection);
      }
      this.waitFor(() => connection.transport.readyState === SOCKET_STATES.closed, () => {
        if (this.connection === connection) this.connection = null;
        callback && callback();
      });
    });
  }

  /** Polls `done` at 150, 300, 450, 600 ms, then gives up waiting and goes on. */
  private waitFor(done: () => boolean, callback: () => void, tries = 1): void {
    if (tries === 5 || done()) {
      callback();
      return;
    }
    setTimeout(() => this.waitFor(done, callback, tries + 1), 150 * tries);
  }

  onConnClose(event: TransportCloseEvent): void {
    const connection = this.connection;
    this.log("transport", "close", event);
    this.clearHeartbeats();
    const closedByUs = !!(connection && connection.closing);
    this.triggerChanError("connection_closed", connection);
    if (this.stillUses(connection) && !closedByUs && !this.closeWasClean) {
      // A normal close (1000) from the other side means "do not come back", as in phoenix.js;
      // the connection is over, so a later connect() makes a new one.
      if (!event || event.code !== WS_CLOSE_NORMAL) this.reconnectTimer.scheduleTimeout();
      else if (connection) connection.ended = true;
    }
    for (const [, callback] of this.stateChangeCallbacks.close) callback(event);
  }

  onConnError(error: unknown): void {
    const connection = this.connection;
    this.log("transport", "error", error);
    const transportBefore = this.transport;
    const establishedBefore = this.establishedConnections;
    for (const [, callback] of this.stateChangeCallbacks.error) callback(error, transportBefore, establishedBefore);
    this.triggerChanError("connection_error", connection);
  }

  /**
   * Errors the channels joined over `connection` so they rejoin. A connection that is already
   * gone errors each channel once, and only channels whose current join it carried.
   */
  triggerChanError(reason: "connection_closed" | "connection_error" | "heartbeat_timeout", connection = this.connection): void {
    let erroredBefore = false;
    if (connection && !connection.isOpen()) {
      erroredBefore = connection.channelsErrored;
      connection.channelsErrored = true;
    }
    const joins = this.channels.map((channel) => [channel, channel.joinRef()] as const);
    for (const [channel, joinRef] of joins) {
      if (channel.joinRef() !== joinRef) continue;
      if (connection && (erroredBefore || !connection.isCurrent()) && !connection.carried(channel, joinRef)) continue;
      if (!(channel.isErrored() || channel.isLeaving() || channel.isClosed())) {
        channel.trigger(CHANNEL_EVENTS.error, { source: "transport", reason });
      }
    }
  }

  connectionState(): ConnectionState {
    // Indexed by readyState (SOCKET_STATES); no transport, or any other state, is "closed".
    const states: ConnectionState[] = ["connecting", "open", "closing"];
    return (this.conn && states[this.conn.readyState]) || "closed";
  }

  isConnected(): boolean {
    return this.connectionState() === "open";
  }

  remove(channel: Channel): void {
    this.off(channel.stateChangeRefs);
    this.channels = this.channels.filter((c) => c !== channel);
  }

  /** Removes `onOpen`/`onClose`/`onError`/`onMessage` callbacks by the refs they returned. */
  off(refs: string[]): void {
    const callbacks = this.stateChangeCallbacks as unknown as Record<string, [string, unknown][]>;
    for (const kind in callbacks) callbacks[kind] = callbacks[kind].filter(([ref]) => !refs.includes(ref));
  }

  channel(topic: string, chanParams: Params | (() => Params) = {}): Channel {
    const channel = new Channel(topic, chanParams, this);
    this.channels.push(channel);
    return channel;
  }

  /**
   * Sends a message now, or once connected; a buffered channel message is dropped if its join is
   * outdated by then. Takes the message alone, as phoenix.js's does: the channel a `Push` sends
   * for is found in `pushedBy`.
   */
  push(data: OutgoingMessage): void {
    const channel = this.pushedBy.get(data);
    // Log lines are built only when someone reads them: this runs for every message.
    if (this.logger) this.log("push", `${data.topic} ${data.event} (${data.join_ref}, ${data.ref})`, data.payload);
    if (this.isConnected()) {
      this.send(data, channel);
    } else {
      this.sendBuffer.push(() => {
        if (!this.isOutdated(data, channel)) this.send(data, channel);
      });
    }
  }

  send(data: OutgoingMessage, channel?: Channel): void {
    const connection = this.connection!;
    if (channel && data.event === CHANNEL_EVENTS.join) connection.joins.set(channel, data.join_ref ?? null);
    this.encode(data, (result) => {
      // An encoder that answers late must not send over a connection that was replaced or closed since.
      if (!connection.isCurrent() || connection.transport.readyState > SOCKET_STATES.open) return;
      if (data.event !== CHANNEL_EVENTS.leave && this.isOutdated(data, channel)) return;
      connection.transport.send(result);
    });
  }

  isOutdated(data: OutgoingMessage, channel?: Channel): boolean {
    return !!channel && (data.join_ref !== channel.joinRef() || channel.isClosed());
  }

  makeRef(): string {
    const next = this.ref + 1;
    this.ref = next === this.ref ? 0 : next;
    return this.ref.toString();
  }

  sendHeartbeat(): void {
    if (this.pendingHeartbeatRef && !this.isConnected()) return;
    this.pendingHeartbeatRef = this.makeRef();
    this.push({ topic: SOCKET_TOPIC, event: "heartbeat", payload: {}, ref: this.pendingHeartbeatRef });
    this.heartbeatTimeoutTimer = setTimeout(() => this.heartbeatTimeout(), this.heartbeatIntervalMs);
  }

  flushSendBuffer(): void {
    if (this.isConnected() && this.sendBuffer.length > 0) {
      for (const callback of this.sendBuffer) callback();
      this.sendBuffer = [];
    }
  }

  onConnMessage(rawMessage: { data: unknown }): void {
    const connection = this.connection!;
    const wasOpen = connection.isOpen();
    try {
      this.decode(rawMessage.data as string | ArrayBuffer, (msg) => this.dispatch(msg, connection, wasOpen));
    } catch (error) {
      // A frame we cannot read is the server's bug; dropping it keeps the connection usable.
      if (!(error instanceof CodecError)) throw error;
      this.log("receive", "undecodable frame dropped", error);
    }
  }

  /** Hands a decoded message to the heartbeat, the channels of its topic, `onMessage` callbacks and pings. */
  private dispatch(msg: Message, connection: Connection, wasOpen: boolean): void {
    if (connection !== this.connection || (wasOpen && !connection.isOpen())) return;
    const { topic, event, payload, ref, join_ref } = msg;
    if (ref && ref === this.pendingHeartbeatRef) {
      this.clearHeartbeats();
      this.heartbeatTimer = setTimeout(() => this.sendHeartbeat(), this.heartbeatIntervalMs);
    }
    if (this.logger) {
      this.log("receive", `${(payload as { status?: string } | null)?.status || ""} ${topic} ${event} ${(ref && `(${ref})`) || ""}`, payload);
    }
    for (const channel of this.channels) {
      if (channel.isMember(topic, event, payload, join_ref)) channel.trigger(event, payload, ref, join_ref);
    }
    for (const [, callback] of this.stateChangeCallbacks.message) callback(msg);
    const ping = ref && connection.pings.get(ref);
    if (ping) {
      connection.pings.delete(ref);
      ping();
    }
  }

  /** A second channel instance joining a topic makes the socket leave the first, as the server would. */
  leaveOpenTopic(topic: string): void {
    const duplicate = this.channels.find((c) => c.topic === topic && (c.isJoined() || c.isJoining()));
    if (duplicate) {
      this.log("transport", `leaving duplicate topic "${topic}"`);
      duplicate.leave();
    }
  }
}
