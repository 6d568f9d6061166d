import { metricsRegistry, type ProcessMetricsOptions } from "./ops/metrics.js";
import { fabricMetrics } from "./fabric/fabric-metrics.js";
import { historyMetrics } from "./history/history-metrics.js";
import { authMetrics } from "./auth/auth-metrics.js";
import { pubsubMetrics } from "./pubsub/pubsub-metrics.js";
import { presenceMetrics } from "./presence/presence-metrics.js";
import { socketMetrics } from "./socket/socket-metrics.js";
import { channelMetrics } from "./channel/channel-metrics.js";
import { counterMetrics } from "./counters/counter-metrics.js";
import { topicWorkerMetrics } from "./topic-workers/topic-worker-metrics.js";
import { endpointMetrics } from "./endpoint/endpoint-metrics.js";
import { longPollMetrics } from "./longpoll/longpoll-metrics.js";
import { hookMetrics } from "./hooks/hook-metrics.js";
import { webhookMetrics } from "./webhooks/webhook-metrics.js";

/**
 * Every metric of one thread, on one registry served at /metrics: each feature's group, side by
 * side (a feature takes only its own group). The main thread of a multi-worker node declares the
 * same set, so that every thread's registry has every metric when /metrics sums them.
 */
export function nodeMetrics(options: ProcessMetricsOptions) {
  const registry = metricsRegistry(options);
  return {
    registry,
    ...fabricMetrics(registry),
    ...historyMetrics(registry),
    ...authMetrics(registry),
    ...pubsubMetrics(registry),
    ...presenceMetrics(registry),
    ...socketMetrics(registry),
    ...channelMetrics(registry),
    ...counterMetrics(registry),
    ...topicWorkerMetrics(registry),
    ...endpointMetrics(registry),
    ...longPollMetrics(registry),
    ...hookMetrics(registry),
    ...webhookMetrics(registry),
  };
}

export type NodeMetrics = ReturnType<typeof nodeMetrics>;
