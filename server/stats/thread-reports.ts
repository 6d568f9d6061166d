import type { Fabric } from "../fabric/fabric.js";
import type { Registry } from "../ops/metrics.js";
import type { LocalFanout } from "../pubsub/local-fanout.js";
import { nodeHealth, nodeMetricsText, STATS_LANE, type HealthReport, type StatsAnswer, type StatsQuestion, type WorkerStats } from "./node-report.js";

/** How long /health and /metrics wait for the other threads of the node. */
export const STATS_TIMEOUT_MS = 500;

export interface ThreadReportsParts {
  fabric: Fabric;
  /** The registry this thread's metrics are declared on. */
  metrics: { registry: Registry };
  fanout: Pick<LocalFanout, "subscriptionCount" | "topicCount" | "topTopics">;
  connections: { readonly size: number };
  /** This thread's index among its node's workers; undefined on a single-thread node, which asks no one. */
  worker: number | undefined;
  /** This thread's own numbers. */
  health: () => HealthReport;
}

/**
 * A thread's part in the node's reports: it answers the other threads on the stats lane, and
 * gathers theirs for /health and /metrics (docs/operations.md).
 */
export class ThreadReports {
  constructor(private readonly parts: ThreadReportsParts) {
    parts.fabric.serve(STATS_LANE, async (question) => {
      const { top } = question as StatsQuestion;
      const answer: StatsAnswer = { kind: "worker", stats: this.workerStats(), metrics: await parts.metrics.registry.getMetricsAsJSON(), ...(top ? { top: parts.fanout.topTopics(top) } : {}) };
      return answer;
    });
  }

  /** Whether the node has other threads to ask. */
  get threaded(): boolean {
    return this.parts.worker !== undefined;
  }

  /** This thread's counts, as the node's report lists them. */
  workerStats(): WorkerStats {
    const { worker, connections, fanout } = this.parts;
    return { index: worker ?? 0, sockets: connections.size, channels: fanout.subscriptionCount, topics: fanout.topicCount };
  }

  /** What the node's other threads answer on the stats lane. */
  async askThreads(question: StatsQuestion): Promise<StatsAnswer[]> {
    return (await this.parts.fabric.ask(STATS_LANE, "threads", question, STATS_TIMEOUT_MS)) as StatsAnswer[];
  }

  /** The node's numbers: this thread's, gathered with every other thread's when there are several. */
  async healthReport(): Promise<HealthReport> {
    if (!this.threaded) return this.parts.health();
    return nodeHealth(this.parts.health(), this.workerStats(), await this.askThreads({}));
  }

  /** Prometheus text for the whole node (threads are summed). */
  async metricsText(): Promise<string> {
    const { registry } = this.parts.metrics;
    if (!this.threaded) return registry.metrics();
    const answers = await this.askThreads({});
    return nodeMetricsText(await registry.getMetricsAsJSON(), answers);
  }
}
