import { makeIncarnation, makeReplicaId } from "../crdt/index.js";
import type { us_listen_socket } from "./uws-types.js";
import type { ChannelServices } from "./channel/channel-services.js";
import type { HistoryRead } from "./history/history-read.js";
import type { StoredBroadcast } from "./history/store-error.js";
import type { ChannelHandler } from "./channel/handler.js";
import type { Payload } from "./channel/results.js";
import { ChannelRouter } from "./channel/router.js";
import { HandlerNumbers } from "./channel/handler-numbers.js";
import { HANDLER_NUMBERS } from "./channel/channel.js";
import { resolveConfig, type ServerConfig } from "./config.js";
import type { ConnectHook } from "./endpoint/connect-hook.js";
import { BackendHooks } from "./hooks/backend-hooks.js";
import { HttpRequestsInFlight } from "./endpoint/http-in-flight.js";
import { mountEndpoints } from "./endpoints.js";
import { JoinsInProgress } from "./channel/joins-in-progress.js";
import { LongPollTopics } from "./longpoll/longpoll-topics.js";
import type { LongPollSessions } from "./longpoll/sessions.js";
import type { Fabric } from "./fabric/fabric.js";
import type { HistoryAuthority } from "./history/history.js";
import { HistoryTopics } from "./channel/history-topics.js";
import { historyFor } from "./history/history-for.js";
import type { NodeSnapshot } from "./dashboard/node-snapshot.js";
import { NodeDashboard } from "./dashboard/node-dashboard.js";

export type { HealthReport, HistoryRead };
import { MemoryFabric } from "./fabric/fabric-memory.js";
import type { Medium } from "./fabric/medium.js";
import { fabricOverRedis } from "./fabric/redis-medium.js";
import { RedisConnections } from "./redis/redis-connections.js";
import type { Leases } from "./leases/leases.js";
import { leasesFor } from "./leases/leases-for.js";
import { WorkerFabric } from "./fabric/fabric-workers.js";
import type { PeerMesh } from "./fabric/mesh.js";
import { workerReplicaName } from "./fabric/replica-names.js";
import { listenOn, loadNativeUws } from "./native-uws.js";
import { listenError } from "./endpoint/listen-error.js";
import { createLogger, type Logger } from "./ops/logger.js";
import { drainOnSignals, type DrainOnSignalsOptions } from "./ops/drain-on-signals.js";
import { nodeMetrics, type NodeMetrics } from "./node-metrics.js";
import type { HealthReport } from "./stats/node-report.js";
import { ThreadReports } from "./stats/thread-reports.js";
import type { PresenceService } from "./presence/presence-service.js";
import { ThreadPresence } from "./presence/thread-presence.js";
import { parseGossipMessage } from "./presence/messages.js";
import { Counters } from "./counters/counters.js";
import type { CounterStore } from "./counters/counter-store.js";
import { counterStoreFor } from "./counters/counter-store-for.js";
import { Broadcaster } from "./pubsub/broadcaster.js";
import { LocalFanout } from "./pubsub/local-fanout.js";
import { PublishQueue } from "./pubsub/publish-queue.js";
import type { SocketConnection, SocketServices } from "./socket/connection.js";
import { NodeBufferCap } from "./socket/node-buffer-cap.js";
import { SlowConsumerSweep } from "./socket/slow-consumers.js";
import { drainSockets } from "./socket/staggered-drain.js";
import { JoinBacklog } from "./socket/join-backlog.js";
import type { TopicWorkerSpec } from "./topic-workers/topic-worker.js";
import { TopicWorkers } from "./topic-workers/topic-workers.js";
import { DisconnectLane } from "./auth/disconnect.js";
import type { TopicWorkerServices } from "./topic-workers/worker-run.js";
import { ThreadWebhooks } from "./webhooks/thread-webhooks.js";
import { webhookNoticesFor } from "./webhooks/webhooks-for.js";
import { resolveWebhooks } from "./webhooks/webhook-settings.js";

export interface CreateServerOptions extends Partial<ServerConfig> {
  /** Accept or refuse each socket; see ConnectHook. Without it every socket is accepted. */
  connect?: ConnectHook;
  /** Channels by topic pattern; `server.channel()` adds more. */
  channels?: Record<string, ChannelHandler>;
  /** The clock counter buckets are numbered by (default Date.now); tests slide windows with it. */
  clock?: () => number;
}

