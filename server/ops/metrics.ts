import { AggregatorRegistry, Counter, Gauge, Registry, collectDefaultMetrics, type MetricObjectWithValues, type MetricValue } from "prom-client";

/** Prometheus metrics of one node, served at /metrics. */
export class Metrics {
  readonly registry = new Registry();
  readonly sockets = new Gauge({ name: "cinder_sockets", help: "Open WebSockets", registers: [this.registry] });
  readonly channelsJoined = new Gauge({ name: "cinder_channels", help: "Joined channels", registers: [this.registry] });
  readonly connectsRejected = new Counter({
    name: "cinder_connects_rejected_total",
    help: "WebSocket upgrades refused (bad vsn, origin, connect hook)",
    labelNames: ["reason"] as const,
    registers: [this.registry],
  });
  readonly joins = new Counter({ name: "cinder_joins_total", help: "Channel joins accepted", registers: [this.registry] });
  readonly joinBacklog = this.gauge("cinder_join_backlog", "Joins (and frames of their sockets behind them) waiting for their turn because the thread is busy (at most 200,000 per thread)");
  readonly joinsDeferred = this.counter("cinder_joins_deferred_total", "Frames that waited in the join backlog instead of running at once, the thread being busy");
  readonly messagesReceived = new Counter({ name: "cinder_messages_received_total", help: "Frames received from clients and decoded (joins, pushes, heartbeats)", registers: [this.registry] });
  readonly deliveries = new Counter({ name: "cinder_deliveries_total", help: "Messages handed to subscribers of a topic (one per subscriber per broadcast)", registers: [this.registry] });
  readonly presenceDiffs = new Counter({ name: "cinder_presence_diffs_total", help: "presence_diff messages delivered to this thread's topics (one per topic per coalesced change)", registers: [this.registry] });
  // Presence in big rooms (docs/presence.md, "Joining storms").
  readonly presenceDiffsMerged = this.counter("cinder_presence_diffs_merged_total", "Presence changes merged into a topic's pending presence_diff instead of going out on their own (presenceDiffCoalesceMs)");
  readonly presenceDiffsWithheld = this.counter(
    "cinder_presence_diffs_withheld_total",
    "presence_diff deliveries not made because the member waits for a presence_state that covers them",
  );
  readonly presenceStateWaiting = this.gauge("cinder_presence_state_waiting", "Members catching up on a topic's list: just joined (or waiting for their replica's first sync), or fell behind (bounded by the members)");
  readonly presenceStateBytesHeld = this.gauge(
    "cinder_presence_state_bytes_held",
    "Bytes of list snapshots and diff logs held for members catching up (per room: its live snapshots, and a log of at most max(presenceResyncBytes, 4 lists))",
  );
  readonly presenceStateEncodings = this.counter("cinder_presence_state_encodings_total", "Snapshots taken of a topic's list for members catching up (each shared by every member started on it)");
  readonly presenceStatesSent = this.counter(
    "cinder_presence_states_sent_total",
    "presence_state frames sent from shared snapshots: join (a member's first), resync (a fresh one after it fell behind)",
    ["reason"],
  );
  readonly presenceStateRestarts = this.counter(
    "cinder_presence_state_restarts_total",
    "Members catching up that start again from a fresh snapshot: log (the room's diff log dropped diffs they needed), stalled (their client read nothing for 5 s and gave up its turn)",
    ["reason"],
  );
  readonly presenceFellBehind = this.counter(
    "cinder_presence_fell_behind_total",
    "Members taken off presence_diff because they had more than presenceResyncBytes unread; each gets a fresh presence_state",
  );
  // A starting replica's first sync (docs/presence.md, "A starting replica's first sync").
  readonly presenceFirstSync = this.counter(
    "cinder_presence_first_sync_total",
    "Starts of a presence replica (one per worker thread): complete (every live replica sent its state), timeout (presenceFirstSyncTimeoutMs passed first; its lists were served with what had come)",
    ["outcome"],
  );
  readonly presenceStateSyncWaits = this.counter(
    "cinder_presence_state_sync_waits_total",
    "presence_state requests that waited for their replica's first sync (at most presenceFirstSyncTimeoutMs after its start)",
  );
  readonly nodeRequestsPending = new Gauge({
    name: "cinder_fabric_node_requests_pending",
    help: "Questions this node asked other nodes and still waits on (at most 32; see the node request lane)",
    registers: [this.registry],
  });
  readonly nodeRequestsRefused = new Counter({
    name: "cinder_fabric_node_requests_refused_total",
    help: "Node questions not asked or not answered because 32 were already in flight: asked (this node asking), answered (other nodes asking)",
    labelNames: ["side"] as const,
    registers: [this.registry],
  });
  readonly frameErrors = new Counter({ name: "cinder_frame_errors_total", help: "Inbound frames that could not be decoded", registers: [this.registry] });
  readonly framesRefused = new Counter({
    name: "cinder_frames_refused_total",
    help: "Inbound frames refused by a limit (the socket is closed with 1007): depth (maxPayloadDepth), topic_length, event_length",
    labelNames: ["limit"] as const,
    registers: [this.registry],
  });
  readonly rateLimited = new Counter({
    name: "cinder_rate_limited_total",
    help: "Actions over a rate limit: frames, joins, presence (answered with an error), connects (HTTP 429), close (sockets closed with 1008 for staying over the frame limit), and bytes (sockets closed with 1008 over maxInboundBytesPerSecond)",
    labelNames: ["limit"] as const,
    registers: [this.registry],
  });
  readonly channelCrashes = new Counter({ name: "cinder_channel_crashes_total", help: "Channel handlers that threw", registers: [this.registry] });
  readonly slowConsumers = new Counter({ name: "cinder_slow_consumer_disconnects_total", help: "Sockets closed for falling behind", registers: [this.registry] });
  readonly bufferedBytes = this.gauge("cinder_buffered_bytes", "Outbound bytes queued for sockets that have not read them yet (maxNodeBufferedBytes caps them)");
  readonly drainBatches = this.counter("cinder_drain_batches_total", "Batches of sockets closed by a drain (SIGTERM, close()), spread over drainPeriod");
  readonly drainCloses = this.counter("cinder_drain_closes_total", "Sockets closed (1001) by a drain");
  readonly nodeCapDisconnects = this.counter(
    "cinder_slow_consumer_node_cap_disconnects_total",
    "Sockets closed (1013) because the node held more unread bytes than maxNodeBufferedBytes, the largest holders first",
  );
  readonly broadcasts = new Counter({ name: "cinder_broadcasts_total", help: "Broadcasts published on this node", registers: [this.registry] });
  readonly fabricSent = new Counter({ name: "cinder_fabric_node_broadcasts_sent_total", help: "Broadcasts this node handed to Redis for other nodes (failed sends are counted in /health redis.dropped)", registers: [this.registry] });
  readonly fabricReceived = new Counter({ name: "cinder_fabric_node_broadcasts_received_total", help: "Broadcasts this node received from other nodes through Redis", registers: [this.registry] });
  readonly encodeErrors = new Counter({
    name: "cinder_encode_errors_total",
    help: "Payloads a serializer could not encode (skipped for that serializer, or answered with an error reply)",
    labelNames: ["serializer"] as const,
    registers: [this.registry],
  });
  readonly pushesRefused = new Counter({ name: "cinder_pushes_refused_total", help: "Pushes refused because their channel's handler was too far behind (maxQueuedPushes)", registers: [this.registry] });
  readonly historyJoins = new Counter({
    name: "cinder_history_joins_total",
    help: "Joins of history topics: fresh (no _since), recovered (missed messages replayed), not_recovered",
    labelNames: ["outcome"] as const,
    registers: [this.registry],
  });
  readonly historyBytes = new Gauge({
    name: "cinder_history_bytes",
    help: "Bytes of history frames kept in memory by this thread (a node without Redis; capped by historyMaxBytes)",
    registers: [this.registry],
  });
  readonly historyRefills = new Counter({
    name: "cinder_history_refilled_total",
    help: "History broadcasts this node missed from Redis pub/sub (a reconnect; the start of a new epoch, as after Redis restarted empty) and read back from the topic's stream for its subscribers",
    registers: [this.registry],
  });
  readonly historyUnrefilled = new Counter({
    name: "cinder_history_unrefilled_total",
    help: "History broadcasts this node missed from Redis pub/sub and could not read back (no longer in the topic's stream, or the read failed): its live subscribers never got them",
    registers: [this.registry],
  });
  readonly historyStoresPending = new Gauge({
    name: "cinder_history_stores_pending",
    help: "Stored broadcasts (broadcastStored, POST /api/broadcast on a history topic) this thread sent on and waits on, by what it waits on: redis, or main_thread (a worker; its node's main thread then waits on Redis for it too). At most historyMaxPendingStores per thread",
    labelNames: ["on"] as const,
    registers: [this.registry],
  });
  readonly historyStoresFailed = this.counter(
    "cinder_history_stores_failed_total",
    "Stored broadcasts rejected with a StoreError, by reason: unavailable, overloaded, failed (not kept), timeout (no answer in time: may be kept)",
    ["reason"],
  );
  readonly topicWorkers = new Gauge({ name: "cinder_topic_workers", help: "Topic workers running on this node", registers: [this.registry] });
  readonly topicWorkerStarts = new Counter({
    name: "cinder_topic_worker_starts_total",
    help: "Topic worker starts: ok, or failed (the start threw; retried with backoff)",
    labelNames: ["outcome"] as const,
    registers: [this.registry],
  });
  readonly topicWorkerStops = new Counter({
    name: "cinder_topic_worker_stops_total",
    help: "Topic workers stopped: linger (no subscribers left), lost (the lease passed on), expired (not renewed in time), drain",
    labelNames: ["reason"] as const,
    registers: [this.registry],
  });
  readonly topicWorkerStateEvictions = new Counter({
    name: "cinder_topic_worker_state_evictions_total",
    help: "Topics whose topic-worker state a node without Redis forgot to keep at most 10,000 (the least recently written first)",
    registers: [this.registry],
  });
  readonly topicWorkerEffectsRefused = new Counter({
    name: "cinder_topic_worker_effects_refused_total",
    help: "Broadcasts and state writes of topic workers refused by fencing (the lease was no longer theirs)",
    registers: [this.registry],
  });
  readonly counterIncrements = new Counter({ name: "cinder_counter_increments_total", help: "Counter increments and actor ids accepted on this thread", registers: [this.registry] });
  readonly counterPending = new Gauge({
    name: "cinder_counter_pending",
    help: "Counters and actor ids waiting on this thread for the next flush (at most counterMaxKeys)",
    registers: [this.registry],
  });
  readonly counterDropped = new Counter({
    name: "cinder_counter_dropped_total",
    help: "Counter increments (their amounts) and actor ids lost: pending_full (counterMaxKeys reached while Redis was unreachable), flush_failed (Redis failed a flush)",
    labelNames: ["reason"] as const,
    registers: [this.registry],
  });
  readonly counterFlushes = new Counter({ name: "cinder_counter_flushes_total", help: "Pipelines of coalesced counter increments this node sent to Redis", registers: [this.registry] });
  readonly counterFlushCommands = new Counter({ name: "cinder_counter_flush_commands_total", help: "Redis commands in those pipelines (one per counter written)", registers: [this.registry] });
  readonly counterKeys = new Gauge({ name: "cinder_counters", help: "Counters kept in memory by this thread (a node without Redis; at most counterMaxKeys)", registers: [this.registry] });
  readonly counterEvictions = new Counter({ name: "cinder_counter_evictions_total", help: "Counters forgotten because counterMaxKeys were kept (the one written longest ago goes)", registers: [this.registry] });
  readonly countTopics = new Gauge({
    name: "cinder_count_topics",
    help: "Topics whose live counts this thread pushes: counter (counter:<key> topics) and presence (presence_count subscribers)",
    labelNames: ["kind"] as const,
    registers: [this.registry],
  });
  // Auth (docs/security.md).
  readonly socketIds = this.gauge(
    "cinder_socket_ids",
    "Distinct socket ids (from the connect hook or the token's sub) of this thread's open sockets, the index force-disconnects use (bounded by the sockets)",
  );
  readonly forcedDisconnects = this.counter("cinder_forced_disconnects_total", "Sockets closed by server.disconnect(id) or POST /api/disconnect");
  readonly tokenExpiryCloses = this.counter("cinder_token_expiry_closes_total", "Sockets closed because their token expired without a fresh access_token");
  readonly tokenRefreshes = this.counter(
    "cinder_token_refreshes_total",
    "In-band access_token pushes: ok (the session goes on), refused (bad, expired or another user's token; or one already being verified)",
    ["outcome"],
  );
  readonly joinsRefusedByToken = this.counter("cinder_joins_refused_by_token_total", "Joins refused because the token's channels claim does not allow the topic");
  readonly nodeRelaysRefused = this.counter(
    "cinder_fabric_node_relays_refused_total",
    "Relayed requests (LongPoll) not sent or not answered because 10,000 were already in flight on the node relay lane: asked (this node asking), answered (other nodes asking)",
    ["side"],
  );
  // LongPoll (docs/longpoll.md).
  readonly longPollSessions = this.gauge("cinder_longpoll_sessions", "Open LongPoll sessions owned by this thread");
  readonly longPollRequests = this.counter(
    "cinder_longpoll_requests_total",
    "LongPoll requests answered by this thread, by method and the status in the body (410: a handshake or a session gone); a relayed request counts on the thread the client reached and on its owner",
    ["method", "status"],
  );
  readonly longPollRelayed = this.counter(
    "cinder_longpoll_relayed_total",
    "LongPoll requests this thread received for a session another thread or node owns: answered (by the owner), unanswered (the owner could not be reached or did not answer in time), refused (longPollMaxRelays in flight); the last two answer 410",
    ["outcome"],
  );
  readonly longPollRelaysInFlight = this.gauge("cinder_longpoll_relays_in_flight", "LongPoll requests this thread relayed and still waits on (at most longPollMaxRelays)");
  readonly longPollOverflows = this.counter("cinder_longpoll_overflows_total", "LongPoll sessions ended because their buffer between polls went over longPollMaxBufferedBytes");
  readonly longPollTimeouts = this.counter("cinder_longpoll_timeouts_total", "LongPoll sessions ended because no poll came for 1.5 windows");
  readonly longPollBinarySkipped = this.counter("cinder_longpoll_binary_skipped_total", "Binary frames (byte payloads) not sent to LongPoll sessions, which receive JSON text only");
  readonly sendFailures = new Counter({ name: "cinder_queued_send_failures_total", help: "Items of the publish queue that failed (the rest still went out)", registers: [this.registry] });

  private counter<L extends string>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  private gauge(name: string, help: string): Gauge {
    return new Gauge({ name, help, registers: [this.registry] });
  }

  /** Process metrics (CPU, memory, event loop) are per process: collect them in one thread only. */
  constructor(options: { processMetrics: boolean } = { processMetrics: true }) {
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry });
  }
}

/** Sums the metrics of several worker threads into one Prometheus text. */
export async function aggregateMetrics(perWorker: unknown[]): Promise<string> {
  const registry = AggregatorRegistry.aggregate(perWorker as Array<Array<MetricObjectWithValues<MetricValue<string>>>>);
  return registry.metrics();
}
