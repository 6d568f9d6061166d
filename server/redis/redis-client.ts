import { Cluster, Redis, type ClusterNode, type RedisOptions } from "ioredis";

/** A standalone Redis or a Redis Cluster; both speak the commands Cinder uses. */
export type RedisClient = Redis | Cluster;

export interface Backoff {
  /** First reconnect delay, ms. */
  minMs: number;
  /** Upper bound of the delay, ms. */
  maxMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { minMs: 100, maxMs: 5000 };

/**
 * Where Redis is, from `REDIS_URL`:
 * - `redis://[user:pass@]host:port[/db]` or `rediss://…` — one Redis (or a proxy in front of several);
 * - `redis-cluster://[user:pass@]host1:port1,host2:port2,…` — a Redis Cluster, reached through the
 *   seed nodes listed (any subset of the cluster; topology is discovered). `rediss-cluster://` adds TLS.
 */
export type RedisAddress =
  | { kind: "standalone"; url: string }
  | { kind: "cluster"; nodes: ClusterNode[]; username?: string; password?: string; tls: boolean };

export function parseRedisAddress(url: string): RedisAddress {
  const match = /^(rediss?)-cluster:\/\/(?:([^@/]*)@)?([^/?#]+)\/?$/.exec(url);
  if (!match) {
    if (!/^rediss?:\/\//.test(url)) throw new Error(`REDIS_URL must start with redis://, rediss:// or redis-cluster:// (got ${JSON.stringify(url)})`);
    return { kind: "standalone", url };
  }
  const [, scheme, auth, hostList] = match;
  const nodes = hostList.split(",").map((hostPort): ClusterNode => {
    const at = hostPort.lastIndexOf(":");
    const port = Number(hostPort.slice(at + 1));
    if (at <= 0 || !Number.isInteger(port) || port <= 0) throw new Error(`REDIS_URL: cluster seed ${JSON.stringify(hostPort)} is not host:port`);
    return { host: hostPort.slice(0, at), port };
  });
  const [username, password] = auth ? splitAuth(auth) : [undefined, undefined];
  return { kind: "cluster", nodes, username, password, tls: scheme === "rediss" };
}

function splitAuth(auth: string): [string | undefined, string | undefined] {
  const colon = auth.indexOf(":");
  if (colon < 0) return [undefined, decodeURIComponent(auth)];
  return [decodeURIComponent(auth.slice(0, colon)) || undefined, decodeURIComponent(auth.slice(colon + 1))];
}

export interface ClientOptions {
  connectionName: string;
  backoff: Backoff;
  /** Cluster only: one subscriber per master, needed for SSUBSCRIBE. */
  shardedSubscribers?: boolean;
}

/**
 * A client that never buffers commands while Redis is unreachable (they fail at once, the
 * caller counts the loss; a Cluster client only queues behind a master's connection that is
 * being opened, see below) and never resends in-flight commands after a reconnect (a
 * broadcast is delivered at most once). Subscriptions are restored by SubscriptionRegistry,
 * not by ioredis, which only remembers channels the server had confirmed.
 */
export function createClient(address: RedisAddress, options: ClientOptions): RedisClient {
  const retryStrategy = (attempt: number): number => backoffDelay(options.backoff, attempt);
  const common: RedisOptions = {
    connectionName: options.connectionName,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    autoResubscribe: false,
    maxRetriesPerRequest: 0,
    retryStrategy,
  };
  if (address.kind === "standalone") return new Redis(address.url, common);
  return new Cluster(address.nodes, {
    clusterRetryStrategy: retryStrategy,
    // A command that finds its master's connection still opening (a new master after a
    // topology change) waits for it, in order. Without this queue it is refused and sent again
    // 100 ms later, behind the commands that came after it: broadcasts would arrive out of
    // order. It is not a buffer for outages: Cinder sends nothing while the client is not ready
    // (RedisConnections.isReady), and a master that cannot be reached fails what waits for it.
    enableOfflineQueue: true,
    // A command whose connection closed under it, or that the cluster refused (CLUSTERDOWN),
    // fails at once and is counted, as with one Redis, instead of being retried for up to
    // 16 × 100 ms: at most once, and dropped rather than queued during an outage.
    retryDelayOnFailover: 0,
    retryDelayOnClusterDown: 0,
    shardedSubscribers: options.shardedSubscribers ?? false,
    redisOptions: {
      ...common,
      // ioredis opens a master's connection on its first command by default. Opened at once,
      // a burst of commands does not race the connection, and when every master is gone the
      // client notices (it is no longer ready, health says so) and reconnects with backoff,
      // like a single Redis, instead of staying "ready" with nothing behind it.
      lazyConnect: false,
      username: address.username,
      password: address.password,
      tls: address.tls ? {} : undefined,
    },
  });
}

/**
 * Gets SSUBSCRIBE working again on a Cluster client whose sharded subscribers are stuck.
 *
 * ioredis 6 keeps one subscriber per master and rebuilds them on every topology refresh, one
 * rebuild at a time. When the client reconnects while a rebuild is still opening connections
 * (a whole-cluster outage does it), the rebuild waits forever on connections that were closed
 * under it, every later rebuild queues behind it, and the client is left with no sharded
 * subscriber: each SSUBSCRIBE fails with "No sharded subscriber for slot", for good. Clearing
 * that stuck rebuild and refreshing the slots builds the subscribers anew (ioredis then
 * re-subscribes what it knew, and the caller retries the rest). Returns whether it did so.
 */
export function repairShardedSubscribers(client: RedisClient): boolean {
  if (!(client instanceof Cluster) || client.status !== "ready") return false;
  const group = (client as unknown as { shardedSubscribers?: StuckGroupView }).shardedSubscribers;
  if (!group || group.isResetting !== true || !(group.shardedSubscribers instanceof Map) || group.shardedSubscribers.size > 0) return false;
  group.isResetting = false;
  group.pendingReset = null;
  client.refreshSlotsCache();
  return true;
}

/** The internals of ioredis's ClusterSubscriberGroup that repairShardedSubscribers looks at. */
interface StuckGroupView {
  isResetting?: boolean;
  pendingReset?: unknown;
  shardedSubscribers?: unknown;
}

/** Exponential backoff with ±20 % jitter, so nodes that lost Redis together do not reconnect together. */
export function backoffDelay(backoff: Backoff, attempt: number): number {
  const base = Math.min(backoff.maxMs, backoff.minMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}