/** How a server started by `startNode` sits among the worker threads of its node (internal). */
export interface WorkerTopology {
  index: number;
  incarnation: string;
  /** Ports to the sibling workers and to the node's main thread. */
  mesh: PeerMesh;
  /** A key the node's threads share (LongPoll session tokens, when no secretKeyBase is set). */
  nodeSecret: string;
}

/** A Cinder node (or one worker thread of one): a uWS app serving sockets, channels, presence and the HTTP endpoints. */
export class CinderServer {
  readonly config: ServerConfig;
  readonly log: Logger;
  readonly metrics: NodeMetrics;
  readonly presence: PresenceService;
  /** Sliding-window activity counters (docs/counters.md). */
  readonly counters: Counters;
  private readonly threadPresence: ThreadPresence;
  private readonly now: () => number;
  private readonly router = new ChannelRouter();
  private readonly handlerNumbers = new HandlerNumbers(HANDLER_NUMBERS);
  private readonly app;
  private readonly fabric: Fabric;
  private readonly counterStore: CounterStore;
  /** One holder per topic across the cluster, with fencing (topic workers; see leases/leases.ts). */
  private readonly leases: Leases;
  private readonly historyAuthority: HistoryAuthority;
  private readonly historyTopics: HistoryTopics;
  private readonly fanout: LocalFanout;
  private readonly queue: PublishQueue;
  private readonly broadcaster: Broadcaster;
  private readonly connections = new Set<SocketConnection>();
  private connectHook: ConnectHook | undefined;
  private readonly uws = loadNativeUws();
  private listenSocket: us_listen_socket | null = null;
  private boundPort = 0;
  private readonly startedAt = Date.now();
  private draining = false;
  private readonly slowConsumers: SlowConsumerSweep<SocketConnection>;
  private readonly bufferCap: NodeBufferCap<SocketConnection>;
  private readonly joinsInProgress: JoinsInProgress;
  private readonly joinBacklog = new JoinBacklog({
    onSize: (size) => this.metrics.joinBacklog.set(size),
    onDeferred: () => this.metrics.joinsDeferred.inc(),
  });
  private readonly topicWorkers: TopicWorkers;
  private readonly reports: ThreadReports;
  private readonly dashboard: NodeDashboard;
  private readonly disconnects: DisconnectLane;
  /** The `hooks` setting's connect hook and channels (undefined without it). */
  private readonly backendHooks: BackendHooks | undefined;
  /** This thread's LongPoll sessions (undefined with `longPoll: false`). */
  private readonly longPoll: LongPollSessions | undefined;
  private readonly longPollTopics = new LongPollTopics();
  private readonly httpInFlight = new HttpRequestsInFlight();
  /** What this thread tells the node's webhooks (undefined without the webhooks setting). */
  private readonly webhooks: ThreadWebhooks | undefined;

