import { MemoryHistory } from "../history/memory-history.js";
import type { Metrics } from "../ops/metrics.js";
import { storedAs, type StoredBroadcast } from "../history/store-error.js";
import type { Fabric, GossipLane, PeerEvent } from "./fabric.js";
import type { EncodedBroadcast } from "./encoded-broadcast.js";
import type { HistoryAppend, HistoryLimits, HistoryPage } from "../history/history.js";
import type { NodeLinkStatus } from "./link-status.js";

/** Gossip with no other replica. */
const noGossip: GossipLane = {
  broadcast() {},
  sendTo() {},
  onMessage() {},
};

/**
 * A single-thread node without Redis: there is no other replica to reach, and this thread is
 * the authority of its history topics (kept in memory, within `historyMaxBytes`).
 */
export class LocalFabric implements Fabric {
  readonly gossip = noGossip;
  private readonly history: MemoryHistory;
  private readonly broadcastHandlers: Array<(message: EncodedBroadcast) => void> = [];

  constructor(private readonly options: { historyMaxBytes: number; metrics: Metrics }) {
    this.history = new MemoryHistory({ maxBytes: options.historyMaxBytes });
  }

  publish(): void {}
  reaches(): boolean {
    return false;
  }
  onBroadcast(handler: (message: EncodedBroadcast) => void): void {
    this.broadcastHandlers.push(handler);
  }
  appendHistory(message: HistoryAppend): void {
    this.numberAndDeliver(message);
  }
  /** Kept and delivered here before it resolves: nothing can fail on the way. */
  storeHistory(message: HistoryAppend): Promise<StoredBroadcast> {
    return Promise.resolve(this.numberAndDeliver(message));
  }
  private numberAndDeliver(message: HistoryAppend): StoredBroadcast {
    const numbered = this.history.append(message);
    this.options.metrics.historyBytes.set(this.history.bytes);
    for (const handler of this.broadcastHandlers) handler(numbered);
    return storedAs(numbered);
  }
  async readHistory(topic: string, since: number, limit: number, limits: HistoryLimits): Promise<HistoryPage> {
    return this.history.read(topic, since, limit, limits);
  }
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
  linkStatus(): NodeLinkStatus | undefined {
    return undefined;
  }
  start(): void {}
  async close(): Promise<void> {}
}
