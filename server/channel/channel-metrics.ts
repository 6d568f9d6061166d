import { counter, gauge, type Registry } from "../ops/metrics.js";

/**
 * Channels' metrics: joins, pushes refused, handlers that threw, and the joins of history topics.
 */
export function channelMetrics(registry: Registry) {
  return {
    channelsJoined: gauge(registry, "cinder_channels", "Joined channels"),
    joinsInProgress: gauge(
      registry,
      "cinder_joins_in_progress",
      "Joins this thread was asked for and has not answered yet (in the handler's join, reading history, routing the topic); with the join backlog, what maxPendingJoins bounds",
    ),
    joins: counter(registry, "cinder_joins_total", "Channel joins accepted"),
    pushesRefused: counter(registry, "cinder_pushes_refused_total", "Pushes refused because their channel's handler was too far behind (maxQueuedPushes)"),
    channelCrashes: counter(registry, "cinder_channel_crashes_total", "Channel handlers that threw"),
    historyJoins: counter(registry, "cinder_history_joins_total", "Joins of history topics: fresh (no _since), recovered (missed messages replayed), not_recovered", ["outcome"]),
  };
}

export type ChannelMetrics = ReturnType<typeof channelMetrics>;
