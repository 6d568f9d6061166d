import type { PresenceEntry } from "../../crdt/index.js";

export type Meta = Record<string, unknown>;
/** Phoenix's presence shape. Built on null-prototype objects, so keys like "__proto__" are plain keys. */
export type PresenceMap = Record<string, { metas: Meta[] }>;
export interface PresenceDiff {
  joins: PresenceMap;
  leaves: PresenceMap;
}

export function emptyPresenceMap(): PresenceMap {
  return Object.create(null) as PresenceMap;
}

function appendMeta(map: PresenceMap, key: string, meta: Meta): void {
  const presence = map[key];
  if (presence) presence.metas.push(meta);
  else map[key] = { metas: [meta] };
}

/** Groups entries as `{key: {metas: [...]}}`, keys in first-seen order, metas in entry order. */
export function presenceMapOf(entries: Iterable<Pick<PresenceEntry, "key" | "meta">>): PresenceMap {
  const map = emptyPresenceMap();
  for (const entry of entries) appendMeta(map, entry.key, entry.meta as Meta);
  return map;
}

/** Splits joins and leaves by topic, keeping their order, into one diff per topic. */
export function diffsByTopic(joins: readonly PresenceEntry[], leaves: readonly PresenceEntry[]): Map<string, PresenceDiff> {
  const diffs = new Map<string, PresenceDiff>();
  const diffOf = (topic: string): PresenceDiff => {
    let diff = diffs.get(topic);
    if (!diff) diffs.set(topic, (diff = { joins: emptyPresenceMap(), leaves: emptyPresenceMap() }));
    return diff;
  };
  for (const entry of joins) appendMeta(diffOf(entry.topic).joins, entry.key, entry.meta as Meta);
  for (const entry of leaves) appendMeta(diffOf(entry.topic).leaves, entry.key, entry.meta as Meta);
  return diffs;
}

function isEmpty(map: PresenceMap): boolean {
  for (const _ in map) return false;
  return true;
}

/** Removes the meta with `ref` under `key`; true when it was there. */
function takeRef(map: PresenceMap, key: string, ref: unknown): boolean {
  const presence = map[key];
  if (!presence || ref === undefined) return false;
  const index = presence.metas.findIndex((meta) => meta.phx_ref === ref);
  if (index < 0) return false;
  presence.metas.splice(index, 1);
  if (presence.metas.length === 0) delete map[key];
  return true;
}

/**
 * Folds several diffs of one topic into one. A leave of a ref joined inside the window
 * cancels that join, and a join of a ref left inside the window cancels that leave
 * (a replica going down and up again). After this, no ref is in both joins and leaves,
 * which matters because Phoenix clients apply joins before leaves.
 */
export function foldDiff(into: PresenceDiff, next: PresenceDiff): void {
  for (const key in next.leaves) {
    for (const meta of next.leaves[key].metas) {
      if (!takeRef(into.joins, key, meta.phx_ref)) appendMeta(into.leaves, key, meta);
    }
  }
  for (const key in next.joins) {
    for (const meta of next.joins[key].metas) {
      if (!takeRef(into.leaves, key, meta.phx_ref)) appendMeta(into.joins, key, meta);
    }
  }
}

/** Whether folding `next` into `into` would cancel a join or a leave `into` holds. */
function wouldCancel(into: PresenceDiff, next: PresenceDiff): boolean {
  const holds = (map: PresenceMap, key: string, ref: unknown) => map[key]?.metas.some((meta) => meta.phx_ref === ref) === true;
  for (const key in next.leaves) for (const meta of next.leaves[key].metas) if (holds(into.joins, key, meta.phx_ref)) return true;
  for (const key in next.joins) for (const meta of next.joins[key].metas) if (holds(into.leaves, key, meta.phx_ref)) return true;
  return false;
}

export function isEmptyDiff(diff: PresenceDiff): boolean {
  return isEmpty(diff.joins) && isEmpty(diff.leaves);
}

/** How long a topic's next window lasts, given what is known of it (see DiffCoalescer). */
export type CoalesceWindow = (topic: string, changesInLastWindow: number) => number;

/** A fixed window, whatever the topic. */
export const fixedWindow =
  (ms: number): CoalesceWindow =>
  () =>
    ms;

