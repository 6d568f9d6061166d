import type { Fabric, GossipLane, PeerEvent } from "./fabric.js";
import type { NodeLinkStatus } from "./link-status.js";

/** Gossip with no other replica. */
const noGossip: GossipLane = {
  broadcast() {},
  sendTo() {},
  onMessage() {},
};

/** A single-thread node without Redis: there is no other replica to reach. */
export class MemoryFabric implements Fabric {
  readonly gossip = noGossip;

  publish(): void {}
  reaches(): boolean {
    return false;
  }
  /** Nothing comes from elsewhere. */
  onBroadcast(): void {}
  setInterest(): void {}
  /** Nobody else to list: every live replica (none) is listed at once. */
  onPeerEvent(listener: (event: PeerEvent) => void): void {
    listener({ kind: "listed" });
  }
  /** Nobody else to ask: a question finds no answer. */
  async ask(): Promise<unknown[]> {
    return [];
  }
  serve(): void {}
  tell(): void {}
  linkStatus(): NodeLinkStatus | undefined {
    return undefined;
  }
  start(): void {}
  async close(): Promise<void> {}
}
