import { CausalContext, type ReadonlyCausalContext } from "./causal-context.js";
import { compareDots, makeDot, type Dot } from "./dot.js";
import type { PresenceChanges, PresenceEntry, PresenceMeta, PresenceSnapshot } from "./entry.js";
import { OwnerIndex } from "./owner-index.js";
import type { ReplicaId } from "./replica-id.js";
import { TopicIndex } from "./topic-index.js";

/** A meta, or a function building it from the dot the entry will get (e.g. to derive a ref). */
export type MetaInput = PresenceMeta | ((dot: Dot) => PresenceMeta);
export type UpdateInput = PresenceMeta | ((dot: Dot, previous: PresenceEntry) => PresenceMeta);

export type JoinResult = { ok: true; joined: PresenceEntry } | { ok: false; reason: "already_tracked" };
export type UpdateResult =
  | { ok: true; joined: PresenceEntry; left: PresenceEntry }
  | { ok: false; reason: "no_presence" };

/**
 * The delta-state observed-remove set of presences, as held by one replica.
 *
 * - Local operations (join/leave/update/leaveOwner) only ever touch entries created by
 *   this replica: owners are local sockets. Each one creates a fresh dot, also for a
 *   leave, so that our clock moves and a peer that missed the delta notices the gap.
 * - Every local operation is also recorded into the pending delta (entries added, and
 *   every dot created or removed), which `takeDelta()` hands out once per heartbeat.
 * - `merge` is the dot-store join. A merged remote delta is NOT folded into our pending
 *   delta: Cinder gossips each delta directly to every replica, and anything lost is
 *   repaired by a state transfer, so relaying would only multiply traffic.
 * - Replicas can be down (entries kept but hidden) or permanently gone (entries
 *   deleted, and their dots ignored forever; incarnations are never reused).
 */
export class PresenceSet {
  readonly localReplica: ReplicaId;
  private readonly context = new CausalContext();
  private readonly byReplica = new Map<ReplicaId, Map<number, PresenceEntry>>();
  private readonly topics = new TopicIndex();
  private readonly owners = new OwnerIndex();
  private readonly down = new Set<ReplicaId>();
  private readonly gone = new Set<ReplicaId>();
  private deltaEntries = new Map<number, PresenceEntry>();
  private deltaContext = new CausalContext();
  private visibleCount = 0;
  private readonly isHidden = (replica: ReplicaId): boolean => this.down.has(replica);

  constructor(localReplica: ReplicaId) {
    this.localReplica = localReplica;
  }

  /** A replica at `localReplica` that starts from `snapshot` (handy for tests and tools). */
  static fromSnapshot(localReplica: ReplicaId, snapshot: PresenceSnapshot): PresenceSet {
    const set = new PresenceSet(localReplica);
    set.merge(snapshot);
    return set;
  }

  // ---- local operations -------------------------------------------------------------

  join(topic: string, key: string, owner: string, meta: MetaInput): JoinResult {
    if (this.owners.get(owner, topic, key)) return { ok: false, reason: "already_tracked" };
    const dot = this.nextDot();
    const entry: PresenceEntry = { topic, key, owner, meta: typeof meta === "function" ? meta(dot) : meta, dot };
    this.insert(entry);
    this.deltaEntries.set(dot.counter, entry);
    return { ok: true, joined: entry };
  }

  /** Leave and join in one step: the entry gets a new dot (and so a new identity). */
  update(topic: string, key: string, owner: string, meta: UpdateInput): UpdateResult {
    const previous = this.owners.get(owner, topic, key);
    if (!previous) return { ok: false, reason: "no_presence" };
    this.removeLocal(previous);
    const dot = this.nextDot();
    const entry: PresenceEntry = {
      topic,
      key,
      owner,
      meta: typeof meta === "function" ? meta(dot, previous) : meta,
      dot,
    };
    this.insert(entry);
    this.deltaEntries.set(dot.counter, entry);
    return { ok: true, joined: entry, left: previous };
  }

  leave(topic: string, key: string, owner: string): PresenceChanges {
    const entry = this.owners.get(owner, topic, key);
    return this.leaveEntries(entry ? [entry] : []);
  }

  /** Every entry of `owner` (in `topic` only, when given): a socket closing or leaving a channel. */
  leaveOwner(owner: string, topic?: string): PresenceChanges {
    return this.leaveEntries(this.owners.entriesOf(owner, topic));
  }

  /** The local entry tracked for (topic, owner, key), if any. */
  getLocal(topic: string, key: string, owner: string): PresenceEntry | undefined {
    return this.owners.get(owner, topic, key);
  }

