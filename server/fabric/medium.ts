import type { RedisConnections } from "../redis/redis-connections.js";
import type { Fabric } from "./fabric.js";
import type { TopicChannels } from "./topic-channels.js";

/**
 * What a thread's lanes are built on, chosen once where its fabric is built (server.ts for a
 * thread, worker-threads/supervisor.ts for a multi-worker node's main thread). Each feature that needs
 * the other replicas builds its implementation for it (`<seam>-for.ts` in its folder), so the
 * wiring never asks which fabric it holds.
 */
export type Medium = MemoryMedium | WorkersMedium | RedisMedium;

/** Nobody else to reach: a single thread without Redis, or the main thread of a node without it (serving its workers). */
export interface MemoryMedium {
  kind: "memory";
}

/** A worker thread: what the node keeps once, its main thread keeps (asked over the fabric). */
export interface WorkersMedium {
  kind: "workers";
  fabric: Fabric;
  /** This worker's index in its node. */
  worker: number;
}

/** The thread that holds its node's Redis connections. */
export interface RedisMedium {
  kind: "redis";
  /** The node's two Redis connections, the fabric's too (it closes them, last). */
  connections: RedisConnections;
  /** `nodeName#incarnation`, at the head of every envelope the node sends (senderOf in redis-envelope.ts). */
  sender: string;
  /** SSUBSCRIBE/SPUBLISH for broadcasts (Redis 7 sharded pub/sub, for Redis Cluster). */
  sharded: boolean;
  /** The topics' channels, where a lane's envelopes travel in order with the broadcasts. */
  topics: TopicChannels;
}
