import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from "prom-client";
import type { MetricsJson, WorkerStats } from "../stats/node-report.js";
import type { RedisStatus } from "../fabric/redis-status.js";
import type { HealthReport } from "../stats/node-report.js";
import type { TopicCount } from "../pubsub/local-fanout.js";

/**
 * Running totals of one node, read from its /metrics counters (summed over its threads): the
 * dashboard's charts are these figures' per-second differences, so the page and /metrics can
 * never disagree.
 */
export interface NodeTotals {
  /** cinder_sockets (a gauge: open connections now). */
  sockets: number;
  /** cinder_joins_total */
  joins: number;
  /** cinder_messages_received_total */
  messagesReceived: number;
  /** cinder_deliveries_total */
  deliveries: number;
  /** cinder_presence_diffs_total */
  presenceDiffs: number;
  /** cinder_slow_consumer_disconnects_total */
  slowConsumers: number;
  /** cinder_frame_errors_total */
  frameErrors: number;
}

/** The node process, from Node's process metrics (collected by the node's main thread). */
export interface ProcessFigures {
  /** nodejs_eventloop_lag_p50_seconds / _p99_seconds */
  eventLoopDelayP50: number;
  eventLoopDelayP99: number;
  /** nodejs_heap_size_used_bytes / _total_bytes, process_resident_memory_bytes */
  heapUsed: number;
  heapTotal: number;
  rss: number;
  /** nodejs_gc_duration_seconds_sum and _count over every kind of GC, since start. */
  gcSeconds: number;
  gcRuns: number;
  /** process_cpu_seconds_total */
  cpuSeconds: number;
}

/** One node as the dashboard shows it. */
export interface NodeSnapshot {
  node: string;
  status: HealthReport["status"];
  uptimeMs: number;
  /** When the figures were read (ms since the epoch, the node's clock). */
  at: number;
  workers: WorkerStats[];
  redis?: RedisStatus;
  totals: NodeTotals;
  process: ProcessFigures;
  /** The node's topics with the most subscribers, most first. */
  top: TopicCount[];
}

/** How many topics each thread and node reports, more than the page shows, so that the cluster's top list is rarely off. */
export const TOP_PER_THREAD = 50;

type Metric = MetricObjectWithValues<MetricValue<string>>;

/**
 * A node's snapshot from its health (already gathered across its threads), every thread's
 * metrics, and every thread's top topics.
 */
export async function nodeSnapshot(health: HealthReport, perThread: MetricsJson[], tops: TopicCount[][]): Promise<NodeSnapshot> {
  const metrics = (await AggregatorRegistry.aggregate(perThread as Metric[][]).getMetricsAsJSON()) as Metric[];
  const byName = new Map(metrics.map((metric) => [metric.name, metric]));
  const sum = (name: string, sample = name) =>
    (byName.get(name)?.values ?? []).reduce((total, value) => total + (((value as { metricName?: string }).metricName ?? name) === sample ? value.value : 0), 0);
  return {
    node: health.node,
    status: health.status,
    uptimeMs: health.uptimeMs,
    at: Date.now(),
    workers: health.workers ?? [{ index: 0, sockets: health.sockets, channels: health.channels, topics: health.topics }],
    ...(health.redis ? { redis: health.redis } : {}),
    totals: {
      sockets: sum("cinder_sockets"),
      joins: sum("cinder_joins_total"),
      messagesReceived: sum("cinder_messages_received_total"),
      deliveries: sum("cinder_deliveries_total"),
      presenceDiffs: sum("cinder_presence_diffs_total"),
      slowConsumers: sum("cinder_slow_consumer_disconnects_total"),
      frameErrors: sum("cinder_frame_errors_total"),
    },
    process: {
      eventLoopDelayP50: sum("nodejs_eventloop_lag_p50_seconds"),
      eventLoopDelayP99: sum("nodejs_eventloop_lag_p99_seconds"),
      heapUsed: sum("nodejs_heap_size_used_bytes"),
      heapTotal: sum("nodejs_heap_size_total_bytes"),
      rss: sum("process_resident_memory_bytes"),
      gcSeconds: sum("nodejs_gc_duration_seconds", "nodejs_gc_duration_seconds_sum"),
      gcRuns: sum("nodejs_gc_duration_seconds", "nodejs_gc_duration_seconds_count"),
      cpuSeconds: sum("process_cpu_seconds_total"),
    },
    top: mergeTop(tops, TOP_PER_THREAD),
  };
}

/** Several top lists (threads of a node, or nodes of the cluster) as one: a topic's subscribers summed, the `limit` largest kept. */
export function mergeTop(tops: TopicCount[][], limit: number): TopicCount[] {
  const merged = new Map<string, number>();
  for (const top of tops) for (const { topic, subscribers } of top) merged.set(topic, (merged.get(topic) ?? 0) + subscribers);
  return [...merged]
    .map(([topic, subscribers]) => ({ topic, subscribers }))
    .sort((a, b) => b.subscribers - a.subscribers || (a.topic < b.topic ? -1 : 1))
    .slice(0, limit);
}
