import type { Logger } from "../ops/logger.js";
import { clusterView, type ClusterView } from "./cluster-view.js";
import type { NodeSnapshot } from "./node-snapshot.js";

/** How often open dashboards get the cluster's figures. */
export const DASHBOARD_INTERVAL_MS = 1000;
/** How long a round waits for the other nodes' snapshots. */
export const NODE_SNAPSHOT_TIMEOUT_MS = 500;

export interface DashboardFeedOptions {
  /** This node's snapshot, gathered from its threads. */
  own: () => Promise<NodeSnapshot>;
  /** The other nodes' snapshots, over the node request lane. */
  others: () => Promise<NodeSnapshot[]>;
  /** A topic's presence, counted cluster-wide (this thread's replica holds every topic). */
  presence: (topic: string) => { keys: number; metas: number };
  /** To this thread's dashboards. */
  deliver: (view: ClusterView) => void;
  log: Logger;
}

/**
 * Gathers the cluster's figures once a second while this thread has a dashboard open, and
 * delivers them to this thread's dashboards only: a thread without one asks nothing, and a
 * second dashboard costs its frames, not a second round. One round at a time: a slow round
 * (a node that does not answer) skips ticks rather than piling them up.
 */
export class DashboardFeed {
  private watchers = 0;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private stopped = false;

  constructor(private readonly options: DashboardFeedOptions) {}

  watch(): void {
    if (this.stopped || this.watchers++ > 0) return;
    this.timer = setInterval(() => void this.round(), DASHBOARD_INTERVAL_MS);
    this.timer.unref();
    void this.round();
  }

  unwatch(): void {
    if (this.watchers === 0 || --this.watchers > 0) return;
    clearInterval(this.timer);
    this.timer = undefined;
  }

  stop(): void {
    this.stopped = true;
    this.watchers = 0;
    clearInterval(this.timer);
  }

  private async round(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const [own, others] = await Promise.all([this.options.own(), this.options.others()]);
      if (this.watchers > 0) this.options.deliver(clusterView([own, ...others], this.options.presence));
    } catch (err) {
      this.options.log.warn({ err }, "could not gather the dashboard's figures");
    } finally {
      this.running = false;
    }
  }
}
