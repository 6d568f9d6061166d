import { counter, gauge, type Registry } from "../ops/metrics.js";

/**
 * Topic workers' metrics: running, started, stopped, fenced off, and the state a node without
 * Redis forgot.
 */
export function topicWorkerMetrics(registry: Registry) {
  return {
    topicWorkers: gauge(registry, "cinder_topic_workers", "Topic workers running on this node"),
    topicWorkerStarts: counter(registry, "cinder_topic_worker_starts_total", "Topic worker starts: ok, or failed (the start threw; retried with backoff)", ["outcome"]),
    topicWorkerStops: counter(
      registry,
      "cinder_topic_worker_stops_total",
      "Topic workers stopped: linger (no subscribers left), lost (the lease passed on), expired (not renewed in time), drain",
      ["reason"],
    ),
    topicWorkerStateEvictions: counter(
      registry,
      "cinder_topic_worker_state_evictions_total",
      "Topics whose topic-worker state a node without Redis forgot to keep at most 10,000 (the least recently written first)",
    ),
    topicWorkerEffectsRefused: counter(registry, "cinder_topic_worker_effects_refused_total", "Broadcasts and state writes of topic workers refused by fencing (the lease was no longer theirs)"),
  };
}

export type TopicWorkerMetrics = ReturnType<typeof topicWorkerMetrics>;
