import type { Logger } from "pino";
import { DEFAULT_BACKOFF, createClient, parseRedisAddress, repairShardedSubscribers, type Backoff, type RedisClient } from "./redis-client.js";
import { SubscriptionRegistry, type SubscriptionRegistryOptions } from "./subscription-registry.js";

export type ConnectionRole = "publisher" | "subscriber";

export interface RedisConnectionsOptions {
  /** See parseRedisAddress: `redis://…`, `rediss://…` or `redis-cluster://host:port,…`. */
  url: string;
  /** Shown in CLIENT LIST as `cinder:<nodeName>:<role>`. */
  nodeName: string;
  /** Redis Cluster: open the per-master subscribers SSUBSCRIBE needs. */
  sharded?: boolean;
  backoff?: Partial<Backoff>;
  subscriptions?: Omit<SubscriptionRegistryOptions, "logger" | "onSubscribeFailed">;
  logger?: Logger;
}

export interface RedisConnectionStatus {
  /** Both connections are ready. */
  connected: boolean;
  /** Times a connection became ready again after losing Redis. */
  reconnects: number;
  lastError?: string;
}

type ReadyListener = (role: ConnectionRole, reconnect: boolean) => void;

/**
 * The node's two Redis connections, shared by every lane of the node's fabric (broadcasts,
 * presence gossip, history) and the liveness beacon: one in subscriber mode (it can do nothing else) and one for commands
 * and PUBLISH. One publishing connection keeps each publisher's messages in order.
 */
export class RedisConnections {
  readonly publisher: RedisClient;
  readonly subscriber: RedisClient;
  /** SUBSCRIBE channels (presence gossip, and broadcasts unless sharded). */
  readonly channels: SubscriptionRegistry;
  /** SSUBSCRIBE channels (broadcasts when sharded). */
  readonly shardChannels: SubscriptionRegistry;
  /** A Redis Cluster (keys of one pipeline may live on different masters). */
  readonly cluster: boolean;
  private readonly logger: Logger | undefined;
  private readonly readyListeners = new Set<ReadyListener>();
  private readonly everReady = new Set<ConnectionRole>();
  private reconnects = 0;
  private lastError: string | undefined;
  private closing = false;

  constructor(options: RedisConnectionsOptions) {
    const address = parseRedisAddress(options.url);
    this.cluster = address.kind === "cluster";
    const backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.logger = options.logger?.child({ component: "redis" });
    // Only the subscriber SSUBSCRIBEs; SPUBLISH is an ordinary keyed command on the publisher.
    const client = (role: ConnectionRole) =>
      createClient(address, {
        connectionName: `cinder:${options.nodeName}:${role}`,
        backoff,
        shardedSubscribers: role === "subscriber" && options.sharded,
      });
    this.publisher = client("publisher");
    this.subscriber = client("subscriber");
    const registryOptions = { ...options.subscriptions, logger: this.logger };
    this.channels = new SubscriptionRegistry(this.subscriber, "plain", registryOptions);
    this.shardChannels = new SubscriptionRegistry(this.subscriber, "sharded", {
      ...registryOptions,
      onSubscribeFailed: () => {
        if (repairShardedSubscribers(this.subscriber)) this.logger?.warn("redis cluster: sharded subscribers were stuck after a reconnect; rebuilt them");
      },
    });
    this.watch(this.publisher, "publisher");
    this.watch(this.subscriber, "subscriber");
  }

  /** Called each time a connection becomes ready, the first time with `reconnect` false. */
  onReady(listener: ReadyListener): () => void {
    this.readyListeners.add(listener);
    return () => this.readyListeners.delete(listener);
  }

  isReady(role: ConnectionRole): boolean {
    return (role === "publisher" ? this.publisher : this.subscriber).status === "ready";
  }

  status(): RedisConnectionStatus {
    const status: RedisConnectionStatus = {
      connected: this.isReady("publisher") && this.isReady("subscriber"),
      reconnects: this.reconnects,
    };
    if (this.lastError !== undefined) status.lastError = this.lastError;
    return status;
  }

  async close(): Promise<void> {
    this.closing = true;
    this.channels.close();
    this.shardChannels.close();
    await Promise.all([quit(this.publisher), quit(this.subscriber)]);
  }

  private watch(client: RedisClient, role: ConnectionRole): void {
    client.on("ready", () => {
      const reconnect = this.everReady.has(role);
      this.everReady.add(role);
      if (reconnect) this.reconnects++;
      this.logger?.info({ role }, reconnect ? "redis reconnected" : "redis connected");
      if (role === "subscriber") {
        const restored = this.channels.connectionReady() + this.shardChannels.connectionReady();
        if (reconnect) this.logger?.info({ channels: restored }, "redis subscriptions restored");
      }
      for (const listener of [...this.readyListeners]) listener(role, reconnect);
    });
    let wasReady = false;
    client.on("ready", () => (wasReady = true));
    client.on("close", () => {
      if (!wasReady || this.closing) return;
      wasReady = false;
      this.logger?.warn({ role, lastError: this.lastError }, "redis connection lost; reconnecting with backoff");
    });
    client.on("error", (error: Error) => {
      // ioredis reports every failed reconnect attempt; log a cause once, not once per attempt.
      if (error.message !== this.lastError) this.logger?.warn({ role, err: error.message }, "redis error");
      this.lastError = error.message;
    });
  }
}

async function quit(client: RedisClient): Promise<void> {
  if (client.status === "ready") {
    try {
      await client.quit();
      return;
    } catch {
      // Fall through: the connection is going away anyway.
    }
  }
  client.disconnect();
}
