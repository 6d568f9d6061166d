import { makeIncarnation } from "../crdt/index.js";
import type { us_listen_socket } from "uWebSockets.js";
import type { Channel } from "./channel/channel.js";
import type { ChannelHandler } from "./channel/handler.js";
import type { Payload } from "./channel/results.js";
import { ChannelRouter } from "./channel/router.js";
import { resolveConfig, type ServerConfig } from "./config.js";
import type { ConnectHook } from "./endpoint/connect-hook.js";
import { mountHttp } from "./endpoint/http.js";
import { mountWebSocket } from "./endpoint/websocket.js";
import { loadNativeUws } from "./native-uws.js";
import { createLogger, type Logger } from "./ops/logger.js";
import { Metrics, aggregateMetrics } from "./ops/metrics.js";
import { PresenceService } from "./presence/presence-service.js";
import type { Broker } from "./pubsub/broker.js";
import { workerReplicaName } from "./presence/transport-workers.js";
import type { RemoteFabricStatus } from "./pubsub/broker-redis.js";
import { PeerLinks } from "./peer-links.js";
import type { WorkerStats } from "./workers/mesh-messages.js";
import type { PeerMesh } from "./workers/peer-mesh.js";
import { PeerStats } from "./workers/peer-stats.js";
import { LocalFanout } from "./pubsub/local-fanout.js";
import { Outbox } from "./pubsub/outbox.js";
import type { Runtime } from "./runtime.js";
import { CLOSE } from "./socket/close-codes.js";
import type { SocketConnection } from "./socket/connection.js";
import { watchSlowConsumers } from "./socket/slow-consumers.js";

export interface CreateServerOptions extends Partial<ServerConfig> {
  /** Accept or refuse each socket; see ConnectHook. Without it every socket is accepted. */
  connect?: ConnectHook;
  /** Channels by topic pattern; `server.channel()` adds more. */
  channels?: Record<string, ChannelHandler>;
}

export interface HealthReport {
  /** "degraded": Redis is unreachable (local delivery goes on, other nodes are not reached). */
  status: "ok" | "degraded" | "draining";
  node: string;
  uptime: number;
  sockets: number;
  channels: number;
  topics: number;
  /** Per worker thread, when the node runs several. */
  workers?: WorkerStats[];
  /** The link to the other nodes, when the node is in a cluster. */
  redis?: RemoteFabricStatus;
}

/** How a server started by `startNode` sits among the worker threads of its node (internal). */
export interface WorkerTopology {
  index: number;
  incarnation: string;
  /** Shared by the workers of one node start: Redis echo filtering is per node, not per worker. */
  nodeIncarnation: string;
  mesh: PeerMesh;
}

/** A Cinder node: one uWS app serving sockets, channels, presence and the HTTP endpoints. */
export class CinderServer {
  readonly config: ServerConfig;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly presence: PresenceService;
  private readonly router = new ChannelRouter();
  private readonly runtime: Runtime;
  private readonly app;
  private readonly broker: Broker;
  private readonly links: PeerLinks;
  private readonly fanout: LocalFanout;
  private readonly outbox: Outbox;
  private readonly connections = new Set<SocketConnection>();
  private readonly peerStats: PeerStats | undefined;
  private connectHook: ConnectHook | undefined;
  private readonly uws = loadNativeUws();
  private listenSocket: us_listen_socket | null = null;
  private boundPort = 0;
  private readonly startedAt = Date.now();
  private draining = false;
  private readonly stopSweep: () => void;

