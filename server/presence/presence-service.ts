import { makeIncarnation, makeReplicaId, type Dot, type PresenceChanges, type ReplicaId } from "../../crdt/index.js";
import { DiffCoalescer, diffsByTopic, presenceMapOf, type Meta, type PresenceDiff, type PresenceMap } from "./diff.js";
import { phxRefOf } from "./phx-ref.js";
import type { FirstSyncReport, FirstSyncView } from "./first-sync.js";
import { PresenceCounts, type PresenceCount } from "./presence-counts.js";
import { Tracker } from "./tracker.js";
import type { ThreadEvent } from "../fabric/fabric.js";
import type { GossipLane } from "./gossip-lane.js";
import type { TrackerObserver } from "./tracker-observer.js";

export type { Meta, PresenceDiff, PresenceMap } from "./diff.js";
export type { PresenceCount } from "./presence-counts.js";
export type { FirstSyncReport, FirstSyncView } from "./first-sync.js";

export interface PresenceServiceOptions {
  nodeName: string;
  /**
   * Defaults to a fresh one (start time + randomness), so a restart is a new replica.
   * If given, it must differ on every start and sort after the previous ones (string
   * order): peers use that order to tell a restart from a late message of a past life.
   */
  incarnation?: string;
  broadcastPeriod?: number;
  maxSilentPeriods?: number;
  downPeriod?: number;
  permdownPeriod?: number;
  clockSamplePeriods?: number;
  /** The longest a starting replica waits for the other live replicas' presences before its lists are served (see FirstSync), ms. */
  firstSyncTimeout?: number;
  /** The first sync ended: complete, or timed out (with the replicas whose state had not come). */
  onFirstSync?: (report: FirstSyncReport) => void;
  /** Send local changes to peers within this many ms instead of at the next tick (0 = tick only). */
  eagerFlushMs?: number;
  /** When > 0, diffs of one topic are merged over this window before `onDiff` fires. Default 0. */
  diffCoalesceMs?: number;
  /**
   * The widest a busy topic's window gets (default: diffCoalesceMs, no widening). A topic whose
   * previous window merged more than one change gets `diffCoalesceMs` plus 1 ms per
   * MEMBERS_PER_WINDOW_MS metas, up to this.
   */
  diffCoalesceMaxMs?: number;
  /** Called once per diff merged into a pending one of its topic. */
  onDiffMerged?: () => void;
  /** The fabric's gossip lane. Default: no peers (single node). */
  gossip?: GossipLane;
  /** Where each topic's diffs go first, as they leave the coalescing window (thread-presence.ts: to the thread's subscribers); `onDiff` listeners hear them after. */
  diffs?: DiffReceiver;
  /** Malformed gossip and similar non-fatal problems. */
  onError?: (error: Error) => void;
  /** The tracker's gossip and figures, for metrics. */
  observer?: TrackerObserver;
}

export type TrackResult = { ok: true; meta: Meta } | { ok: false; reason: "already_tracked" };
export type UpdateMetaResult = { ok: true; meta: Meta } | { ok: false; reason: "no_presence" };
export type DiffListener = (topic: string, diff: PresenceDiff) => void;

/** What a topic's diffs are delivered to (ThreadPresence). */
export interface DiffReceiver {
  deliverDiff(topic: string, diff: PresenceDiff): void;
}

/**
 * Presence as the channel layer sees it: track/untrack/update per (owner, topic, key),
 * `list` for `presence_state`, and `onDiff` for `presence_diff`, both in Phoenix's
 * shape. Owners are local (typically socket ids); every meta carries a `phx_ref`.
 */
export class PresenceService {
  readonly replica: ReplicaId;
  /** The tracker: this replica of the cluster's presence state. Exposed for tests and tools. */
  readonly tracker: Tracker;
  private readonly listeners = new Set<DiffListener>();
  private readonly coalescer: DiffCoalescer;
  private readonly counts = new PresenceCounts();
  private readonly countListeners = new Set<(topic: string) => void>();
  private readonly changeListeners = new Set<(changes: PresenceChanges) => void>();
  private readonly baseWindowMs: number;
  private readonly widestWindowMs: number;

  constructor(options: PresenceServiceOptions) {
    this.replica = makeReplicaId(options.nodeName, options.incarnation ?? makeIncarnation(Date.now(), Math.random()));
    this.baseWindowMs = options.diffCoalesceMs ?? 0;
    this.widestWindowMs = Math.max(this.baseWindowMs, options.diffCoalesceMaxMs ?? this.baseWindowMs);
    // A calm topic keeps the short window (a lone join shows fast); a busy one widens with its
    // size, since every frame costs one delivery per member.
    const window = (topic: string, changesInLastWindow: number): number => (changesInLastWindow <= 1 ? this.baseWindowMs : this.windowOf(topic));
    this.coalescer = new DiffCoalescer(
      window,
      (topic, diff) => {
        options.diffs?.deliverDiff(topic, diff);
        for (const listener of [...this.listeners]) listener(topic, diff);
      },
      options.onDiffMerged,
    );
    this.tracker = new Tracker({
      replica: this.replica,
      gossip: options.gossip,
      broadcastPeriod: options.broadcastPeriod,
      maxSilentPeriods: options.maxSilentPeriods,
      downPeriod: options.downPeriod,
      permdownPeriod: options.permdownPeriod,
      clockSamplePeriods: options.clockSamplePeriods,
      firstSyncTimeout: options.firstSyncTimeout,
      eagerFlushMs: options.eagerFlushMs,
      onChanges: (changes) => this.report(changes),
      onError: options.onError,
      onFirstSync: options.onFirstSync,
      observer: options.observer,
    });
  }

