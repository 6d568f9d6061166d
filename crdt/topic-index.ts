import type { PresenceEntry } from "./entry.js";
import type { ReplicaId } from "./replica-id.js";

/**
 * Entries of one topic from one replica, keyed by counter. Counters almost always
 * arrive in ascending order, so insertion order is already dot order; we only note
 * when it is not and sort lazily on the next listing.
 */
class ReplicaBucket {
  entries = new Map<number, PresenceEntry>();
  private highest = 0;
  private inOrder = true;

  add(entry: PresenceEntry): void {
    const counter = entry.dot.counter;
    if (counter < this.highest) this.inOrder = false;
    else this.highest = counter;
    this.entries.set(counter, entry);
  }

  delete(counter: number): void {
    this.entries.delete(counter);
  }

  ordered(): Iterable<PresenceEntry> {
    if (!this.inOrder) {
      this.entries = new Map([...this.entries].sort((a, b) => a[0] - b[0]));
      this.inOrder = true;
    }
    return this.entries.values();
  }
}

/**
 * topic → replica → counter → entry. Listing a topic walks only that topic's entries,
 * in dot order (replica id, then counter), so the result does not depend on the order
 * merges happened in.
 */
export class TopicIndex {
  private readonly topics = new Map<string, Map<ReplicaId, ReplicaBucket>>();

  add(entry: PresenceEntry): void {
    let replicas = this.topics.get(entry.topic);
    if (!replicas) this.topics.set(entry.topic, (replicas = new Map()));
    let bucket = replicas.get(entry.dot.replica);
    if (!bucket) replicas.set(entry.dot.replica, (bucket = new ReplicaBucket()));
    bucket.add(entry);
  }

  delete(entry: PresenceEntry): void {
    const replicas = this.topics.get(entry.topic);
    const bucket = replicas?.get(entry.dot.replica);
    if (!replicas || !bucket) return;
    bucket.delete(entry.dot.counter);
    if (bucket.entries.size === 0) {
      replicas.delete(entry.dot.replica);
      if (replicas.size === 0) this.topics.delete(entry.topic);
    }
  }

  /** Entries of `topic` in dot order, skipping replicas for which `hidden` is true. */
  *list(topic: string, hidden: (replica: ReplicaId) => boolean): Generator<PresenceEntry> {
    const replicas = this.topics.get(topic);
    if (!replicas) return;
    const ids = [...replicas.keys()].sort();
    for (const id of ids) {
      if (hidden(id)) continue;
      yield* replicas.get(id)!.ordered();
    }
  }

  topicNames(): IterableIterator<string> {
    return this.topics.keys();
  }
}
