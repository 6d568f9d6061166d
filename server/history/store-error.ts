/** Where a stored broadcast stands in its topic's history: its offset, and the epoch that offset belongs to. */
export interface StoredBroadcast {
  offset: number;
  epoch: string;
}

/**
 * Why a stored broadcast was not confirmed (docs/history-and-recovery.md):
 * - `unavailable`: the topic's authority could not be reached (Redis unreachable, the node
 *   closing); the message was not sent, so it is neither kept nor delivered;
 * - `overloaded`: this thread already waits on `historyMaxPendingStores` stores; not sent either;
 * - `failed`: the authority answered with an error (a script error); nothing was kept;
 * - `timeout`: no answer came within `historyStoreTimeoutMs`, or the connection was lost with the
 *   message on its way: it may have been kept all the same, and is then delivered.
 * In every case the pusher may retry; after a `timeout` a retry may show the message twice.
 */
export type StoreFailure = "unavailable" | "overloaded" | "failed" | "timeout";

const DESCRIPTIONS: Record<StoreFailure, string> = {
  unavailable: "not stored: the history's authority (Redis) is unreachable",
  overloaded: "not stored: too many stored broadcasts waiting on this thread",
  failed: "not stored: the history's authority refused it",
  timeout: "not confirmed in time: the broadcast may or may not be stored",
};

/** What `broadcastStored` rejects with when its message could not be confirmed as stored. */
export class StoreError extends Error {
  override readonly name = "StoreError";

  constructor(
    readonly reason: StoreFailure,
    message: string = DESCRIPTIONS[reason],
  ) {
    super(message);
  }

  /** The message may be kept (and delivered) all the same: a retry may show it twice. */
  get maybeStored(): boolean {
    return this.reason === "timeout";
  }
}

/** The place a memory history gave a message it numbered (its offset and epoch are always set). */
export function storedAs(numbered: { offset?: number; epoch?: string }): StoredBroadcast {
  return { offset: numbered.offset as number, epoch: numbered.epoch as string };
}

/** A store's outcome as it crosses threads (an Error does not keep its class there). */
export type StoreOutcome = StoredBroadcast | { failed: StoreFailure };

export function storeOutcome(settled: Promise<StoredBroadcast>): Promise<StoreOutcome> {
  return settled.then(
    ({ offset, epoch }) => ({ offset, epoch }),
    (err: unknown) => ({ failed: err instanceof StoreError ? err.reason : "failed" }),
  );
}

export function fromOutcome(outcome: StoreOutcome | undefined): StoredBroadcast {
  if (!outcome) throw new StoreError("timeout");
  if ("failed" in outcome) throw new StoreError(outcome.failed);
  return outcome;
}
