import type { Fabric, FabricAnswer, GossipLane, NodeLinkStatus } from "./fabric.js";

/** Gossip with no other replica. */
export const noGossip: GossipLane = {
  broadcast() {},
  sendTo() {},
  onMessage() {},
};

/** A single-thread node without Redis: there is no other replica to reach. */
export class LocalFabric implements Fabric {
  readonly gossip = noGossip;
  publish(): void {}
  reaches(): boolean {
    return false;
  }
  onBroadcast(): void {}
  setInterest(): void {}
  onPeerEvent(): void {}
  async request(): Promise<FabricAnswer[]> {
    return [];
  }
  answer(): void {}
  linkStatus(): NodeLinkStatus | undefined {
    return undefined;
  }
  start(): void {}
  async close(): Promise<void> {}
}
