import type { PresenceChanges } from "../../crdt/index.js";

/** What `presence_count` carries: distinct keys (users) and metas (their sockets, tabs) in a topic, cluster-wide. */
export interface PresenceCount {
  keys: number;
  metas: number;
}

interface TopicCount {
  metas: number;
  /** Metas per key: a key counts while it has at least one. */
  perKey: Map<string, number>;
}

/**
 * The number of keys and metas of every topic, kept up to date from the replica's visible
 * changes (the same joins and leaves the diffs are made of), so a count costs O(1) to read and
 * O(1) per change, never a walk of a big topic's list. It holds one small number per present
 * key, so it is bounded by the presence state itself.
 */
export class PresenceCounts {
  private readonly topics = new Map<string, TopicCount>();

  apply(changes: PresenceChanges, onChanged: (topic: string) => void): void {
    for (const entry of changes.joins) this.add(entry.topic, entry.key, 1) && onChanged(entry.topic);
    for (const entry of changes.leaves) this.add(entry.topic, entry.key, -1) && onChanged(entry.topic);
  }

  of(topic: string): PresenceCount {
    const count = this.topics.get(topic);
    return count ? { keys: count.perKey.size, metas: count.metas } : { keys: 0, metas: 0 };
  }

  private add(topic: string, key: string, delta: 1 | -1): boolean {
    let count = this.topics.get(topic);
    if (!count) {
      if (delta < 0) return false;
      this.topics.set(topic, (count = { metas: 0, perKey: new Map() }));
    }
    const metas = (count.perKey.get(key) ?? 0) + delta;
    if (metas < 0) return false;
    if (metas === 0) count.perKey.delete(key);
    else count.perKey.set(key, metas);
    count.metas += delta;
    if (count.metas === 0) this.topics.delete(topic);
    return true;
  }
}
