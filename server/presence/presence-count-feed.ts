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
 * The last count sent is kept per topic while it has count subscribers on this thread.
 */
export class PresenceCountFeed {
  private readonly changed = new Set<string>();
  private readonly sent = new Map<string, string>();
  private readonly timer: ReturnType<typeof setInterval>;

  constructor(private readonly options: PresenceCountFeedOptions) {
    options.presence.onCountChange((topic) => {
      if (options.counted(topic)) this.changed.add(topic);
    });
    this.timer = setInterval(() => this.tick(), options.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
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
  }
}
