import type { Payload, Reply } from "./results.js";
import type { PresenceMode } from "../pubsub/presence-mode.js";
import type { PresenceCount } from "../presence/presence-counts.js";
import type { StoredBroadcast } from "../history/store-error.js";

export type { PresenceMode, PresenceCount, StoredBroadcast };

/** An opaque handle to answer a push later: `socket.reply(ref, ok(...))`. */
export interface PushRef {
  readonly topic: string;
  readonly joinRef: string;
  readonly ref: string | null;
}

/** Presence metadata of one tracked presence (Cinder adds `phx_ref`). */
export type PresenceMeta = Record<string, unknown>;

/**
 * What a channel handler sees of one (socket, topic) membership — Phoenix's channel `socket`.
 */
export interface ChannelSocket<A extends Record<string, unknown> = Record<string, unknown>> {
  readonly topic: string;
  /** The ref of the join that created this membership. */
  readonly joinRef: string;
  /** The connection's id (unique per node and start); the owner of its presences. */
  readonly socketId: string;
  /** The user the socket's token names (`sub`), with built-in auth; else undefined. */
  readonly userId: string | undefined;
  /** Per-channel state, seeded from the assigns the connect hook returned. */
  readonly assigns: A;
  /** Push an event to this client only. */
  push(event: string, payload: Payload): void;
  /**
   * Broadcast to every subscriber of this topic, this client included. Fire-and-forget: on a
   * history topic the message goes to the topic's authority to be numbered and kept, and is lost
   * (counted, logged) when it cannot be reached; use `broadcastStored` to know.
   */
  broadcast(event: string, payload: Payload): void;
  /** Broadcast to every subscriber of this topic but this client (fire-and-forget, as `broadcast`). */
  broadcastFrom(event: string, payload: Payload): void;
  /**
   * `broadcast` on a topic whose channel keeps history, confirmed: resolves once the message is
   * kept and numbered (it is then delivered to every subscriber, or recovered by their rejoin),
   * with its offset and epoch; rejects with a StoreError (`reason`: unavailable, overloaded,
   * failed, timeout) when that could not be confirmed within historyStoreTimeoutMs — answer the
   * push with an error then, and the client may retry. Rejects with a TypeError on a topic
   * without history (nothing to store it in: use `broadcast`) or for a byte payload.
   */
  broadcastStored(event: string, payload: Record<string, unknown>): Promise<StoredBroadcast>;
  /** `broadcastStored` to every subscriber but this client. */
  broadcastFromStored(event: string, payload: Record<string, unknown>): Promise<StoredBroadcast>;
  /** Answer a push later (after `noReply()`), with the ref `handleIn` received. */
  reply(ref: PushRef, reply: Reply): void;
  /** Track this socket's presence in this topic under `key`; untracked when it leaves or disconnects. */
  track(key: string, meta: PresenceMeta): { ok: true; meta: PresenceMeta } | { ok: false; reason: string };
  /** Replace the meta of a tracked presence (one diff: the new meta joins, the old leaves). */
  updatePresence(key: string, meta: PresenceMeta | ((old: PresenceMeta) => PresenceMeta)): { ok: true; meta: PresenceMeta } | { ok: false; reason: string };
  untrack(key?: string): void;
  /** Everyone present in this topic, as Phoenix's `Presence.list` (what `presence_state` carries). */
  listPresence(): Record<string, { metas: PresenceMeta[] }>;
  /**
   * Sends this client the topic's `presence_state`, then every later change as `presence_diff`:
   * what `push("presence_state", listPresence())` does, built for big rooms. Members asking in
   * the same window share one encoding; the state goes out once the client has read what it was
   * sent before; a client that falls behind on the diffs gets a fresh state instead of the
   * backlog (docs/presence.md). Nothing for a client following presence by count.
   */
  pushPresenceState(): void;
  /**
   * How this client follows the topic's presence: `"count"` when it joined with
   * `{presence: "count"}` (it gets `presence_count` instead of `presence_state`/`presence_diff`,
   * and pushes of those two events to it are dropped), else `"list"`.
   */
  readonly presenceMode: PresenceMode;
  /** How many keys and metas the topic has, cluster-wide. O(1), whatever the topic's size. */
  presenceCount(): PresenceCount;
}
