import { counter, gauge, type Registry } from "../ops/metrics.js";

/**
 * A thread's socket metrics: frames received and refused, rate limits, slow consumers and the node
 * buffer cap, the join backlog, drains, and a socket's token.
 */
export function socketMetrics(registry: Registry) {
  return {
    messagesReceived: counter(registry, "cinder_messages_received_total", "Frames received from clients and decoded (joins, pushes, heartbeats)"),
    frameErrors: counter(registry, "cinder_frame_errors_total", "Inbound frames that could not be decoded"),
    framesRefused: counter(
      registry,
      "cinder_frames_refused_total",
      "Inbound frames refused by a limit (the socket is closed with 1007): depth (maxPayloadDepth), topic_length, event_length",
      ["limit"],
    ),
    rateLimited: counter(
      registry,
      "cinder_rate_limited_total",
      "Actions over a rate limit: frames, joins, presence (answered with an error), connects (HTTP 429), close (sockets closed with 1008 for staying over the frame limit), and bytes (sockets closed with 1008 over maxInboundBytesPerSecond)",
      ["limit"],
    ),
    slowConsumers: counter(registry, "cinder_slow_consumer_disconnects_total", "Sockets closed for falling behind"),
    bufferedBytes: gauge(registry, "cinder_buffered_bytes", "Outbound bytes queued for sockets that have not read them yet (maxNodeBufferedBytes caps them)"),
    nodeCapDisconnects: counter(
      registry,
      "cinder_slow_consumer_node_cap_disconnects_total",
      "Sockets closed (1013) because the node held more unread bytes than maxNodeBufferedBytes, the largest holders first",
    ),
    joinBacklog: gauge(registry, "cinder_join_backlog", "Joins (and frames of their sockets behind them), and WebSocket upgrades where the uWS build allows, waiting for their turn because the thread is busy (at most 200,000 per thread)"),
    joinsDeferred: counter(registry, "cinder_joins_deferred_total", "Frames that waited in the join backlog instead of running at once, the thread being busy"),
    drainBatches: counter(registry, "cinder_drain_batches_total", "Batches of sockets closed by a drain (SIGTERM, close()), spread over drainPeriod"),
    drainCloses: counter(registry, "cinder_drain_closes_total", "Sockets closed (1001) by a drain"),
    tokenExpiryCloses: counter(registry, "cinder_token_expiry_closes_total", "Sockets closed because their token expired without a fresh access_token"),
    tokenRefreshes: counter(
      registry,
      "cinder_token_refreshes_total",
      "In-band access_token pushes: ok (the session goes on), refused (bad, expired or another user's token; or one already being verified)",
      ["outcome"],
    ),
    joinsRefusedByToken: counter(registry, "cinder_joins_refused_by_token_total", "Joins refused because the token's channels claim does not allow the topic"),
  };
}

export type SocketMetrics = ReturnType<typeof socketMetrics>;
