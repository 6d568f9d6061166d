import type { Logger } from "pino";
import type { RedisConnections } from "./redis-connections.js";
import { RefreshGaps } from "./refresh-gaps.js";

/** Gaps between refreshes remembered (about a minute of them at the default period). */
const GAPS_REMEMBERED = 60;

/** A node as the liveness keys show it: its name and presence replicas (one per worker thread). */
export interface LiveNode {
  name: string;
  replicas: readonly string[];
}

export interface NodeLivenessOptions {
  /** Commands go over the node's publisher connection. */
  connections: RedisConnections;
  nodeName: string;
  /** Stored in this node's key (read at each refresh) and reported to others when it goes down. */
  replicas: () => readonly string[];
  /**
   * Lifetime of this node's key, ms, while its refreshes come on time. Must exceed refreshMs plus
   * the longest event-loop stall to tolerate; a node whose refreshes come late writes a longer one
   * (see RefreshGaps), up to maxTtlMs.
   */
  ttlMs?: number;
  /** The longest lifetime a node that stalls gives its key, ms: how long a stalled node may go unreported. */
  maxTtlMs?: number;
  /** How often this node re-sets its key, ms. */
  refreshMs?: number;
  /** How often the other nodes' keys are read, ms. */
  pollMs?: number;
  /** Default `cinder:`: keys `cinder:node:<name>` and the set `cinder:nodes`. */
  keyPrefix?: string;
  logger?: Logger;
}

export const LIVENESS_DEFAULTS = { ttlMs: 3000, maxTtlMs: 15_000, refreshMs: 1000, pollMs: 1000 } as const;

type NodeListener = (node: LiveNode) => void;

/**
 * Crash detection in seconds, faster than presence heartbeat silence (downPeriod): every node
 * keeps `cinder:node:<name>` = its replica ids (JSON) alive with a short TTL, and reads everyone
 * else's once per poll. A node whose key is gone is down — Redis expires the key, so an
 * observer's own stalls never make it judge anyone dead. Nodes are found through the set
 * `cinder:nodes` rather than SCAN (cheap on a shared Redis, works on a Cluster) and by
 * polling rather than keyspace notifications (those need CONFIG SET, which managed Redis
 * often forbids, and are lost while disconnected).
 *
 * With the defaults a crashed node is reported down 3–4 s after its last refresh, and a node
 * whose event loop stalls for less than ttlMs − refreshMs (2 s) is never reported down. A node
 * that has stalled lately (its refreshes came late: a busy machine, long GC pauses) writes its
 * key to live ttlMs/refreshMs times its longest gap between refreshes in the last minute or so
 * (when one came more than half a period late), up to maxTtlMs: so
 * stalls like those it has already had do not get it reported down (and its members hidden) again
 * and again, at the price of a slower report if it crashes while its key is long.
 */
export class NodeLiveness {
  private readonly ttlMs: number;
  private readonly maxTtlMs: number;
  private readonly gaps: RefreshGaps;
  /** The lifetime last logged (a change of a refresh period or more is logged). */
  private loggedTtlMs: number;
  private readonly refreshMs: number;
  private readonly pollMs: number;
  private readonly ownKey: string;
  private readonly setKey: string;
  private readonly keyPrefix: string;
  private readonly logger: Logger | undefined;
  /** Nodes seen alive, by name → their key as read (a JSON list of replica ids). */
  private readonly alive = new Map<string, string>();
  private readonly downListeners = new Set<NodeListener>();
  private readonly upListeners = new Set<NodeListener>();
  private readonly revivedListeners = new Set<() => void>();
  private readonly listedListeners = new Set<() => void>();
  /** The keys were read once: every node alive then was reported up. */
  private listedOnce = false;
  /** Set on each reconnect to Redis (not the first connect): see inGracePeriod. */
  private reconnectedAt = -Infinity;
  private refreshedOnce = false;
  private refreshTimer: ReturnType<typeof setInterval> | undefined;
  private pollTimer: ReturnType<typeof setInterval> | undefined;
  private polling = false;
  private stopped = false;
  private readonly stopReadyWatch: () => void;

