import type { ReplicaId } from "../crdt/index.js";
import { NodeLiveness } from "./cluster/liveness.js";
import { RedisConnections } from "./cluster/redis-connections.js";
import type { ServerConfig } from "./config.js";
import type { Logger } from "./ops/logger.js";
import type { Metrics } from "./ops/metrics.js";
import type { PresenceService } from "./presence/presence-service.js";
import { CombinedGossipTransport } from "./presence/transport-combined.js";
import { RedisGossipTransport } from "./presence/transport-redis.js";
import { WorkerGossipTransport } from "./presence/transport-workers.js";
import { noPeersTransport, type GossipTransport } from "./presence/transport.js";
import type { Broker } from "./pubsub/broker.js";
import { ClusterBroker } from "./pubsub/broker-cluster.js";
import { MemoryBroker } from "./pubsub/broker-memory.js";
import { RedisFabric, type RemoteFabricStatus } from "./pubsub/broker-redis.js";
import { WorkerBroker } from "./pubsub/broker-workers.js";
import type { LocalFanout } from "./pubsub/local-fanout.js";
import type { PeerMesh } from "./workers/peer-mesh.js";

export interface PeerLinksOptions {
  config: ServerConfig;
  log: Logger;
  metrics: Metrics;
  fanout: LocalFanout;
  /** This server's name as a presence replica: the node name, or `${node}/w${index}` for a worker. */
  replicaName: string;
  /** Per node start; shared by the workers of one node (Redis echo filtering is per node). */
  nodeIncarnation: string;
  /** The other worker threads of this node, when there are any. */
  mesh: PeerMesh | undefined;
}

/**
 * How one server reaches its peers, in one place: sibling worker threads over the peer mesh,
 * other nodes through Redis, or nobody. It chooses the broker and the presence gossip
 * transport, and owns the Redis connections and the liveness keys.
 */
export class PeerLinks {
  readonly broker: Broker;
  private readonly redis: RedisConnections | undefined;
  private readonly fabric: RedisFabric | undefined;
  private liveness: NodeLiveness | undefined;

  constructor(private readonly options: PeerLinksOptions) {
    const { config, log, metrics, fanout, mesh } = options;
    const siblings: Broker = mesh ? new WorkerBroker(fanout, mesh) : new MemoryBroker(fanout);
    if (!config.redisUrl) {
      this.broker = siblings;
      return;
    }
    this.redis = new RedisConnections({ url: config.redisUrl, nodeName: options.replicaName, sharded: config.redisSharded, logger: log });
    this.fabric = new RedisFabric({
      nodeName: config.nodeName,
      incarnation: options.nodeIncarnation,
      connections: this.redis,
      sharded: config.redisSharded,
      logger: log,
    });
    this.broker = new ClusterBroker(siblings, this.fabric, fanout, metrics);
  }

  /** The gossip transport of one presence shard. */
  readonly gossip = (shard: number, replica: ReplicaId): GossipTransport => {
    const { mesh, config, log } = this.options;
    const siblings = mesh ? new WorkerGossipTransport(mesh, shard, config.nodeName) : undefined;
    const remote = this.redis
      ? new RedisGossipTransport({ connections: this.redis, shard, replica, onError: (err) => log.warn({ err }, "presence gossip problem") })
      : undefined;
    if (siblings && remote) return new CombinedGossipTransport(siblings, remote, config.nodeName);
    return siblings ?? remote ?? noPeersTransport;
  };

  /** In a cluster: keep this replica's liveness key, and mark peers whose key expires down. */
  start(presence: PresenceService): void {
    if (!this.redis) return;
    this.liveness = new NodeLiveness({ connections: this.redis, nodeName: this.options.replicaName, replica: presence.replica, logger: this.options.log });
    this.liveness.onNodeDown((node) => presence.markDown(node.replica));
    this.liveness.onNodeUp((node) => presence.markUp(node.replica));
    this.liveness.start();
  }

  /** The link to other nodes, for /health (undefined on a single node). */
  status(): RemoteFabricStatus | undefined {
    return this.fabric?.status();
  }

  /** Graceful: the liveness key is deleted, queued broadcasts flushed, Redis closed. */
  async stop(): Promise<void> {
    await this.liveness?.stop();
    await this.broker.close();
    await this.redis?.close();
  }
}
