/** Which peers (threads of this node, by mesh index) have a subscriber of which topic. */
export class InterestMap {
  private readonly byTopic = new Map<string, Set<number>>();

  peersOf(topic: string): ReadonlySet<number> | undefined {
    return this.byTopic.get(topic);
  }

  has(topic: string): boolean {
    return this.byTopic.has(topic);
  }

  /** Topics with at least one peer. */
  get size(): number {
    return this.byTopic.size;
  }

  /** Applies an interest message; true when `topic` lost its last peer. */
  apply(peer: number, topic: string, on: boolean): boolean {
    let peers = this.byTopic.get(topic);
    if (on) {
      if (!peers) this.byTopic.set(topic, (peers = new Set()));
      peers.add(peer);
      return false;
    }
    if (!peers?.delete(peer) || peers.size > 0) return false;
    this.byTopic.delete(topic);
    return true;
  }

  /** A peer went away; returns the topics that lost their last peer. */
  removePeer(peer: number): string[] {
    const emptied: string[] = [];
    for (const [topic, peers] of this.byTopic) {
      if (peers.delete(peer) && peers.size === 0) {
        this.byTopic.delete(topic);
        emptied.push(topic);
      }
    }
    return emptied;
  }
}