  constructor(options: CreateServerOptions = {}, private readonly topology?: WorkerTopology) {
    const { connect, channels, clock, ...settings } = options;
    this.now = clock ?? Date.now;
    this.config = resolveConfig(settings);
    const config = this.config;
    this.log = createLogger(config.logLevel, config.nodeName);
    if (topology) this.log = this.log.child({ worker: topology.index });
    const incarnation = topology?.incarnation ?? makeIncarnation(Date.now(), Math.random());
    // A multi-worker node collects process metrics in its main thread.
    this.metrics = nodeMetrics({ processMetrics: !topology, eventLoopResolutionMs: config.eventLoopResolutionMs });
    this.joinsInProgress = new JoinsInProgress(this.metrics.joinsInProgress);
    this.bufferCap = this.createBufferCap();
    this.slowConsumers = new SlowConsumerSweep(this.connections, config.maxBufferedBytes, (connection, bytes) => this.bufferCap.observe(connection, bytes));
    this.app = this.uws.App();
    const replicaName = workerReplicaName(config.nodeName, topology?.index ?? 0);
    const replica = makeReplicaId(replicaName, incarnation);
    const { fabric: threadFabric, medium } = this.createFabric(replica, incarnation);
    this.fabric = threadFabric;
    this.counterStore = this.createCounterStore(medium);
    this.leases = leasesFor(medium, () => this.metrics.topicWorkerStateEvictions.inc());
    this.webhooks = this.createWebhooks(medium, replica);
    this.topicWorkers = new TopicWorkers({ claimant: replica, ttlMs: config.topicWorkerTtl, services: this.topicWorkerServices() });
    this.queue = new PublishQueue(this.app, this.log, () => this.metrics.sendFailures.inc(), config.longPoll ? this.longPollTopics.publish : undefined, () => this.slowConsumers.published());
    this.fanout = new LocalFanout({
      queue: this.queue,
      log: this.log,
      metrics: this.metrics,
      // With webhooks on occupancy, each topic's first and last subscriber here is told to them too.
      fabric: this.webhooks?.wantsOccupancy ? this.webhooks.interest(this.fabric) : this.fabric,
      follower: this.topicWorkers,
      behind: { watermark: config.behindBytes, maxKeys: config.conflationMaxKeys },
    });
    this.historyAuthority = this.createHistoryAuthority(medium);
    this.historyTopics = new HistoryTopics({ authority: this.historyAuthority, fanout: this.fanout, declarations: this.router, maxRecover: config.historyMaxRecover, metrics: this.metrics, log: this.log });
    this.broadcaster = new Broadcaster(this.fanout, this.fabric, this.leases, this.historyAuthority, this.metrics, this.log, this.router, config.maxPayloadDepth);
    this.threadPresence = new ThreadPresence({ settings: config, replicaName, incarnation, fabric: this.fabric, fanout: this.fanout, metrics: this.metrics, log: this.log, declarations: this.router });
    this.presence = this.threadPresence.service;
    if (this.webhooks?.wantsPresence) this.presence.onChanges(this.webhooks.presenceChanged);
    this.counters = new Counters({ store: this.counterStore, now: this.now, metrics: this.metrics, log: this.log, deliver: (topic, reading) => this.fanout.deliver(topic, "counter", reading), intervalMs: config.countIntervalMs });
    this.reports = new ThreadReports({ fabric: this.fabric, metrics: this.metrics, fanout: this.fanout, connections: this.connections, worker: topology?.index, health: () => this.health() });
    const { fabric, fanout, broadcaster, historyTopics, reports, metrics, presence, router, log } = this;
    this.dashboard = new NodeDashboard({ settings: config, fabric, fanout, broadcaster, reports, metrics, presence, router, log, health: () => this.health(), historyTopics });
    for (const [pattern, handler] of Object.entries(channels ?? {})) this.channel(pattern, handler);
    this.backendHooks = config.hooks && new BackendHooks(config.hooks, { node: config.nodeName, threads: topology ? config.workers : 1, metrics, log });
    for (const hooked of this.backendHooks?.channels ?? []) this.router.addHooked(hooked.pattern, hooked.handler);
    // A connect hook in code (the option, or server.connect later) wins over the backend's.
    this.connectHook = connect ?? this.backendHooks?.connect;
    this.disconnects = new DisconnectLane(this.fabric, this.metrics, this.log);
    this.longPoll = mountEndpoints({
      app: this.app,
      httpInFlight: this.httpInFlight,
      config,
      services: this.socketServices(incarnation),
      fabric: this.fabric,
      connect: () => this.connectHook,
      connections: this.connections,
      self: { node: config.nodeName, worker: topology?.index ?? 0 },
      nodeSecret: topology?.nodeSecret,
      disconnects: this.disconnects,
      longPollTopics: this.longPollTopics,
      broadcaster: this.broadcaster,
      historyTopics,
      reports: this.reports,
      metrics: this.metrics,
      log: this.log,
    });
  }

  /** Accept or refuse each socket (the same as the `connect` option). */
  connect(hook: ConnectHook): this {
    this.connectHook = hook;
    return this;
  }

  /** Route topics matching `pattern` ("room:lobby" or "room:*") to `handler`. */
  channel<A extends Record<string, unknown>>(pattern: string, handler: ChannelHandler<A>): this {
    this.router.add(pattern, handler as unknown as ChannelHandler);
    return this;
  }

  /**
   * Runs `spec.start` once per topic matching `pattern` ("score:lobby" or "score:*") across the
   * whole cluster, while the topic has subscribers (docs/topic-workers.md).
   */
  topicWorker(pattern: string, spec: TopicWorkerSpec): this {
    this.topicWorkers.add(pattern, spec);
    return this;
  }

