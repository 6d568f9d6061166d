import type { RedisStatus } from "../fabric/redis-status.js";
import type { TopicCount } from "../pubsub/local-fanout.js";
import { aggregateMetrics } from "../ops/metrics.js";

/** The figures of one worker thread, as /health shows them. */
export interface WorkerStats {
  index: number;
  sockets: number;
  channels: number;
  topics: number;
}

/** prom-client's `getMetricsAsJSON()` of one registry, summed across threads for /metrics. */
export type MetricsJson = unknown[];

/**
 * The lane /health, /metrics and the dashboard gather a node's figures on, from its other threads.
 * A worker answers with its own figures (`top`: also its this many topics with the most
 * subscribers); the node's main thread with the state of its Redis connections and the node-wide topic count.
 */
export const STATS_LANE = "stats";
export interface StatsQuestion {
  top?: number;
}
export type StatsAnswer =
  | { kind: "worker"; stats: WorkerStats; metrics: MetricsJson; top?: TopicCount[] }
  | { kind: "node"; topics: number; redis: RedisStatus | undefined; metrics: MetricsJson };

/** What /health answers. */
export interface HealthReport {
  /** "degraded": Redis is unreachable (local delivery goes on, other nodes are not reached). */
  status: "ok" | "degraded" | "draining";
  node: string;
  /** Since the node started, ms. */
  uptimeMs: number;
  sockets: number;
  channels: number;
  /** Distinct topics with a subscriber on this node. */
  topics: number;
  /** Per worker thread, when the node runs several. */
  workers?: WorkerStats[];
  /** The state of the node's Redis connections, when the node is in a cluster. */
  redis?: RedisStatus;
}

/**
 * /health for a multi-worker node, from the answering worker's report and what the node's other
 * threads answered over the fabric. Every figure is gathered the same way: sockets and channels
 * are summed over workers (a socket lives on one worker), and topics are the node's distinct
 * topics, counted by the main thread (the union of the workers' interest). A thread that did not
 * answer in time is left out; its worker is then missing from `workers`.
 */
export function nodeHealth(own: HealthReport, ownStats: WorkerStats, answers: StatsAnswer[]): HealthReport {
  const workers = [ownStats];
  let node: Extract<StatsAnswer, { kind: "node" }> | undefined;
  for (const answer of answers) {
    if (answer.kind === "worker") workers.push(answer.stats);
    else if (answer.kind === "node") node = answer;
  }
  workers.sort((a, b) => a.index - b.index);
  const sum = (field: "sockets" | "channels") => workers.reduce((total, worker) => total + worker[field], 0);
  const redis = node?.redis;
  const status = own.status === "draining" ? "draining" : redis && !redis.connected ? "degraded" : "ok";
  return {
    ...own,
    status,
    sockets: sum("sockets"),
    channels: sum("channels"),
    topics: node?.topics ?? own.topics,
    workers,
    ...(redis ? { redis } : {}),
  };
}

/** /metrics for a multi-worker node: every thread's registry, summed. */
export function nodeMetricsText(own: MetricsJson, answers: StatsAnswer[]): Promise<string> {
  return aggregateMetrics([own, ...threadFigures(answers).metrics]);
}

/** The metrics and top lists the other threads of a node answered with. */
export function threadFigures(answers: StatsAnswer[]): { metrics: MetricsJson[]; tops: TopicCount[][] } {
  const metrics: MetricsJson[] = [];
  const tops: TopicCount[][] = [];
  for (const answer of answers) {
    if ("metrics" in answer) metrics.push(answer.metrics);
    if (answer.kind === "worker" && answer.top) tops.push(answer.top);
  }
  return { metrics, tops };
}
