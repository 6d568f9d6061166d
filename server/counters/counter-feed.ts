import type { Logger } from "../ops/logger.js";
import type { PresenceMetrics } from "../presence/presence-metrics.js";

/** What a `counter:<key>` topic carries: in the join reply, then in each `counter` push. */
export interface CounterReading {
  key: string;
  /** The count over the key's whole window. */
  value: number;
  /** Distinct actors over the window, when the channel asks for them. */
  uniques?: number;
  [field: string]: unknown;
}

interface Watched {
  key: string;
  uniques: boolean;
  /** Sockets watching it on this thread. */
  sockets: Set<string>;
  last: string;
}

export interface CounterFeedOptions {
  read: (key: string, uniques: boolean) => Promise<CounterReading>;
  /** Sends `counter` to the subscribers of `topic` on this thread (every thread reads for its own). */
  deliver: (topic: string, reading: CounterReading) => void;
  intervalMs: number;
  /** The live-count topics, a metric shared with presence's counts (declared there, the lower floor). */
  metrics: Pick<PresenceMetrics, "countTopics">;
  log: Logger;
}

/**
 * Live counts for `counter:<key>` topics: once per `intervalMs` each watched counter is read
 * once for all its watchers on this thread, and pushed as `counter` only when it changed. One
 * round of reads at a time: a slow store (Redis) delays the next round instead of piling reads
 * up. Watched topics are bounded by the thread's channels.
 */
export class CounterFeed {
  private readonly watched = new Map<string, Watched>();
  /** Runs while some counter is watched: a thread that watches none has no timer. */
  private timer: ReturnType<typeof setInterval> | null = null;
  private reading = false;
  private stopped = false;

  constructor(private readonly options: CounterFeedOptions) {}

  read(key: string, uniques: boolean): Promise<CounterReading> {
    return this.options.read(key, uniques);
  }

  /** `socket` follows `topic` from `reading` on (what its join reply carried). */
  watch(topic: string, key: string, uniques: boolean, socket: string, reading: CounterReading): void {
    let watched = this.watched.get(topic);
    if (!watched) this.watched.set(topic, (watched = { key, uniques, sockets: new Set(), last: signatureOf(reading) }));
    watched.sockets.add(socket);
    this.options.metrics.countTopics.set({ kind: "counter" }, this.watched.size);
    if (this.timer === null && !this.stopped) {
      this.timer = setInterval(() => void this.tick(), this.options.intervalMs);
      this.timer.unref();
    }
  }

  unwatch(topic: string, socket: string): void {
    const watched = this.watched.get(topic);
    if (!watched?.sockets.delete(socket) || watched.sockets.size > 0) return;
    this.watched.delete(topic);
    this.options.metrics.countTopics.set({ kind: "counter" }, this.watched.size);
    if (this.watched.size === 0) this.stopTimer();
  }

  stop(): void {
    this.stopped = true;
    this.stopTimer();
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private async tick(): Promise<void> {
    if (this.reading || this.watched.size === 0) return;
    this.reading = true;
    try {
      await Promise.all(
        [...this.watched].map(async ([topic, watched]) => {
          const reading = await this.options.read(watched.key, watched.uniques);
          const signature = signatureOf(reading);
          if (signature === watched.last || this.watched.get(topic) !== watched) return;
          watched.last = signature;
          this.options.deliver(topic, reading);
        }),
      );
    } catch (err) {
      this.options.log.warn({ err }, "could not read watched counters; trying again next round");
    } finally {
      this.reading = false;
    }
  }
}

function signatureOf(reading: CounterReading): string {
  return `${reading.value}/${reading.uniques ?? ""}`;
}
