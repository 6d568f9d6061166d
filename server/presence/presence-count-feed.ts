import type { PresenceMetrics } from "./presence-metrics.js";
import type { PresenceCount } from "./presence-counts.js";
import type { PresenceService } from "./presence-service.js";

export interface PresenceCountFeedOptions {
  presence: Pick<PresenceService, "count" | "onCountChange">;
  intervalMs: number;
  /** Whether `topic` has subscribers on this thread that follow its presence as a count. */
  counted: (topic: string) => boolean;
  /** Sends `presence_count` to those subscribers of `topic` (on this thread only: every thread counts for itself). */
  deliver: (topic: string, count: PresenceCount) => void;
  metrics: PresenceMetrics;
}

/**
 * Throttled `presence_count` pushes: a topic whose count changed is noted (O(1) per change,
 * whatever the burst), and once per `intervalMs` each noted topic with count subscribers gets
 * its count, if it differs from what they were last sent. At 100 joins and leaves a second in a
 * 10,000-member topic, a count subscriber gets one small frame a second instead of the diffs.
 * The last count sent is kept per topic while it has count subscribers on this thread. The timer
 * runs only while there is a noted change or a count sent to look after: an idle thread has none.
 */
export class PresenceCountFeed {
  private readonly changed = new Set<string>();
  private readonly sent = new Map<string, string>();
  private timer: ReturnType<typeof setInterval> | null = null;
  private stopped = false;

  constructor(private readonly options: PresenceCountFeedOptions) {
    // Read as 0 from the start, as when a tick ran with no count to send.
    options.metrics.countTopics.set({ kind: "presence" }, 0);
    options.presence.onCountChange((topic) => {
      if (!options.counted(topic)) return;
      this.changed.add(topic);
      if (this.timer === null && !this.stopped) {
        this.timer = setInterval(() => this.tick(), options.intervalMs);
        this.timer.unref();
      }
    });
  }

  stop(): void {
    this.stopped = true;
    this.stopTimer();
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private tick(): void {
    const { presence, counted, deliver, metrics } = this.options;
    for (const topic of this.sent.keys()) if (!counted(topic)) this.sent.delete(topic);
    for (const topic of this.changed) {
      if (!counted(topic)) continue;
      const count = presence.count(topic);
      const signature = `${count.keys}/${count.metas}`;
      if (this.sent.get(topic) === signature) continue;
      this.sent.set(topic, signature);
      deliver(topic, count);
    }
    this.changed.clear();
    metrics.countTopics.set({ kind: "presence" }, this.sent.size);
    // Nothing noted and no count to look after: the next change starts the timer again.
    if (this.sent.size === 0) this.stopTimer();
  }
}