  constructor(private readonly options: NodeLivenessOptions) {
    this.ttlMs = options.ttlMs ?? LIVENESS_DEFAULTS.ttlMs;
    this.maxTtlMs = options.maxTtlMs ?? Math.max(this.ttlMs, LIVENESS_DEFAULTS.maxTtlMs);
    this.refreshMs = options.refreshMs ?? LIVENESS_DEFAULTS.refreshMs;
    this.pollMs = options.pollMs ?? LIVENESS_DEFAULTS.pollMs;
    if (!(this.refreshMs > 0 && this.pollMs > 0 && this.ttlMs > this.refreshMs)) {
      throw new Error("liveness: ttlMs must exceed refreshMs, and both periods must be positive");
    }
    if (!(this.maxTtlMs >= this.ttlMs)) throw new Error("liveness: maxTtlMs must be at least ttlMs");
    this.gaps = new RefreshGaps(GAPS_REMEMBERED);
    this.loggedTtlMs = this.ttlMs;
    this.keyPrefix = options.keyPrefix ?? "cinder:";
    this.ownKey = this.keyOf(options.nodeName);
    this.setKey = `${this.keyPrefix}nodes`;
    this.logger = options.logger?.child({ component: "liveness" });
    this.stopReadyWatch = options.connections.onReady((role, reconnect) => {
      if (role !== "publisher") return;
      if (reconnect) this.reconnectedAt = Date.now();
      // Started before the connection was ready, the first read of the keys would otherwise
      // wait a whole poll period, and a starting replica's first sync with it.
      void this.refresh().then(() => (this.listedOnce ? undefined : this.poll()));
    });
  }

  /** Another node stopped refreshing its key (crash, stall, lost Redis) or left; or some of its replicas were replaced. */
  onNodeDown(listener: NodeListener): () => void {
    this.downListeners.add(listener);
    return () => this.downListeners.delete(listener);
  }

  /** A node was seen for the first time, came back, or has new replicas (a restart). */
  onNodeUp(listener: NodeListener): () => void {
    this.upListeners.add(listener);
    return () => this.upListeners.delete(listener);
  }

  /** Our own key had expired (we were stalled or cut off): peers may have reported us down. */
  onRevived(listener: () => void): () => void {
    this.revivedListeners.add(listener);
    return () => this.revivedListeners.delete(listener);
  }

  /** Every node alive at the first read of the keys has been reported up (once, after that read). */
  onListed(listener: () => void): () => void {
    this.listedListeners.add(listener);
    return () => this.listedListeners.delete(listener);
  }

  /** Whether the keys were read once (see onListed). */
  get listed(): boolean {
    return this.listedOnce;
  }

  /** The lifetime this node gives its key now, ms: ttlMs, or longer after late refreshes. */
  get currentTtlMs(): number {
    return this.keyTtlMs(this.gaps.longest());
  }

  /** Other nodes currently seen alive. */
  liveNodes(): LiveNode[] {
    return [...this.alive].map(([name, key]) => ({ name, replicas: replicasOf(key) }));
  }

  start(): void {
    if (this.refreshTimer || this.stopped) return;
    this.refreshTimer = setInterval(() => void this.refresh(), this.refreshMs);
    this.pollTimer = setInterval(() => void this.poll(), this.pollMs);
    this.refreshTimer.unref?.();
    this.pollTimer.unref?.();
    void this.refresh().then(() => this.poll());
  }

  /** Graceful: our key goes at once, so peers report us down on their next poll. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.refreshTimer);
    clearInterval(this.pollTimer);
    this.stopReadyWatch();
    const redis = this.options.connections.publisher;
    if (!this.options.connections.isReady("publisher")) return;
    await Promise.all([redis.del(this.ownKey), redis.srem(this.setKey, this.options.nodeName)]).catch((error: unknown) =>
      this.logger?.warn({ err: error }, "could not remove the liveness key; it expires on its own"),
    );
  }

  private keyOf(name: string): string {
    return `${this.keyPrefix}node:${name}`;
  }

  /**
   * Redis was just reconnected and may have restarted empty (or failed over to a replica that
   * missed the last refreshes): an absent key proves nothing until every live node has had a
   * full TTL to write it again.
   */
  private inGracePeriod(): boolean {
    return Date.now() - this.reconnectedAt < this.ttlMs;
  }

