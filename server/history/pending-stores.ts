import { settleWithin } from "../fabric/settle-within.js";
import { StoreError, type StoredBroadcast } from "./store-error.js";

/** How many stored broadcasts a thread may wait on, and for how long each. */
export interface StoreLimits {
  /** Stores waiting at once (historyMaxPendingStores); past it a store is refused as `overloaded`, unsent. */
  max: number;
  /** How long a caller waits for the answer (historyStoreTimeoutMs); then it gets a `timeout`. */
  timeoutMs: number;
}

export interface PendingStoresOptions extends StoreLimits {
  /** The count changed (a metric). */
  onSize: (size: number) => void;
}

/**
 * The stored broadcasts one thread has sent on and waits on: at most `max`, each waited on for at
 * most `timeoutMs`. A store that timed out keeps its place until its answer comes (or its
 * connection fails it), because until then it is still held, by this thread or its Redis client:
 * against a Redis that stopped answering, the bound is what keeps memory bounded.
 */
export class PendingStores {
  private count = 0;

  constructor(private readonly options: PendingStoresOptions) {}

  /** Sends through `send` (synchronously, so stores keep their order), unless `max` are waiting. */
  run(send: () => Promise<StoredBroadcast>): Promise<StoredBroadcast> {
    if (this.count >= this.options.max) return Promise.reject(new StoreError("overloaded"));
    let sent: Promise<StoredBroadcast>;
    try {
      sent = send();
    } catch (err) {
      return Promise.reject(err);
    }
    this.resize(1);
    const release = () => this.resize(-1);
    sent.then(release, release);
    return settleWithin(sent, this.options.timeoutMs).then((stored) => {
      if (stored === undefined) throw new StoreError("timeout");
      return stored;
    });
  }

  get size(): number {
    return this.count;
  }

  private resize(by: number): void {
    this.count += by;
    this.options.onSize(this.count);
  }
}