  track(owner: string, topic: string, key: string, meta: Meta): TrackResult {
    const result = this.tracker.track(topic, key, owner, (dot) => withRef(meta, dot));
    return result.ok ? { ok: true, meta: result.joined.meta as Meta } : result;
  }

  /** New meta (or a function of the old one); it gets a new `phx_ref` and `phx_ref_prev`. Reports one diff. */
  update(owner: string, topic: string, key: string, meta: Meta | ((old: Meta) => Meta)): UpdateMetaResult {
    const result = this.tracker.update(topic, key, owner, (dot, previous) => {
      const old = previous.meta as Meta;
      const next = typeof meta === "function" ? meta(old) : meta;
      return withRef(next, dot, old.phx_ref);
    });
    return result.ok ? { ok: true, meta: result.joined.meta as Meta } : result;
  }

  /** With a key: that presence. Without: every key of `owner` in `topic` (the socket left the channel). */
  untrack(owner: string, topic: string, key?: string): void {
    if (key === undefined) this.tracker.untrackOwner(owner, topic);
    else this.tracker.untrack(topic, key, owner);
  }

  /** Every presence of `owner` in every topic (the socket closed). */
  untrackOwner(owner: string): void {
    this.tracker.untrackOwner(owner);
  }

  /** The `presence_state` payload for `topic`, in the same order on every node. */
  list(topic: string): PresenceMap {
    return presenceMapOf(this.tracker.list(topic));
  }

  /** A busy topic's diff window: diffCoalesceMs plus 1 ms per MEMBERS_PER_WINDOW_MS metas, up to diffCoalesceMaxMs. */
  windowOf(topic: string): number {
    if (this.baseWindowMs <= 0) return 0;
    return Math.min(this.widestWindowMs, Math.round(this.baseWindowMs + this.counts.of(topic).metas / MEMBERS_PER_WINDOW_MS));
  }

  /**
   * The `presence_state` payload for a client that will get the topic's diffs from now on: the
   * list, with the topic's pending diff marked so that no change in the list is cancelled out
   * of the diffs that follow it (see DiffCoalescer.mark). The pending changes then reach this
   * client a second time, which presence clients take as no change.
   */
  snapshot(topic: string): PresenceMap {
    this.coalescer.mark(topic);
    return this.list(topic);
  }

  /**
   * Whether this replica holds the other live replicas' presences yet: a replica that just
   * started holds only its own until their states came (or firstSyncTimeout passed).
   */
  get firstSync(): FirstSyncView {
    return this.tracker.firstSync;
  }

  /** How many keys and metas `topic` has, cluster-wide, as this replica sees it. O(1). */
  count(topic: string): PresenceCount {
    return this.counts.of(topic);
  }

  /** Called (synchronously, possibly many times per turn) whenever a topic's count changes. */
  onCountChange(listener: (topic: string) => void): void {
    this.countListeners.add(listener);
  }

  /**
   * Every change the tracker reports (local and from peers, each meta with its dot), before
   * diffs are coalesced: webhooks pick the metas this replica holds from them.
   */
  onChanges(listener: (changes: PresenceChanges) => void): void {
    this.changeListeners.add(listener);
  }

  onDiff(listener: DiffListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  start(): void {
    this.tracker.start();
  }

  /** Graceful: tell peers to drop our presences now instead of after `downPeriod`. Pending diffs are delivered. */
  stop(options: { graceful?: boolean } = {}): void {
    this.tracker.stop(options);
    this.coalescer.flushAll();
  }

  /** Delivers the diffs still being coalesced now (a drain, before it closes each batch of sockets). */
  flushDiffs(): void {
    this.coalescer.flushAll();
  }

  /** What the fabric learned about other replicas outside gossip. */
  threadEvent(event: ThreadEvent): void {
    if (event.kind === "listed") this.tracker.threadsListed();
    else if (event.kind === "gone") this.replicaGone(event.replica);
    else if (event.kind === "down") this.markDown(event.replica);
    else this.markUp(event.replica);
  }

  /** A peer replica is known to be gone (crashed worker, node left): its presences leave now. */
  replicaGone(replica: ReplicaId): void {
    this.tracker.replicaGone(replica);
  }

  /** A peer replica stopped (liveness key expired): its presences leave until it is heard again. */
  markDown(replica: ReplicaId): void {
    this.tracker.markDown(replica);
  }

  /** A peer replica is alive: marked down before, or never heard from (then asked for its state). */
  markUp(replica: ReplicaId): void {
    this.tracker.markUp(replica);
  }

  private readonly countChanged = (topic: string): void => {
    for (const listener of this.countListeners) listener(topic);
  };

  private report(changes: PresenceChanges): void {
    this.counts.apply(changes, this.countChanged);
    for (const listener of this.changeListeners) listener(changes);
    for (const [topic, diff] of diffsByTopic(changes.joins, changes.leaves)) this.coalescer.push(topic, diff);
  }
}

/** A busy topic's diff window widens by 1 ms per this many metas (10,000 members: 100 ms). */
export const MEMBERS_PER_WINDOW_MS = 100;

function withRef(meta: Meta, dot: Dot, previousRef?: unknown): Meta {
  const result: Meta = { ...meta, phx_ref: phxRefOf(dot) };
  if (previousRef !== undefined) result.phx_ref_prev = previousRef;
  else delete result.phx_ref_prev;
  // Stored metas are shared by every list and diff; freezing keeps them from being edited in place.
  return Object.freeze(result);
}
