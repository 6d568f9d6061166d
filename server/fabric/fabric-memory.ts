import type { Fabric, GossipLane, ThreadEvent } from "./fabric.js";
import type { RedisStatus } from "./redis-status.js";

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
  onThreadEvent(listener: (event: ThreadEvent) => void): void {
    listener({ kind: "listed" });
  }
  /** Nobody else to ask: a question finds no answer. */
  async ask(): Promise<unknown[]> {
    return [];
  }
  serve(): void {}
  tell(): void {}
  redisStatus(): RedisStatus | undefined {
    return undefined;
  }
  start(): void {}
  async close(): Promise<void> {}
}
