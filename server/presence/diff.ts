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
export function presenceMapOf(entries: Iterable<PresenceEntry>): PresenceMap {
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

export function isEmptyDiff(diff: PresenceDiff): boolean {
  return isEmpty(diff.joins) && isEmpty(diff.leaves);
}

/**
 * Delivers diffs per topic, either at once (window 0) or merged over a window that
 * starts with the first diff of the topic. Large rooms with churn then cost one
 * `presence_diff` per window instead of one per change.
 */
export class DiffCoalescer {
  private readonly pending = new Map<string, { diff: PresenceDiff; timer: ReturnType<typeof setTimeout> }>();

  constructor(
    private readonly windowMs: number,
    private readonly deliver: (topic: string, diff: PresenceDiff) => void,
  ) {}

  push(topic: string, diff: PresenceDiff): void {
    if (this.windowMs <= 0) {
      this.deliver(topic, diff);
      return;
    }
    const waiting = this.pending.get(topic);
    if (waiting) {
      foldDiff(waiting.diff, diff);
      return;
    }
    const copy: PresenceDiff = { joins: emptyPresenceMap(), leaves: emptyPresenceMap() };
    foldDiff(copy, diff);
    const timer = setTimeout(() => this.flush(topic), this.windowMs);
    timer.unref?.();
    this.pending.set(topic, { diff: copy, timer });
  }

  flush(topic: string): void {
    const waiting = this.pending.get(topic);
    if (!waiting) return;
    this.pending.delete(topic);
    clearTimeout(waiting.timer);
    if (!isEmptyDiff(waiting.diff)) this.deliver(topic, waiting.diff);
  }

  flushAll(): void {
    for (const topic of [...this.pending.keys()]) this.flush(topic);
  }
}
