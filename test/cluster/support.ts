import type { Redis } from "ioredis";
import { makeReplicaId, type ReplicaId } from "../../crdt/index.js";
import { RedisConnections, type RedisConnectionsOptions } from "../../server/redis/redis-connections.js";
import type { RedisFabric, RedisFabricOptions } from "../../server/fabric/fabric-redis.js";
import type { RedisMedium } from "../../server/fabric/medium.js";
import { fabricOverRedis } from "../../server/fabric/redis-medium.js";
import { workerReplicaName } from "../../server/fabric/replica-names.js";
import { createLogger } from "../../server/ops/logger.js";
import { fabricMetrics, type FabricMetrics } from "../../server/fabric/fabric-metrics.js";
import { parseGossipMessage } from "../../server/presence/messages.js";
import { beforeAll } from "vitest";
import { metricGroup } from "../support/metrics.js";
import { perFile } from "../support/opened.js";
import type { RedisServer } from "../support/redis-server.js";
import { waitFor } from "../support/wait.js";

/** Short linger and fast reconnects, so tests see subscription changes and outages end quickly. */
export const TEST_BACKOFF = { minMs: 20, maxMs: 200 };
export const TEST_SUBSCRIPTIONS = { batchMs: 2, lingerMs: 50 };

export interface TestConnectionsOptions {
  sharded?: boolean;
  /** Replaces TEST_SUBSCRIPTIONS (a long batchMs to act inside the batch window). */
  subscriptions?: RedisConnectionsOptions["subscriptions"];
}

export function testConnections(redis: { url: string }, nodeName: string, options: TestConnectionsOptions = {}): RedisConnections {
  return new RedisConnections({
    url: redis.url,
    nodeName,
    sharded: options.sharded ?? false,
    backoff: TEST_BACKOFF,
    subscriptions: options.subscriptions ?? TEST_SUBSCRIPTIONS,
  });
}

/** The presence replica of worker 0 of node `name` in its incarnation `incarnation`, as a real node names it. */
export function replicaOf(name: string, incarnation = "1"): ReplicaId {
  return makeReplicaId(workerReplicaName(name, 0), incarnation);
}

export interface TestFabricOptions {
  sharded?: boolean;
  /** The node's incarnation; default "1". */
  incarnation?: string;
  /** Default: the node's one replica, replicaOf(name, incarnation). */
  replicas?: () => readonly ReplicaId[];
  subscriptions?: RedisConnectionsOptions["subscriptions"];
  liveness?: RedisFabricOptions["liveness"];
  /** Default: a registry of the fabric's own. */
  metrics?: FabricMetrics;
}

/** One node's fabric through Redis, with the test timings (its liveness is not started). */
export function testFabric(redis: { url: string }, name: string, options: TestFabricOptions = {}): RedisFabric {
  return testLink(redis, name, options).fabric;
}

/** One node's fabric through Redis, and the medium of its Redis lanes (as the wiring builds them), with the test timings. */
export function testLink(redis: { url: string }, name: string, options: TestFabricOptions = {}): { fabric: RedisFabric; medium: RedisMedium } {
  const incarnation = options.incarnation ?? "1";
  return fabricOverRedis({
    connections: new RedisConnections({
      url: redis.url,
      nodeName: name,
      sharded: options.sharded ?? false,
      logger: createLogger("silent", name),
      backoff: TEST_BACKOFF,
      subscriptions: options.subscriptions ?? TEST_SUBSCRIPTIONS,
    }),
    nodeName: name,
    nodeIncarnation: incarnation,
    sharded: options.sharded ?? false,
    replicas: options.replicas ?? (() => [replicaOf(name, incarnation)]),
    checkGossip: parseGossipMessage,
    log: createLogger("silent", name),
    metrics: options.metrics ?? metricGroup(fabricMetrics),
    liveness: options.liveness,
  });
}


export async function waitConnected(connections: RedisConnections, what: string, timeoutMs = 5000): Promise<void> {
  await waitFor(() => connections.status().connected, `${what} to connect to Redis`, timeoutMs);
}

/** Neither connection is ready (both noticed an outage); `status().connected` is false as soon as one is not. */
export function isDown(connections: RedisConnections): boolean {
  return !connections.isReady("publisher") && !connections.isReady("subscriber");
}

/** Whether `promise` has settled: its callbacks run before the next macrotask. */
export async function isSettled(promise: Promise<unknown>): Promise<boolean> {
  const pending = Symbol("pending");
  const first = await Promise.race([promise.then(() => true, () => true), new Promise<typeof pending>((resolve) => setImmediate(() => resolve(pending)))]);
  return first !== pending;
}

/** A redis-server for the test file and a client of the test itself to look at it, both stopped after the file. */
export function privateRedis(): { readonly redis: RedisServer; readonly outside: Redis } {
  const opened = perFile();
  const held: { redis?: RedisServer; outside?: Redis } = {};
  beforeAll(async () => {
    held.redis = await opened.redis();
    held.outside = opened.observer(held.redis);
  });
  return {
    get redis() {
      return held.redis as RedisServer;
    },
    get outside() {
      return held.outside as Redis;
    },
  };
}