  /**
   * Broadcast to every subscriber of `topic` (app code, timers, HTTP handlers). Fire-and-forget;
   * on a history topic, `broadcastStored` says whether the message was kept.
   */
  broadcast(topic: string, event: string, payload: Payload): void {
    this.broadcaster.broadcast(topic, event, payload, null);
  }

  /**
   * Broadcast to a topic whose channel keeps history, confirmed: resolves with the message's
   * offset and epoch once it is kept (it is then delivered, or recovered), or rejects with a
   * StoreError within historyStoreTimeoutMs; a TypeError for a topic without history or a byte
   * payload (docs/history-and-recovery.md).
   */
  broadcastStored(topic: string, event: string, payload: Record<string, unknown>): Promise<StoredBroadcast> {
    return this.broadcaster.broadcastStored(topic, event, payload, null);
  }

  /**
   * Closes every socket whose id is `id` (the connect hook's `id`, or the token's `sub`), on
   * every worker thread and node, as Phoenix's `Endpoint.broadcast("users_socket:" <> id,
   * "disconnect", %{})`. The clients see close code 4403 and reconnect, meeting auth afresh.
   * Returns how many of them were on this thread.
   */
  disconnect(id: string): number {
    return this.disconnects.disconnect(id);
  }

  /**
   * What a history topic keeps after offset `since` (default 0: all of it), at most `limit`
   * messages (default 100, at most 1000), oldest first. Throws for a topic whose channel keeps
   * no history.
   */
  history(topic: string, options: { since?: number; limit?: number } = {}): Promise<HistoryRead> {
    return this.historyTopics.read(topic, options);
  }

  /** The port bound by `listen()` (useful with `port: 0`). */
  get port(): number {
    return this.boundPort;
  }

  /**
   * Starts serving. Rejects with a ListenError when the port cannot be listened on, e.g. another
   * program or node listens there (unless both share it on purpose: `reusePort`).
   */
  listen(): Promise<this> {
    const { host, port, reusePort } = this.config;
    // A node's worker threads share its port; nodes share one only when told to.
    const shared = reusePort || this.topology !== undefined;
    return new Promise((resolve, reject) => {
      listenOn(this.app, host, port, shared, (socket) => {
        if (!socket) {
          listenError(host, port).then(reject, reject);
          return;
        }
        // Told to drain while still starting (a replaced worker, SIGTERM meanwhile): stop here,
        // or the thread would serve on, with nothing left to end it.
        if (this.draining) {
          this.uws.us_listen_socket_close(socket);
          resolve(this);
          return;
        }
        this.listenSocket = socket;
        this.boundPort = this.uws.us_socket_local_port(socket);
        this.presence.start();
        this.fabric.start();
        this.disconnects.start();
        this.log.info({ host: this.config.host, port: this.boundPort, socketPath: this.config.socketPath }, "listening");
        resolve(this);
      });
    });
  }

  /**
   * Graceful stop (a drain): no new connections; sockets closed with 1001 in batches spread over
   * drainPeriod, so clients reconnect elsewhere a batch at a time and their presences leave as
   * they go; then presence peers told and everything still queued flushed.
   */
  async close(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    this.stopCounts();
    if (this.listenSocket) this.uws.us_listen_socket_close(this.listenSocket);
    this.listenSocket = null;
    this.dashboard.announceDraining();
    // Topic workers hand their leases over first, while this node can still reach the others.
    await this.topicWorkers.close();
    // A server that never listened has no sockets to drain (a node whose start failed).
    if (this.boundPort !== 0) await drainSockets(this.connections, this.config, {
      // Presence diffs still being coalesced and queued broadcasts reach a batch before it closes.
      beforeBatch: () => {
        this.presence.flushDiffs();
        this.queue.flush();
      },
      afterBatch: (batch) => {
        this.metrics.drainBatches.inc();
        this.metrics.drainCloses.inc(batch.closed);
        this.log.info(batch, "drain batch");
      },
    });
    // Slow consumers and the node buffer cap stay watched while sockets wait for their batch.
    this.slowConsumers.stop();
    this.bufferCap.stop();
    // Stopping presence delivers the diffs still being coalesced: they join the queue first.
    this.presence.stop({ graceful: true });
    this.queue.flush();
    this.longPoll?.closeAll();
    // The last occupancy and presence events, and what is queued, go out while Redis is still there.
    await this.webhooks?.close();
    await this.closeHttp();
    this.backendHooks?.close();
    // Pending counter increments go out before the Redis connections close.
    await this.counterStore.close();
    await this.fabric.close();
    if (this.boundPort !== 0) this.log.info("stopped");
  }