/**
 * Delivers diffs per topic, either at once (window 0) or merged over a window that
 * starts with the first diff of the topic. Large rooms with churn then cost one
 * `presence_diff` per window instead of one per change. The window's length is asked per
 * topic when it opens, told how many changes the topic's previous window merged (0 when
 * that window closed long ago), so it can widen with a room's size and churn.
 */
export class DiffCoalescer {
  private readonly pending = new Map<string, { diff: PresenceDiff; changes: number; marked: boolean; timer: ReturnType<typeof setTimeout> }>();
  /** Changes merged by each topic's last window, while that window closed recently. */
  private readonly lastWindow = new Map<string, { changes: number; closedAt: number }>();

  constructor(
    private readonly window: CoalesceWindow,
    private readonly deliver: (topic: string, diff: PresenceDiff) => void,
    /** Called once per diff merged into a pending one (it did not go out on its own). */
    private readonly onMerged: () => void = () => {},
  ) {}

  push(topic: string, diff: PresenceDiff): void {
    const waiting = this.pending.get(topic);
    // A state was taken while this window was open: a change that would cancel one merged before
    // it goes into a new window, or a client holding that state would never see it undone.
    if (waiting?.marked && wouldCancel(waiting.diff, diff)) this.flush(topic);
    else if (waiting) {
      foldDiff(waiting.diff, diff);
      waiting.changes++;
      this.onMerged();
      // A full window goes out now: one frame is copied to every member in one go, so its size
      // is what a burst can hold up the thread (and the members' buffers) for.
      if (waiting.changes >= MAX_CHANGES_PER_DIFF) this.flush(topic);
      return;
    }
    this.open(topic, diff);
  }

  /**
   * A `presence_state` of `topic` is being taken now, and the subscribers it goes to will get the
   * pending diff after it: from here on, nothing merged before may be cancelled inside it.
   */
  mark(topic: string): void {
    const waiting = this.pending.get(topic);
    if (waiting) waiting.marked = true;
  }

  private open(topic: string, diff: PresenceDiff): void {
    const windowMs = this.window(topic, this.recentChanges(topic));
    if (windowMs <= 0) {
      this.deliver(topic, diff);
      return;
    }
    const copy: PresenceDiff = { joins: emptyPresenceMap(), leaves: emptyPresenceMap() };
    foldDiff(copy, diff);
    const timer = setTimeout(() => this.flush(topic), windowMs);
    timer.unref?.();
    this.pending.set(topic, { diff: copy, changes: 1, marked: false, timer });
  }

  /** The diff of `topic` still being merged: what its subscribers have not been sent yet. */
  peek(topic: string): PresenceDiff | undefined {
    return this.pending.get(topic)?.diff;
  }

  flush(topic: string): void {
    const waiting = this.pending.get(topic);
    if (!waiting) return;
    this.pending.delete(topic);
    clearTimeout(waiting.timer);
    this.noteClosed(topic, waiting.changes);
    if (!isEmptyDiff(waiting.diff)) this.deliver(topic, waiting.diff);
  }

  flushAll(): void {
    for (const topic of [...this.pending.keys()]) this.flush(topic);
  }

  /** The last window's changes count while it closed less than a second ago; a calm topic starts over. */
  private recentChanges(topic: string): number {
    const last = this.lastWindow.get(topic);
    if (!last) return 0;
    if (Date.now() - last.closedAt > CHURN_MEMORY_MS) {
      this.lastWindow.delete(topic);
      return 0;
    }
    return last.changes;
  }

  private noteClosed(topic: string, changes: number): void {
    // Only busy topics are remembered, and each only until its next window: bounded by the topics.
    const now = Date.now();
    if (changes > 1) this.lastWindow.set(topic, { changes, closedAt: now });
    else this.lastWindow.delete(topic);
    if (this.lastWindow.size > CHURN_SWEEP_AT) {
      for (const [stale, last] of this.lastWindow) if (now - last.closedAt > CHURN_MEMORY_MS) this.lastWindow.delete(stale);
    }
  }
}

/** Changes one presence_diff merges at most; a window that fills goes out early. */
export const MAX_CHANGES_PER_DIFF = 64;

/** A topic whose last window closed longer ago than this is calm again. */
const CHURN_MEMORY_MS = 1000;
/** Past this many remembered topics, those calm again are forgotten. */
const CHURN_SWEEP_AT = 1024;
