import type { ChannelSocket, PushRef } from "./channel-socket.js";

export type { PushRef };
import type { HistoryLimits } from "../history/history.js";
import type { PresenceFetch } from "../presence/presence-fetch.js";
import type { HandleInResult, JoinResult, Payload } from "./results.js";

/** Join params as the client sent them (`channel(topic, params)` in phoenix.js). */
export type JoinParams = Record<string, unknown>;


type MaybePromise<T> = T | Promise<T>;

/**
 * What an app writes for a family of topics (`server.channel("room:*", handler)`).
 * Each (socket, topic) pair gets its own ChannelSocket with its own assigns; calls for one
 * channel never overlap (an async handler finishes before the next message is handled).
 */
export interface ChannelHandler<A extends Record<string, unknown> = Record<string, unknown>> {
  /** Accept with `ok(response?)` or refuse with `error({reason})`. Throwing refuses with `{reason: "join crashed"}`. */
  join(topic: string, params: JoinParams, socket: ChannelSocket<A>): MaybePromise<JoinResult>;
  /** Runs right after the join reply went out: the place to push initial state or track presence. */
  afterJoin?(socket: ChannelSocket<A>): MaybePromise<void>;
  /** An event the client pushed. Return `ok()`/`error()`/`reply()`, `noReply()`, or `stop()`. */
  handleIn?(event: string, payload: Payload, socket: ChannelSocket<A>, ref: PushRef): MaybePromise<HandleInResult>;
  /**
   * Keep this family's broadcasts: each gets an offset, and a client that rejoins with the last
   * offset it saw gets what it missed (docs/history-and-recovery.md). At most `size` messages
   * per topic; a topic's history is dropped `ttlMs` after its last message.
   */
  history?: HistoryLimits;
  /**
   * Enriches this family's presences on their way out (Phoenix.Presence's `fetch/2`): gets the
   * topic and `{key: {metas}}`, returns them with fields beside `metas` (`{user: {name}}` from a
   * database, say). Called once per `presence_state` snapshot and per side of each coalesced
   * `presence_diff` (never per subscriber), in order per topic, within presenceFetchTimeoutMs;
   * when it throws, rejects or times out the raw entries go out (docs/presence.md, "Presence fetch").
   */
  presenceFetch?: PresenceFetch;
  /**
   * On a topic without history: the key of a broadcast (for instance the id of the thing it
   * updates). A subscriber whose unread bytes pass `behindBytes` then keeps only the latest
   * message per key, at most `conflationMaxKeys` keys, and gets them once it has read its backlog
   * (docs/operations.md#behind-not-gone). Without it, such a subscriber gets everything until
   * `maxBufferedBytes` closes it.
   */
  conflate?(event: string, payload: Payload): string;
  /** Broadcast events to pass through `handleOut` per subscriber instead of the fast path. */
  intercept?: readonly string[];
  /** An intercepted broadcast for this subscriber: call `socket.push` to deliver it, or do nothing to drop it. */
  handleOut?(event: string, payload: Payload, socket: ChannelSocket<A>): void;
  /** The channel ends: "leave", "closed" (socket gone), "duplicate_join", "stop:<reason>", "crash", "shutdown". */
  terminate?(reason: string, socket: ChannelSocket<A>): void;
}
