import type { PresenceEntry } from "./entry.js";

/**
 * owner → topic → key → entry, for the entries created by the local replica only.
 * It enforces "one presence per (topic, owner, key)" and makes leaving everything of
 * an owner (a socket closing) cost O(entries of that owner).
 */
export class OwnerIndex {
  private readonly owners = new Map<string, Map<string, Map<string, PresenceEntry>>>();

  get(owner: string, topic: string, key: string): PresenceEntry | undefined {
    return this.owners.get(owner)?.get(topic)?.get(key);
  }

  set(entry: PresenceEntry): void {
    let topics = this.owners.get(entry.owner);
    if (!topics) this.owners.set(entry.owner, (topics = new Map()));
    let keys = topics.get(entry.topic);
    if (!keys) topics.set(entry.topic, (keys = new Map()));
    keys.set(entry.key, entry);
  }

  delete(entry: PresenceEntry): void {
    const topics = this.owners.get(entry.owner);
    const keys = topics?.get(entry.topic);
    if (!topics || !keys || keys.get(entry.key) !== entry) return;
    keys.delete(entry.key);
    if (keys.size === 0) {
      topics.delete(entry.topic);
      if (topics.size === 0) this.owners.delete(entry.owner);
    }
  }

  /** Entries of `owner`, in `topic` only when given. A copy, safe to iterate while deleting. */
  entriesOf(owner: string, topic?: string): PresenceEntry[] {
    const topics = this.owners.get(owner);
    if (!topics) return [];
    if (topic !== undefined) return [...(topics.get(topic)?.values() ?? [])];
    const result: PresenceEntry[] = [];
    for (const keys of topics.values()) result.push(...keys.values());
    return result;
  }
}