  /**
   * Drains on SIGTERM and SIGINT (or `options.signals`), then ends the process: what `npx
   * cinder` does (docs/operations.md). Without it a signal ends the process at once, with no
   * drain. Returns a function that removes the handlers.
   */
  drainOnSignals(options?: DrainOnSignalsOptions): () => void {
    return drainOnSignals(() => this.close(), this.log, options);
  }

  /**
   * The last of a drain: the HTTP requests in flight get their answers (each closing its
   * connection), then every connection left, idle keep-alive ones (a load balancer's health
   * checks), is closed, so nothing holds the thread open until uWS's own 10 s idle timeout.
   */
  private async closeHttp(): Promise<void> {
    if (this.httpInFlight.count > 0) this.log.info({ requests: this.httpInFlight.count }, "drain: answering HTTP requests in flight");
    // A relayed LongPoll poll waits up to a window for its answer; nothing answers later than that.
    await this.httpInFlight.finish(this.config.longPollWindowMs + HTTP_ANSWER_MARGIN_MS);
    this.app.close();
  }

  /** This thread's numbers. */
  health(): HealthReport {
    const redis = this.fabric.redisStatus();
    return {
      status: this.draining ? "draining" : redis && !redis.connected ? "degraded" : "ok",
      node: this.config.nodeName,
      uptimeMs: Date.now() - this.startedAt,
      sockets: this.connections.size,
      channels: this.fanout.subscriptionCount,
      topics: this.fanout.topicCount,
      ...(redis ? { redis } : {}),
    };
  }

  /** The node's numbers: this thread's, gathered with every other thread's when there are several. */
  healthReport(): Promise<HealthReport> {
    return this.reports.healthReport();
  }

  /** Prometheus text for the whole node (threads are summed). */
  metricsText(): Promise<string> {
    return this.reports.metricsText();
  }

  /**
   * The thread is going down after an unexpected error: close every socket at once (clients
   * see 1006 and reconnect), stop serving, and let the thread end. Peers learn from the main
   * thread that this replica is gone.
   */
  crash(): void {
    this.draining = true;
    this.slowConsumers.stop();
    this.bufferCap.stop();
    this.stopCounts();
    if (this.listenSocket) this.uws.us_listen_socket_close(this.listenSocket);
    this.listenSocket = null;
    this.presence.stop();
    void this.topicWorkers.close();
    for (const connection of [...this.connections]) connection.abort();
    this.longPoll?.closeAll();
    this.backendHooks?.close();
    // Open Redis sockets would keep the dying thread alive.
    void this.counterStore
      .close()
      .then(() => this.fabric.close())
      .catch(() => undefined);
  }

  private stopCounts(): void {
    this.dashboard.stop();
    this.counters.stop();
    this.threadPresence.stopFeeds();
  }

  /** This node as the dashboard shows it, gathered from every thread like /health and /metrics. */
  nodeSnapshot(): Promise<NodeSnapshot> {
    return this.dashboard.nodeSnapshot();
  }

  /** Watches the bytes buffered across this thread's sockets, closing the slowest past maxNodeBufferedBytes. */
  private createBufferCap(): NodeBufferCap<SocketConnection> {
    const { config } = this;
    return new NodeBufferCap({
      cap: config.maxNodeBufferedBytes,
      onTotal: (bytes) => this.metrics.bufferedBytes.set(bytes),
      onShed: (closed, freedBytes, bufferedBytes) =>
        this.log.warn({ closed, freedBytes, bufferedBytes, cap: config.maxNodeBufferedBytes }, "node buffer cap reached: closed the slowest consumers"),
    });
  }

