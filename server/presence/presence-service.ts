import { makeIncarnation, makeReplicaId, type Dot, type PresenceChanges, type ReplicaId } from "../../crdt/index.js";
import { DiffCoalescer, diffsByTopic, presenceMapOf, type Meta, type PresenceDiff, type PresenceMap } from "./diff.js";
import { phxRefOf } from "./phx-ref.js";
import { Tracker } from "./tracker.js";
import type { GossipTransport } from "./transport.js";

export type { Meta, PresenceDiff, PresenceMap } from "./diff.js";

export interface PresenceServiceOptions {
  nodeName: string;
  /**
   * Defaults to a fresh one (start time + randomness), so a restart is a new replica.
   * If given, it must differ on every start and sort after the previous ones (string
   * order): peers use that order to tell a restart from a late message of a past life.
   */
  incarnation?: string;
  /** Topic-hashed shards, each an independent replica; must match cluster-wide. Default 1. */
  shards?: number;
  broadcastPeriod?: number;
  maxSilentPeriods?: number;
  downPeriod?: number;
  permdownPeriod?: number;
  clockSamplePeriods?: number;
  /** Send local changes to peers within this many ms instead of at the next tick (0 = tick only). */
  eagerFlushMs?: number;
  /** When > 0, diffs of one topic are merged over this window before `onDiff` fires. Default 0. */
  diffCoalesceMs?: number;
  /** Gossip links per shard. Default: no peers (single node). */
  transport?: (shard: number, replica: ReplicaId) => GossipTransport;
  /** Malformed gossip and similar non-fatal problems. */
  onError?: (error: Error) => void;
}

export type TrackResult = { ok: true; meta: Meta } | { ok: false; reason: "already_tracked" };
export type UpdateMetaResult = { ok: true; meta: Meta } | { ok: false; reason: "no_presence" };
export type DiffListener = (topic: string, diff: PresenceDiff) => void;

/**
 * Presence as the channel layer sees it: track/untrack/update per (owner, topic, key),
 * `list` for `presence_state`, and `onDiff` for `presence_diff`, both in Phoenix's
 * shape. Owners are local (typically socket ids); every meta carries a `phx_ref`.
 */
export class PresenceService {
  readonly replica: ReplicaId;
  private readonly trackers: Tracker[];
  private readonly listeners = new Set<DiffListener>();
  private readonly coalescer: DiffCoalescer;

  constructor(options: PresenceServiceOptions) {
    const shardCount = options.shards ?? 1;
    if (!Number.isInteger(shardCount) || shardCount < 1) throw new Error("presence: shards must be a positive integer");
    this.replica = makeReplicaId(options.nodeName, options.incarnation ?? makeIncarnation(Date.now(), Math.random()));
    this.coalescer = new DiffCoalescer(options.diffCoalesceMs ?? 0, (topic, diff) => {
      for (const listener of [...this.listeners]) listener(topic, diff);
    });
    this.trackers = Array.from(
      { length: shardCount },
      (_, shard) =>
        new Tracker({
          replica: this.replica,
          transport: options.transport?.(shard, this.replica),
          broadcastPeriod: options.broadcastPeriod,
          maxSilentPeriods: options.maxSilentPeriods,
          downPeriod: options.downPeriod,
          permdownPeriod: options.permdownPeriod,
          clockSamplePeriods: options.clockSamplePeriods,
          eagerFlushMs: options.eagerFlushMs,
          onChanges: (changes) => this.report(changes),
          onError: options.onError,
        }),
    );
  }

  track(owner: string, topic: string, key: string, meta: Meta): TrackResult {
    const result = this.shardOf(topic).track(topic, key, owner, (dot) => withRef(meta, dot));
    return result.ok ? { ok: true, meta: result.joined.meta as Meta } : result;
  }

  /** New meta (or a function of the old one); it gets a new `phx_ref` and `phx_ref_prev`. Reports one diff. */
  update(owner: string, topic: string, key: string, meta: Meta | ((old: Meta) => Meta)): UpdateMetaResult {
    const result = this.shardOf(topic).update(topic, key, owner, (dot, previous) => {
      const old = previous.meta as Meta;
      const next = typeof meta === "function" ? meta(old) : meta;
      return withRef(next, dot, old.phx_ref);
    });
    return result.ok ? { ok: true, meta: result.joined.meta as Meta } : result;
  }

  /** With a key: that presence. Without: every key of `owner` in `topic` (the socket left the channel). */
  untrack(owner: string, topic: string, key?: string): void {
    const tracker = this.shardOf(topic);
    if (key === undefined) tracker.untrackOwner(owner, topic);
    else tracker.untrack(topic, key, owner);
  }

  /** Every presence of `owner` in every topic (the socket closed). */
  untrackOwner(owner: string): void {
    for (const tracker of this.trackers) tracker.untrackOwner(owner);
  }

  /** The `presence_state` payload for `topic`, in the same order on every node. */
  list(topic: string): PresenceMap {
    return presenceMapOf(this.shardOf(topic).list(topic));
  }

  onDiff(listener: DiffListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  start(): void {
    for (const tracker of this.trackers) tracker.start();
  }

  /** Graceful: tell peers to drop our presences now instead of after `downPeriod`. */
  stop(options: { graceful?: boolean } = {}): void {
    for (const tracker of this.trackers) tracker.stop(options);
    this.coalescer.flushAll();
  }

  /** A peer replica is known to be gone (crashed worker, expired node): its presences leave now. */
  replicaGone(replica: ReplicaId): void {
    for (const tracker of this.trackers) tracker.replicaGone(replica);
  }

  /** A peer replica stopped (liveness key expired): its presences leave until it is heard again. */
  markDown(replica: ReplicaId): void {
    for (const tracker of this.trackers) tracker.markDown(replica);
  }

  /** A peer replica marked down is alive again. */
  markUp(replica: ReplicaId): void {
    for (const tracker of this.trackers) tracker.markUp(replica);
  }

  /** The shard owning `topic`. Exposed for tests and tools. */
  shardOf(topic: string): Tracker {
    return this.trackers[shardIndex(topic, this.trackers.length)];
  }

  private report(changes: PresenceChanges): void {
    for (const [topic, diff] of diffsByTopic(changes.joins, changes.leaves)) this.coalescer.push(topic, diff);
  }
}

/** FNV-1a over UTF-16 code units: stable across nodes and Node versions. */
export function shardIndex(topic: string, shards: number): number {
  if (shards === 1) return 0;
  let hash = 0x811c9dc5;
  for (let i = 0; i < topic.length; i++) {
    hash ^= topic.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % shards;
}

function withRef(meta: Meta, dot: Dot, previousRef?: unknown): Meta {
  const result: Meta = { ...meta, phx_ref: phxRefOf(dot) };
  if (previousRef !== undefined) result.phx_ref_prev = previousRef;
  else delete result.phx_ref_prev;
  // Stored metas are shared by every list and diff; freezing keeps them from being edited in place.
  return Object.freeze(result);
}
