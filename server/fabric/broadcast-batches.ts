import type { EncodedBroadcast } from "./encoded-broadcast.js";
import type { PeerMesh } from "./mesh.js";

/**
 * Broadcasts on their way to other threads of the node, batched per peer and flushed from
 * setImmediate: a burst costs one postMessage per peer, and each peer's order is kept.
 */
export class BroadcastBatches {
  private outgoing = new Map<number, EncodedBroadcast[]>();
  private scheduled = false;

  constructor(private readonly mesh: PeerMesh) {}

  add(peer: number, message: EncodedBroadcast): void {
    let batch = this.outgoing.get(peer);
    if (!batch) this.outgoing.set(peer, (batch = []));
    batch.push(message);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  readonly flush = (): void => {
    this.scheduled = false;
    const outgoing = this.outgoing;
    this.outgoing = new Map();
    for (const [peer, items] of outgoing) this.mesh.post(peer, { k: "broadcasts", items });
  };
}
