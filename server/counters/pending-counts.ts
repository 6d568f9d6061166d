import type { CounterDelta } from "./counter-store.js";
import type { CounterWindow } from "./counter-window.js";

interface Pending {
  window: CounterWindow;
  counts: Map<number, number>;
  actors: Map<number, Set<string>>;
}

/**
 * Increments coalesced between two flushes: one entry per (counter, bucket) however many
 * increments it took, and each actor id once per bucket. Bounded by `maxEntries` (counters plus
 * actor ids held); `add` returns false when an increment does not fit, and the owner flushes
 * early or, if it cannot (Redis unreachable), drops it and counts the loss.
 */
export class PendingCounts {
  private pending = new Map<string, Pending>();
  private entries = 0;

  constructor(private readonly maxEntries: number) {}

  /** Counters plus actor ids held. */
  get size(): number {
    return this.entries;
  }

  get full(): boolean {
    return this.entries >= this.maxEntries;
  }

  incr(key: string, window: CounterWindow, bucket: number, by: number): boolean {
    const pending = this.entryOf(key, window);
    if (!pending) return false;
    pending.counts.set(bucket, (pending.counts.get(bucket) ?? 0) + by);
    return true;
  }

  addActor(key: string, window: CounterWindow, bucket: number, actor: string): boolean {
    const pending = this.entryOf(key, window);
    if (!pending) return false;
    let ids = pending.actors.get(bucket);
    if (!ids) pending.actors.set(bucket, (ids = new Set()));
    if (ids.has(actor)) return true;
    if (this.full) return false;
    ids.add(actor);
    this.entries++;
    return true;
  }

  /** Folds deltas from another thread in; returns how many increments and actor ids did not fit. */
  merge(deltas: readonly CounterDelta[]): number {
    let lost = 0;
    for (const delta of deltas) {
      for (let i = 0; i < delta.counts.length; i += 2) if (!this.incr(delta.key, delta.window, delta.counts[i], delta.counts[i + 1])) lost++;
      for (const [bucket, ids] of delta.actors) for (const id of ids) if (!this.addActor(delta.key, delta.window, bucket, id)) lost++;
    }
    return lost;
  }

  /** Everything held, emptied. */
  take(): CounterDelta[] {
    const deltas: CounterDelta[] = [];
    for (const [key, pending] of this.pending) {
      const counts: number[] = [];
      for (const [bucket, by] of pending.counts) if (by > 0) counts.push(bucket, by);
      const actors: CounterDelta["actors"] = [...pending.actors].map(([bucket, ids]) => [bucket, [...ids]]);
      deltas.push({ key, window: pending.window, counts, actors });
    }
    this.pending = new Map();
    this.entries = 0;
    return deltas;
  }

  private entryOf(key: string, window: CounterWindow): Pending | undefined {
    const existing = this.pending.get(key);
    if (existing) return existing;
    if (this.full) return undefined;
    const created: Pending = { window, counts: new Map(), actors: new Map() };
    this.pending.set(key, created);
    this.entries++;
    return created;
  }
}
