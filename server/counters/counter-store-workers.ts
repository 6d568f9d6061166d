import type { Fabric, Responder } from "../fabric/fabric.js";
import type { Logger } from "../ops/logger.js";
import type { CounterMetrics } from "./counter-metrics.js";
import { COUNTER_READ_LANE, type CounterDelta, type CounterQuery, type CounterStore } from "./counter-store.js";
import type { CounterWindow } from "./counter-window.js";
import { PendingCounts } from "./pending-counts.js";

/** How often a worker hands its coalesced increments to the main thread: short beside a node's flush to Redis. */
export const WORKER_HANDOFF_MS = 100;
/** How long a counter read waits for the main thread (which may ask Redis). */
const COUNTER_READ_TIMEOUT_MS = 5000;
/** The lane a worker hands its coalesced increments to the main thread on (one-way). */
export const COUNTS_LANE = "counts";

export interface WorkerCounterStoreOptions {
  /** The worker's fabric: increments and reads go to the node's main thread (in order with everything else it posts there). */
  fabric: Pick<Fabric, "ask" | "tell">;
  maxPending: number;
  metrics: CounterMetrics;
}

/**
 * The counters of a worker thread, which has no Redis connection of its own: increments are
 * coalesced here and handed to the node's main thread WORKER_HANDOFF_MS after the first of them
 * (or at once when `maxPending` is reached; no timer runs while none is pending), which keeps them in memory or coalesces them again into the node's
 * one flush to Redis. Reads are questions to the main thread on the fabric's request lane;
 * since the increments travel on the same port before the question, a worker reads its own
 * increments (once the main thread holds them in memory, or has flushed them to Redis).
 */
export class WorkerCounterStore implements CounterStore {
  private readonly pending: PendingCounts;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private closed = false;

  constructor(private readonly options: WorkerCounterStoreOptions) {
    this.pending = new PendingCounts(options.maxPending);
  }

  incr(key: string, window: CounterWindow, bucket: number, by: number): void {
    this.hold(() => this.pending.incr(key, window, bucket, by));
  }

  addActor(key: string, window: CounterWindow, bucket: number, actor: string): void {
    this.hold(() => this.pending.addActor(key, window, bucket, actor));
  }

  apply(deltas: readonly CounterDelta[]): void {
    this.pending.merge(deltas);
    this.handOff();
  }

  async read(query: CounterQuery): Promise<number> {
    this.handOff();
    const [value] = await this.options.fabric.ask(COUNTER_READ_LANE, "main", query, COUNTER_READ_TIMEOUT_MS);
    if (typeof value !== "number") throw new Error(`counter ${JSON.stringify(query.key)} could not be read`);
    return value;
  }

  /** Hands everything pending to the main thread now. */
  handOff(): void {
    if (this.pending.size === 0) return;
    this.options.fabric.tell(COUNTS_LANE, "main", this.pending.take());
    this.options.metrics.counterPending.set(0);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.handOff();
  }

  private hold(add: () => boolean): void {
    this.options.metrics.counterIncrements.inc();
    // Full: the main thread takes it all now, so the increment always fits afterwards.
    if (!add()) {
      this.handOff();
      add();
    }
    this.options.metrics.counterPending.set(this.pending.size);
    if (this.timer === null && !this.closed) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.handOff();
      }, WORKER_HANDOFF_MS);
      this.timer.unref();
    }
  }
}

/**
 * The main thread's side of its workers' counters: their increments go into the node's `store`
 * (in memory, or coalesced again into the node's one flush to Redis), and their reads come from it.
 */
export function serveWorkerCounters(main: { serve(lane: string, responder: Responder): void }, store: CounterStore, log: Logger): void {
  main.serve(COUNTS_LANE, async (deltas) => {
    store.apply(deltas as CounterDelta[]);
  });
  main.serve(COUNTER_READ_LANE, async (query) => {
    try {
      return await store.read(query as CounterQuery);
    } catch (err) {
      log.warn({ err, key: (query as CounterQuery).key }, "could not read a counter");
      return null;
    }
  });
}
