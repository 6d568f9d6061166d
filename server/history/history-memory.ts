import type { EncodedBroadcast } from "../fabric/encoded-broadcast.js";
import type { HistoryMetrics } from "./history-metrics.js";
import type { HistoryAppend, HistoryAuthority, HistoryLimits, HistoryPage } from "./history.js";
import { MemoryFrameStore } from "./frame-store-memory.js";
import { storedAs, type StoredBroadcast } from "./store-error.js";

/** Where the numbered broadcasts go: this thread's subscribers (pubsub/local-fanout.ts), or the node's workers with interest. */
export interface NumberedDelivery {
  deliverEncoded(message: EncodedBroadcast): void;
}

export interface MemoryHistoryAuthorityOptions {
  /** Byte cap of the history kept (historyMaxBytes). */
  maxBytes: number;
  /** Hands a numbered broadcast to the replicas with interest. */
  delivery: NumberedDelivery;
  metrics: HistoryMetrics;
}

/**
 * The history of a node without Redis, in memory: on a single-thread node this thread is its
 * authority, on a multi-worker node the main thread. Nothing can fail on the way, so a store is
 * kept and delivered before it resolves.
 */
export class MemoryHistoryAuthority implements HistoryAuthority {
  private readonly history: MemoryFrameStore;

  constructor(private readonly options: MemoryHistoryAuthorityOptions) {
    this.history = new MemoryFrameStore({ maxBytes: options.maxBytes });
  }

  append(message: HistoryAppend): void {
    this.numberAndDeliver(message);
  }

  store(message: HistoryAppend): Promise<StoredBroadcast> {
    return Promise.resolve(this.numberAndDeliver(message));
  }

  async read(topic: string, since: number, limit: number, limits: HistoryLimits): Promise<HistoryPage> {
    return this.history.read(topic, since, limit, limits);
  }

  private numberAndDeliver(message: HistoryAppend): StoredBroadcast {
    const numbered = this.history.append(message);
    this.options.metrics.historyBytes.set(this.history.bytes);
    this.options.delivery.deliverEncoded(numbered);
    return storedAs(numbered);
  }
}
