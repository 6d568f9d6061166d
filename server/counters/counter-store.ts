import type { CounterWindow } from "./counter-window.js";

/**
 * Increments of one counter waiting to be stored, by absolute bucket: `counts` holds
 * [bucket, delta] pairs flattened, `actors` the actor ids added per bucket. This is what a
 * worker thread hands its node's main thread and what a node writes to Redis in one command.
 */
export interface CounterDelta {
  key: string;
  window: CounterWindow;
  counts: number[];
  actors: Array<[bucket: number, ids: string[]]>;
}

/** One read: the sum (`count`) or the distinct actors (`uniques`) of buckets `from`..`to` of `key`. */
/** The lane a worker reads a counter on, from its node's main thread (answered with the value, or null when it could not be read). */
export const COUNTER_READ_LANE = "counter";

export interface CounterQuery {
  key: string;
  window: CounterWindow;
  kind: "count" | "uniques";
  from: number;
  to: number;
}

/**
 * Where a thread's counter increments go and where its reads come from; one implementation
 * per medium, beside this file, as the fabric has:
 *   counter-store-memory.ts  — this process's memory (a node without Redis; the main thread of a multi-worker one)
 *   counter-store-workers.ts — a worker thread: increments coalesced and handed to the node's main thread
 *   counter-store-redis.ts   — a node in a cluster: increments coalesced and flushed to Redis in one pipeline
 */
export interface CounterStore {
  incr(key: string, window: CounterWindow, bucket: number, by: number): void;
  addActor(key: string, window: CounterWindow, bucket: number, actor: string): void;
  /** Increments coalesced by another thread of this node. */
  apply(deltas: readonly CounterDelta[]): void;
  read(query: CounterQuery): Promise<number>;
  /** Sends on whatever is still pending (a graceful stop loses nothing). */
  close(): Promise<void>;
}
