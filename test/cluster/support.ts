import { Redis } from "ioredis";
import { RedisConnections } from "../../server/cluster/redis-connections.js";
import type { RedisServer } from "../support/redis-server.js";
import { waitFor } from "../support/wait.js";

/** Short linger and fast reconnects, so tests see subscription changes and outages end quickly. */
export function testConnections(redis: RedisServer, nodeName: string, sharded = false): RedisConnections {
  return new RedisConnections({
    url: redis.url,
    nodeName,
    sharded,
    backoff: { minMs: 20, maxMs: 200 },
    subscriptions: { batchMs: 2, lingerMs: 50 },
  });
}

/** A plain client of the test itself, to look at Redis from outside. */
export function observer(redis: RedisServer): Redis {
  const client = new Redis(redis.url, { retryStrategy: () => 20, maxRetriesPerRequest: null });
  client.on("error", () => {}); // refused connections during deliberate outages
  return client;
}

/** Subscribers Redis counts on `channel` (PUBSUB NUMSUB, or SHARDNUMSUB for sharded channels). */
export async function subscribers(client: Redis, channel: string, sharded = false): Promise<number> {
  const reply = (await client.call("PUBSUB", sharded ? "SHARDNUMSUB" : "NUMSUB", channel)) as [string, number];
  return Number(reply[1]);
}

export async function waitForSubscribers(client: Redis, channel: string, count: number, sharded = false): Promise<void> {
  let last = -1;
  const deadline = Date.now() + 5000;
  while ((last = await subscribers(client, channel, sharded)) !== count) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${count} subscribers of ${channel} (have ${last})`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export async function waitConnected(connections: RedisConnections, what: string, timeoutMs = 5000): Promise<void> {
  await waitFor(() => connections.status().connected, `${what} to connect to Redis`, timeoutMs);
}
