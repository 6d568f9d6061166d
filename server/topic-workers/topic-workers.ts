import { TopicPatterns } from "../channel/topic-patterns.js";
import { settleWithin } from "../fabric/settle-within.js";
import type { InterestFollower } from "../pubsub/local-fanout.js";
import { TopicLease } from "./topic-lease.js";
import type { TopicWorkerSpec } from "./topic-worker.js";
import type { TopicWorkerServices } from "./worker-run.js";

export interface TopicWorkersOptions {
  /** This thread, as lease claimant. */
  claimant: string;
  /** Lease TTL, ms (config `topicWorkerTtl`). */
  ttlMs: number;
  services: TopicWorkerServices;
}

/** Default `linger`: a worker outlives its topic's last subscriber by this long, ms. */
export const DEFAULT_LINGER_MS = 30_000;
/** How long a drain waits for its releases to reach the lease's authority. */
const DRAIN_RELEASE_MS = 2000;

/**
 * The topic workers of one thread: which topic patterns have one, and this thread's part in
 * the lease of every matching topic it has a subscriber of (or holds). Bounded by this
 * thread's topics: an entry exists only while it has a subscriber of its topic or holds its lease.
 */
export class TopicWorkers implements InterestFollower {
  private readonly specs = new TopicPatterns<TopicWorkerSpec>();
  private readonly leases = new Map<string, TopicLease>();
  private closed = false;

  constructor(private readonly options: TopicWorkersOptions) {
    void options.services.leases.onFree((topic) => this.leases.get(topic)?.wake());
  }

  add(pattern: string, spec: TopicWorkerSpec): void {
    if (typeof spec?.start !== "function") throw new TypeError(`topic worker "${pattern}" needs a start function`);
    const linger = spec.linger ?? DEFAULT_LINGER_MS;
    if (!Number.isInteger(linger) || linger < 0 || linger > 86_400_000) throw new TypeError(`topic worker "${pattern}": linger must be a whole number of ms from 0 to 86400000`);
    this.specs.add(pattern, spec, "topic worker");
  }

  /** This thread gained its first or lost its last subscriber of `topic` (LocalFanout's interest). */
  interest(topic: string, interested: boolean): void {
    if (this.closed) return;
    let lease = this.leases.get(topic);
    if (!lease) {
      const spec = interested ? this.specs.match(topic) : undefined;
      if (!spec) return;
      const created: TopicLease = new TopicLease({
        topic,
        claimant: this.options.claimant,
        ttlMs: this.options.ttlMs,
        spec,
        linger: spec.linger ?? DEFAULT_LINGER_MS,
        services: this.options.services,
        onDone: () => {
          if (this.leases.get(topic) === created) this.leases.delete(topic);
        },
      });
      this.leases.set(topic, (lease = created));
    }
    lease.setLocalInterest(interested);
  }

  /** Topics whose worker runs on this thread. */
  get running(): number {
    let count = 0;
    for (const lease of this.leases.values()) if (lease.holding) count++;
    return count;
  }

  /** Drain: every worker here stops and its lease is released for a claimant elsewhere. */
  async close(): Promise<void> {
    this.closed = true;
    const released = [...this.leases.values()].map((lease) => lease.close());
    this.leases.clear();
    await settleWithin(Promise.all(released), DRAIN_RELEASE_MS);
  }
}