  /**
   * ttlMs while the refreshes came on time (timer jitter of up to half a period included);
   * after a later one, ttlMs/refreshMs times the longest recent gap, up to maxTtlMs.
   */
  private keyTtlMs(longestGapMs: number): number {
    if (longestGapMs <= 1.5 * this.refreshMs) return this.ttlMs;
    return Math.min(this.maxTtlMs, Math.max(this.ttlMs, Math.ceil((longestGapMs * this.ttlMs) / this.refreshMs)));
  }

  private async refresh(): Promise<void> {
    if (this.stopped || !this.refreshTimer || !this.options.connections.isReady("publisher")) return;
    const redis = this.options.connections.publisher;
    const ttl = this.keyTtlMs(this.gaps.refreshed(Date.now()));
    if (Math.abs(ttl - this.loggedTtlMs) >= this.refreshMs) {
      this.loggedTtlMs = ttl;
      this.logger?.info({ ttlMs: ttl, longestGapMs: this.gaps.longest() }, ttl > this.ttlMs ? "liveness key lives longer: this node's refreshes came late lately (its event loop stalled)" : "liveness key lifetime back to its default");
    }
    try {
      const previous = await redis.set(this.ownKey, JSON.stringify(this.options.replicas()), "PX", ttl, "GET");
      // SET before SADD: whoever finds our name in the set also finds our key.
      await redis.sadd(this.setKey, this.options.nodeName);
      if (previous === null && this.refreshedOnce && !this.inGracePeriod()) {
        this.logger?.warn("liveness key had expired: this node was stalled or cut off, peers may have reported it down");
        for (const listener of [...this.revivedListeners]) listener();
      }
      this.refreshedOnce = true;
    } catch (error) {
      this.logger?.debug({ err: error }, "liveness refresh failed");
    }
  }

  private async poll(): Promise<void> {
    if (this.stopped || this.polling || !this.options.connections.isReady("publisher")) return;
    this.polling = true;
    try {
      const redis = this.options.connections.publisher;
      const members = await redis.smembers(this.setKey);
      const names = [...new Set([...members, ...this.alive.keys()])].filter((name) => name !== this.options.nodeName);
      const keys = await Promise.all(names.map((name) => redis.get(this.keyOf(name))));
      if (this.stopped) return;
      const graceful = this.inGracePeriod();
      const gone: string[] = [];
      names.forEach((name, i) => {
        const key = keys[i];
        if (key !== null) this.seen(name, key);
        else if (!graceful) {
          this.lost(name);
          if (members.includes(name)) gone.push(name);
        }
      });
      if (!this.listedOnce) {
        this.listedOnce = true;
        for (const listener of [...this.listedListeners]) listener();
      }
      // A node that is alive after all puts itself back on its next refresh.
      if (gone.length > 0) await redis.srem(this.setKey, ...gone);
    } catch (error) {
      this.logger?.debug({ err: error }, "liveness poll failed");
    } finally {
      this.polling = false;
    }
  }

  private seen(name: string, key: string): void {
    const known = this.alive.get(name);
    if (known === key) return;
    this.alive.set(name, key);
    const before = known === undefined ? [] : replicasOf(known);
    const now = replicasOf(key);
    const gone = before.filter((replica) => !now.includes(replica));
    const added = now.filter((replica) => !before.includes(replica));
    if (gone.length > 0) this.report(this.downListeners, { name, replicas: gone }, "node restarted or replaced replicas");
    if (added.length > 0) this.report(this.upListeners, { name, replicas: added }, "node up");
  }

  private lost(name: string): void {
    const key = this.alive.get(name);
    if (key === undefined) return;
    this.alive.delete(name);
    this.report(this.downListeners, { name, replicas: replicasOf(key) }, "node down: liveness key expired or removed");
  }

  private report(listeners: Set<NodeListener>, node: LiveNode, message: string): void {
    this.logger?.info({ peer: node.name, replicas: node.replicas }, message);
    for (const listener of [...listeners]) {
      try {
        listener(node);
      } catch (error) {
        this.logger?.error({ err: error, peer: node.name }, "liveness listener failed");
      }
    }
  }
}

/** The replica ids in a liveness key: a JSON list, or one bare id. */
function replicasOf(key: string): string[] {
  try {
    const parsed: unknown = JSON.parse(key);
    if (Array.isArray(parsed)) return parsed.filter((replica): replica is string => typeof replica === "string");
  } catch {
    // a bare replica id
  }
  return [key];
}