  /** This thread's fabric, and the medium its lanes are built on (chosen here, once). */
  private createFabric(replica: string, incarnation: string): { fabric: Fabric; medium: Medium } {
    const { config, topology, metrics } = this;
    if (topology) {
      const fabric = new WorkerFabric({ mesh: topology.mesh, nodeName: config.nodeName, linked: config.redisUrl !== undefined, log: this.log });
      return { fabric, medium: { kind: "workers", fabric, worker: topology.index } };
    }
    if (!config.redisUrl) return { fabric: new MemoryFabric(), medium: { kind: "memory" } };
    return fabricOverRedis({
      connections: new RedisConnections({ url: config.redisUrl, nodeName: config.nodeName, sharded: config.redisSharded, logger: this.log }),
      nodeName: config.nodeName,
      nodeIncarnation: incarnation,
      sharded: config.redisSharded,
      replicas: () => [replica],
      checkGossip: parseGossipMessage,
      log: this.log,
      metrics,
    });
  }

  /** This thread's taps for webhooks, telling the node's webhooks (kept here, or by the main thread); none without the setting. */
  private createWebhooks(medium: Medium, replica: string): ThreadWebhooks | undefined {
    if (!this.config.webhooks) return undefined;
    const settings = resolveWebhooks(this.config.webhooks);
    return new ThreadWebhooks(settings, webhookNoticesFor(medium, settings, this.metrics, this.log), replica);
  }

  /** The authority of this thread's history topics on its medium. */
  private createHistoryAuthority(medium: Medium): HistoryAuthority {
    const { config, metrics } = this;
    const stores = { max: config.historyMaxPendingStores, timeoutMs: config.historyStoreTimeoutMs };
    // In memory: numbered here, delivered to this thread's subscribers (there is no other replica).
    return historyFor(medium, { maxBytes: config.historyMaxBytes, stores, coalesceMax: config.historyReadCoalesceMax, metrics, log: this.log, delivery: this.fanout });
  }

  /** Where this thread's counter increments go and its reads come from, on its medium. */
  private createCounterStore(medium: Medium): CounterStore {
    const { config, metrics, now } = this;
    return counterStoreFor(medium, { maxKeys: config.counterMaxKeys, flushMs: config.counterFlushMs, now, metrics, log: this.log });
  }

  private topicWorkerServices(): TopicWorkerServices {
    return {
      leases: this.leases,
      broadcast: (token, topic, event, payload) => this.broadcaster.broadcastFenced(token, topic, event, payload),
      presenceCount: (topic) => {
        const keys = new Set<string>();
        for (const entry of this.presence.tracker.list(topic)) keys.add(entry.key);
        return keys.size;
      },
      onPresence: (topic, listener) => this.presence.onDiff((changed, diff) => changed === topic && listener(diff)),
      subscribe: (topic, listener) => this.fanout.listen(topic, this.router.match(topic) ?? {}, listener),
      log: this.log,
      metrics: this.metrics,
    };
  }

  /** `idPrefix`: unique per node start, so socket ids (presence owners) never repeat. */
  private socketServices(idPrefix: string): SocketServices {
    const { fanout, presence } = this;
    const channels: ChannelServices = {
      log: this.log,
      metrics: this.metrics,
      maxQueuedPushes: this.config.maxQueuedPushes,
      handlers: this.handlerNumbers,
      joinsInProgress: this.joinsInProgress,
      fanout,
      historyTopics: this.historyTopics,
      broadcaster: this.broadcaster,
      presence,
      presenceStates: this.threadPresence.states,
      clientPushes: this.webhooks?.wantsClientEvents ? this.webhooks.clientPush : undefined,
    };
    return {
      idPrefix,
      log: this.log,
      metrics: this.metrics,
      queue: this.queue,
      maxChannels: this.config.maxChannelsPerSocket,
      limits: this.config,
      maxBackpressure: this.config.maxBufferedBytes * 2,
      channels,
      router: this.router,
      fanout,
      presence,
      bufferCap: this.bufferCap,
      slowConsumers: this.slowConsumers,
      joinBacklog: this.joinBacklog,
    };
  }
}

/** A drain's wait for HTTP answers in flight, past the longest any of them waits (a LongPoll window). */
const HTTP_ANSWER_MARGIN_MS = 1000;

export function createServer(options: CreateServerOptions = {}): CinderServer {
  return new CinderServer(options);
}