  constructor(options: CreateServerOptions = {}, private readonly topology?: WorkerTopology) {
    const { connect, channels, ...settings } = options;
    this.config = resolveConfig(settings);
    this.log = createLogger(this.config.logLevel, this.config.nodeName);
    if (topology) this.log = this.log.child({ worker: topology.index });
    const incarnation = topology?.incarnation ?? makeIncarnation(Date.now(), Math.random());
    this.metrics = new Metrics({ processMetrics: !topology || topology.index === 0 });
    this.app = this.uws.App();
    this.outbox = new Outbox(this.app, (connection) => this.slowConsumer(connection));
    this.fanout = new LocalFanout(this.outbox, (topic, interested) => this.broker.setInterest(topic, interested));
    const nodeName = this.config.nodeName;
    const replicaName = topology ? workerReplicaName(nodeName, topology.index) : nodeName;
    this.links = new PeerLinks({
      config: this.config,
      log: this.log,
      metrics: this.metrics,
      fanout: this.fanout,
      replicaName,
      nodeIncarnation: topology?.nodeIncarnation ?? incarnation,
      mesh: topology?.mesh,
    });
    this.broker = this.links.broker;
    this.presence = new PresenceService({
      nodeName: replicaName,
      incarnation,
      broadcastPeriod: this.config.presenceBroadcastPeriod,
      downPeriod: this.config.presenceDownPeriod,
      permdownPeriod: this.config.presencePermdownPeriod,
      diffCoalesceMs: this.config.presenceDiffCoalesceMs,
      eagerFlushMs: this.config.presenceEagerFlushMs,
      transport: this.links.gossip,
      onError: (err) => this.log.warn({ err }, "presence gossip problem"),
    });
    this.peerStats = topology
      ? new PeerStats(topology.mesh, () => this.workerStats(), () => this.metrics.registry.getMetricsAsJSON())
      : undefined;
    // Presence diffs are derived on each replica from the replicated state, so they are
    // delivered locally only (Phoenix does the same), never sent across the fabric.
    this.presence.onDiff((topic, diff) => this.fanout.deliver(topic, "presence_diff", { joins: diff.joins, leaves: diff.leaves }, null));
    const broker = this.broker;
    const metrics = this.metrics;
    this.runtime = {
      config: this.config,
      log: this.log,
      metrics,
      router: this.router,
      outbox: this.outbox,
      fanout: this.fanout,
      presence: this.presence,
      broadcast(topic: string, event: string, payload: Payload, from: Channel | null) {
        metrics.broadcasts.inc();
        broker.publish({ topic, event, payload }, from);
      },
    };
    for (const [pattern, handler] of Object.entries(channels ?? {})) this.channel(pattern, handler);
    this.connectHook = connect;
    mountWebSocket(this.app, { runtime: this.runtime, connect: () => this.connectHook, connections: this.connections, idPrefix: incarnation });
    mountHttp(this.app, { runtime: this.runtime, health: () => this.healthReport(), metricsText: () => this.metricsText() });
    this.stopSweep = watchSlowConsumers(this.connections, this.config.maxBufferedBytes, (c) => this.slowConsumer(c));
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

  /** Broadcast to every subscriber of `topic` (app code, timers, HTTP handlers). */
  broadcast(topic: string, event: string, payload: Payload): void {
    this.runtime.broadcast(topic, event, payload, null);
  }

  /** The port bound by `listen()` (useful with `port: 0`). */
  get port(): number {
    return this.boundPort;
  }

  listen(): Promise<this> {
    return new Promise((resolve, reject) => {
      this.app.listen(this.config.host, this.config.port, (socket) => {
        if (!socket) {
          reject(new Error(`cannot listen on ${this.config.host}:${this.config.port}`));
          return;
        }
        this.listenSocket = socket;
        this.boundPort = this.uws.us_socket_local_port(socket);
        this.presence.start();
        this.links.start(this.presence);
        this.log.info({ host: this.config.host, port: this.boundPort, socketPath: this.config.socketPath }, "listening");
        resolve(this);
      });
    });
  }

  /**
   * Graceful stop: no new connections, queued messages flushed, presences announced gone to
   * peers, and every socket closed with 1001 so clients reconnect elsewhere.
   */
  async close(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    this.stopSweep();
    if (this.listenSocket) this.uws.us_listen_socket_close(this.listenSocket);
    this.listenSocket = null;
    this.outbox.flush();
    // Peers (sibling workers, other nodes) drop this replica's presences at once.
    this.presence.stop({ graceful: true });
    for (const connection of [...this.connections]) connection.end(CLOSE.goingAway, "server shutting down");
    await this.links.stop();
    this.log.info("stopped");
  }

  /** This thread's numbers. */
  health(): HealthReport {
    const redis = this.links.status();
    return {
      status: this.draining ? "draining" : redis && !redis.connected ? "degraded" : "ok",
      node: this.config.nodeName,
      uptime: Math.round((Date.now() - this.startedAt) / 1000),
      sockets: this.connections.size,
      channels: this.fanout.subscriptionCount,
      topics: this.fanout.topicCount,
      ...(redis ? { redis } : {}),
    };
  }

  /** The node's numbers: this thread's, plus every other worker's when there are several. */
  async healthReport(): Promise<HealthReport> {
    const own = this.health();
    if (!this.peerStats) return own;
    const { stats } = await this.peerStats.collect();
    const sum = (field: "sockets" | "channels") => stats.reduce((total, worker) => total + worker[field], 0);
    return { ...own, sockets: sum("sockets"), channels: sum("channels"), topics: own.topics, workers: stats };
  }

  /** Prometheus text for the whole node (worker threads are summed). */
  async metricsText(): Promise<string> {
    if (!this.peerStats) return this.metrics.registry.metrics();
    const { metrics } = await this.peerStats.collect();
    return aggregateMetrics(metrics);
  }

  /**
   * The thread is going down after an unexpected error: close every socket at once (clients
   * see 1006 and reconnect), stop serving, and let the thread end. Peers learn from the main
   * thread that this replica is gone.
   */
  crash(): void {
    this.draining = true;
    this.stopSweep();
    if (this.listenSocket) this.uws.us_listen_socket_close(this.listenSocket);
    this.listenSocket = null;
    this.presence.stop();
    for (const connection of [...this.connections]) connection.abort();
    // Open Redis sockets would keep the dying thread alive.
    void this.links.stop();
  }

  private workerStats(): WorkerStats {
    const own = this.health();
    return { index: this.topology?.index ?? 0, sockets: own.sockets, channels: own.channels, topics: own.topics };
  }

  private slowConsumer(connection: SocketConnection): void {
    if (!connection.isOpen) return;
    this.metrics.slowConsumers.inc();
    this.log.warn({ socket: connection.id }, "slow consumer disconnected");
    connection.end(CLOSE.slowConsumer, "slow consumer: too much unread data");
  }
}

export function createServer(options: CreateServerOptions = {}): CinderServer {
  return new CinderServer(options);
}
