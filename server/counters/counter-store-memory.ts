import type { CounterMetrics } from "./counter-metrics.js";
import type { CounterDelta, CounterQuery, CounterStore } from "./counter-store.js";
import type { CounterWindow } from "./counter-window.js";
import { HyperLogLog } from "./hyperloglog.js";

interface MemoryCounter {
  window: CounterWindow;
  counts: Map<number, number>;
  actors: Map<number, HyperLogLog>;
}

export interface MemoryCounterStoreOptions {
  /** Counters kept; past it the one written longest ago is forgotten (`onEvict`). */
  maxKeys: number;
  /** The current time, for trimming buckets that left the window. */
  now: () => number;
  onSize?: (counters: number) => void;
  onEvict?: () => void;
}

/**
 * Counters in this process's memory: a single node without Redis (its one thread, or the main
 * thread of a multi-worker node, which the workers hand their increments to). Increments apply
 * at once. A counter's buckets older than its window are dropped when it gets a new bucket; a
 * counter not written for a whole window is dropped when the store is full, before others.
 */
export class MemoryCounterStore implements CounterStore {
  /** In order of last write (a write moves its counter to the end): the first is evicted first. */
  private readonly counters = new Map<string, MemoryCounter>();

  constructor(private readonly options: MemoryCounterStoreOptions) {}

  get size(): number {
    return this.counters.size;
  }

  incr(key: string, window: CounterWindow, bucket: number, by: number): void {
    const counts = this.counterOf(key, window, bucket).counts;
    counts.set(bucket, (counts.get(bucket) ?? 0) + by);
  }

  addActor(key: string, window: CounterWindow, bucket: number, actor: string): void {
    const actors = this.counterOf(key, window, bucket).actors;
    let estimator = actors.get(bucket);
    if (!estimator) actors.set(bucket, (estimator = new HyperLogLog()));
    estimator.add(actor);
  }

  apply(deltas: readonly CounterDelta[]): void {
    for (const { key, window, counts, actors } of deltas) {
      for (let i = 0; i < counts.length; i += 2) this.incr(key, window, counts[i], counts[i + 1]);
      for (const [bucket, ids] of actors) for (const id of ids) this.addActor(key, window, bucket, id);
    }
  }

  async read(query: CounterQuery): Promise<number> {
    return this.readNow(query);
  }

  readNow({ key, kind, from, to }: CounterQuery): number {
    const counter = this.counters.get(key);
    if (!counter) return 0;
    if (kind === "count") {
      let sum = 0;
      for (const [bucket, count] of counter.counts) if (bucket >= from && bucket <= to) sum += count;
      return sum;
    }
    const estimators = [...counter.actors].filter(([bucket]) => bucket >= from && bucket <= to).map(([, estimator]) => estimator);
    return estimators.length === 0 ? 0 : HyperLogLog.countUnion(estimators);
  }

  /** Bytes the counters hold, roughly (for the memory figures of the benchmark). */
  get bytes(): number {
    let bytes = 0;
    for (const counter of this.counters.values()) {
      bytes += 64 + counter.counts.size * 40;
      for (const estimator of counter.actors.values()) bytes += 40 + estimator.bytes;
    }
    return bytes;
  }

  async close(): Promise<void> {}

  private counterOf(key: string, window: CounterWindow, bucket: number): MemoryCounter {
    let counter = this.counters.get(key);
    if (counter) {
      this.counters.delete(key);
    } else {
      counter = { window, counts: new Map(), actors: new Map() };
      if (this.counters.size >= this.options.maxKeys) this.evictOne();
    }
    this.counters.set(key, counter);
    if (!counter.counts.has(bucket) && !counter.actors.has(bucket)) this.trim(counter);
    this.options.onSize?.(this.counters.size);
    return counter;
  }

  /** A new bucket: drop those that left the window. */
  private trim(counter: MemoryCounter): void {
    const oldest = Math.floor(this.options.now() / counter.window.bucketMs) - counter.window.buckets + 1;
    for (const bucket of counter.counts.keys()) if (bucket < oldest) counter.counts.delete(bucket);
    for (const bucket of counter.actors.keys()) if (bucket < oldest) counter.actors.delete(bucket);
  }

  private evictOne(): void {
    for (const key of this.counters.keys()) {
      this.counters.delete(key);
      this.options.onEvict?.();
      return;
    }
  }
}

/** The counters of a node without Redis, reporting to its metrics. */
export function memoryCounters(options: { counterMaxKeys: number; now: () => number; metrics: CounterMetrics }): MemoryCounterStore {
  const { metrics } = options;
  return new MemoryCounterStore({
    maxKeys: options.counterMaxKeys,
    now: options.now,
    onSize: (size) => metrics.counterKeys.set(size),
    onEvict: () => metrics.counterEvictions.inc(),
  });
}