  // ---- deltas, states, merge ----------------------------------------------------------

  hasPendingDelta(): boolean {
    return !this.deltaContext.isEmpty();
  }

  /** The delta accumulated since the last call, or null when nothing happened. */
  takeDelta(): PresenceSnapshot | null {
    if (this.deltaContext.isEmpty()) return null;
    const delta: PresenceSnapshot = {
      kind: "delta",
      entries: [...this.deltaEntries.values()],
      context: this.deltaContext,
    };
    this.deltaEntries = new Map();
    this.deltaContext = new CausalContext();
    return delta;
  }

  /**
   * The full state (hidden entries included), restricted to `replicasKnownByRequester`
   * when given, with the context projected the same way. Restricting both sides keeps
   * the merge exact: the requester keeps whatever it holds for replicas left out.
   */
  extract(replicasKnownByRequester?: Iterable<ReplicaId>): PresenceSnapshot {
    const known = replicasKnownByRequester ? new Set(replicasKnownByRequester) : undefined;
    const keep = (replica: ReplicaId): boolean => !this.gone.has(replica) && (!known || known.has(replica));
    const entries: PresenceEntry[] = [];
    for (const [replica, byCounter] of this.byReplica) {
      if (keep(replica)) entries.push(...byCounter.values());
    }
    return { kind: "state", entries, context: this.context.project(keep) };
  }

  /**
   * Dot-store join of a remote delta or state into this replica. Keeps local entries
   * whose dot the remote holds or has not observed; adds remote entries whose dot we
   * have not observed; unions the contexts. Returns the visible entries added/removed.
   * A stale state cannot resurrect anything (its dots are in our context already) nor
   * remove anything newer (its context does not cover newer dots).
   */
  merge(remote: PresenceSnapshot): PresenceChanges {
    const joins: PresenceEntry[] = [];
    const leaves: PresenceEntry[] = [];
    const remoteDots = new Map<ReplicaId, Set<number>>();
    for (const entry of remote.entries) {
      let counters = remoteDots.get(entry.dot.replica);
      if (!counters) remoteDots.set(entry.dot.replica, (counters = new Set()));
      counters.add(entry.dot.counter);
    }

    for (const replica of [...remote.context.replicas()]) {
      if (this.gone.has(replica)) continue;
      for (const entry of this.observedRemovals(replica, remote.context, remoteDots.get(replica))) {
        this.remove(entry);
        if (!this.down.has(replica)) leaves.push(entry);
      }
    }

    for (const entry of remote.entries) {
      const replica = entry.dot.replica;
      if (this.gone.has(replica) || this.context.has(entry.dot)) continue;
      this.insert(entry);
      if (!this.down.has(replica)) joins.push(entry);
    }

    this.context.merge(this.gone.size === 0 ? remote.context : remote.context.project((r) => !this.gone.has(r)));
    return { joins, leaves };
  }

  // ---- replica lifecycle ----------------------------------------------------------------

  /** Hides the entries of `replica`; returns them as leaves. */
  replicaDown(replica: ReplicaId): PresenceChanges {
    if (replica === this.localReplica || this.down.has(replica) || this.gone.has(replica)) return { joins: [], leaves: [] };
    this.down.add(replica);
    const leaves = this.entriesOf(replica);
    this.visibleCount -= leaves.length;
    return { joins: [], leaves };
  }

  /** Shows the entries of `replica` again; returns them as joins. */
  replicaUp(replica: ReplicaId): PresenceChanges {
    if (!this.down.delete(replica)) return { joins: [], leaves: [] };
    const joins = this.entriesOf(replica);
    this.visibleCount += joins.length;
    return { joins, leaves: [] };
  }

  /** Deletes the entries of `replica` for good and ignores its dots from now on. */
  replicaPermdown(replica: ReplicaId): PresenceChanges {
    if (replica === this.localReplica || this.gone.has(replica)) return { joins: [], leaves: [] };
    const entries = this.entriesOf(replica);
    // Remove while still marked down, so hidden entries are not counted as visible twice.
    for (const entry of entries) this.remove(entry);
    const wasDown = this.down.delete(replica);
    this.byReplica.delete(replica);
    this.context.forget(replica);
    this.gone.add(replica);
    return { joins: [], leaves: wasDown ? [] : entries };
  }

  /**
   * Lets a purged replica back in. Only for a replica that was purged because it went
   * silent and has now been heard from directly (a long netsplit): it is alive, so its
   * dots are legitimate again, and a state transfer from it will bring its entries.
   */
  replicaRevive(replica: ReplicaId): void {
    this.gone.delete(replica);
  }

  isDown(replica: ReplicaId): boolean {
    return this.down.has(replica);
  }

  isGone(replica: ReplicaId): boolean {
    return this.gone.has(replica);
  }

  /**
   * Stops remembering that `replica` is gone, once the caller knows no message or state carrying
   * its dots can still arrive (every peer has purged it too). Its dots would be accepted again.
   */
  forgetGone(replica: ReplicaId): void {
    this.gone.delete(replica);
  }

  /** How many gone replicas are remembered. */
  get goneCount(): number {
    return this.gone.size;
  }

  // ---- reading ---------------------------------------------------------------------------

  /** Visible entries of `topic`, ordered by dot (replica id, then counter). */
  list(topic: string): PresenceEntry[] {
    return [...this.topics.list(topic, this.isHidden)];
  }

  /** Same as `list`, without building an array. */
  iterate(topic: string): Iterable<PresenceEntry> {
    return this.topics.list(topic, this.isHidden);
  }

  /** Every visible entry, ordered by dot. */
  listAll(): PresenceEntry[] {
    const result: PresenceEntry[] = [];
    for (const [replica, byCounter] of this.byReplica) {
      if (!this.down.has(replica)) result.push(...byCounter.values());
    }
    return result.sort((a, b) => compareDots(a.dot, b.dot));
  }

  topicNames(): string[] {
    return [...this.topics.topicNames()];
  }

  /** Number of visible entries. */
  get size(): number {
    return this.visibleCount;
  }

  /** The contiguous part of our causal context. */
  clock(): Map<ReplicaId, number> {
    return this.context.vectorClock();
  }

  /** Every replica we hold entries or context for. */
  knownReplicas(): ReplicaId[] {
    const ids = new Set<ReplicaId>(this.context.replicas());
    for (const replica of this.byReplica.keys()) ids.add(replica);
    return [...ids];
  }

  causalContext(): ReadonlyCausalContext {
    return this.context;
  }

  // ---- internals -----------------------------------------------------------------------

  private nextDot(): Dot {
    const dot = makeDot(this.localReplica, this.context.clockOf(this.localReplica) + 1);
    this.context.add(dot);
    this.deltaContext.add(dot);
    return dot;
  }

  private leaveEntries(entries: PresenceEntry[]): PresenceChanges {
    if (entries.length === 0) return { joins: [], leaves: [] };
    for (const entry of entries) this.removeLocal(entry);
    // One fresh dot per operation moves our clock, so a missed leave shows up as a gap.
    this.nextDot();
    return { joins: [], leaves: entries };
  }

  private removeLocal(entry: PresenceEntry): void {
    this.remove(entry);
    this.deltaEntries.delete(entry.dot.counter);
    this.deltaContext.add(entry.dot);
  }

  /** Local entries of `replica` whose dot `remote` has observed but does not hold. */
  private observedRemovals(
    replica: ReplicaId,
    remote: ReadonlyCausalContext,
    remoteCounters: ReadonlySet<number> | undefined,
  ): PresenceEntry[] {
    const local = this.byReplica.get(replica);
    if (!local) return [];
    const removed: PresenceEntry[] = [];
    // Walk whichever side is smaller: a delta covers few dots, a full state many.
    if (remote.coveredCount(replica) < local.size) {
      for (const counter of remote.coveredCounters(replica)) {
        const entry = local.get(counter);
        if (entry && !remoteCounters?.has(counter)) removed.push(entry);
      }
    } else {
      for (const [counter, entry] of local) {
        if (remote.hasDot(replica, counter) && !remoteCounters?.has(counter)) removed.push(entry);
      }
    }
    return removed;
  }

  private insert(entry: PresenceEntry): void {
    const replica = entry.dot.replica;
    let byCounter = this.byReplica.get(replica);
    if (!byCounter) this.byReplica.set(replica, (byCounter = new Map()));
    byCounter.set(entry.dot.counter, entry);
    this.topics.add(entry);
    if (replica === this.localReplica) this.owners.set(entry);
    if (!this.down.has(replica)) this.visibleCount++;
  }

  private remove(entry: PresenceEntry): void {
    const replica = entry.dot.replica;
    const byCounter = this.byReplica.get(replica);
    if (!byCounter?.delete(entry.dot.counter)) return;
    if (byCounter.size === 0) this.byReplica.delete(replica);
    this.topics.delete(entry);
    if (replica === this.localReplica) this.owners.delete(entry);
    if (!this.down.has(replica)) this.visibleCount--;
  }

  private entriesOf(replica: ReplicaId): PresenceEntry[] {
    return [...(this.byReplica.get(replica)?.values() ?? [])];
  }
}
