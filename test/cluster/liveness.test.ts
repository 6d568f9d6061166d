import type { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { NodeLiveness, type LiveNode, type NodeLivenessOptions } from "../../server/cluster/liveness.js";
import type { RedisConnections } from "../../server/cluster/redis-connections.js";
import { RedisServer } from "../support/redis-server.js";
import { sleep, waitFor } from "../support/wait.js";
import { observer as outsideClient, testConnections, waitConnected } from "./support.js";

/** Waits until the key's next refresh is due within `withinMs` (its remaining TTL is down to `dueAtTtl`). */
async function waitForNextRefreshWithin(client: Redis, key: string, dueAtTtl: number, withinMs: number): Promise<void> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const ttl = await client.pttl(key);
    if (ttl > 0 && ttl <= dueAtTtl + withinMs) return;
    if (Date.now() > deadline) throw new Error(`${key} was never close to its refresh (pttl ${ttl})`);
    await sleep(5);
  }
}

/** Fast timings so a crash shows within a second; the stall test uses the defaults. */
const FAST = { ttlMs: 600, refreshMs: 200, pollMs: 100 };

interface TestNode {
  name: string;
  connections: RedisConnections;
  liveness: NodeLiveness;
  downs: LiveNode[];
  ups: LiveNode[];
  revived: number;
}

let redis: RedisServer;
let nodes: TestNode[] = [];

beforeAll(async () => {
  redis = await RedisServer.start();
});

afterAll(async () => {
  await redis?.stop();
});

afterEach(async () => {
  for (const node of nodes) {
    await node.liveness.stop();
    await node.connections.close();
  }
  nodes = [];
});

async function startNode(name: string, replica: string, timings: Partial<NodeLivenessOptions> = FAST): Promise<TestNode> {
  const connections = testConnections(redis, name);
  await waitConnected(connections, name);
  const liveness = new NodeLiveness({ connections, nodeName: name, replica, ...timings });
  const node: TestNode = { name, connections, liveness, downs: [], ups: [], revived: 0 };
  liveness.onNodeDown((n) => node.downs.push(n));
  liveness.onNodeUp((n) => node.ups.push(n));
  liveness.onRevived(() => node.revived++);
  liveness.start();
  nodes.push(node);
  return node;
}

/** Like kill -9 as far as Redis can tell: the node stops refreshing and never says goodbye. */
function crash(node: TestNode): void {
  node.connections.publisher.disconnect();
  node.connections.subscriber.disconnect();
}

describe("NodeLiveness", () => {
  it("reports a crashed node down once its key expires, and up again when it comes back", async () => {
    const observer = await startNode("observer", "observer#1");
    const victim = await startNode("victim", "victim#1");
    await waitFor(() => observer.ups.length === 1, "the observer to see the victim");
    expect(observer.ups).toEqual([{ name: "victim", replica: "victim#1" }]);

    const crashedAt = Date.now();
    crash(victim);
    // Expected: within ttl + one poll of the last refresh; the deadline leaves room for a busy machine.
    await waitFor(() => observer.downs.length === 1, "the crash to be reported", 3 * (FAST.ttlMs + FAST.pollMs));
    expect(observer.downs).toEqual([{ name: "victim", replica: "victim#1" }]);
    expect(Date.now() - crashedAt).toBeGreaterThanOrEqual(FAST.ttlMs - FAST.refreshMs);
    expect(observer.liveness.liveNodes()).toEqual([]);

    // The same process resuming after a stall: same name, same replica.
    const resumed = await startNode("victim", "victim#1");
    await waitFor(() => observer.ups.length === 2, "the node to be reported up again");
    expect(observer.ups[1]).toEqual({ name: "victim", replica: "victim#1" });
    expect(resumed.downs).toEqual([]);
  });

  it("reports a restart with a new replica as the old one down and the new one up", async () => {
    const observer = await startNode("observer", "observer#1");
    const first = await startNode("worker", "worker#1");
    await waitFor(() => observer.ups.length === 1, "the first incarnation");
    crash(first);
    await startNode("worker", "worker#2");
    await waitFor(() => observer.ups.length === 2, "the second incarnation");
    expect(observer.downs).toEqual([{ name: "worker", replica: "worker#1" }]);
    expect(observer.ups[1]).toEqual({ name: "worker", replica: "worker#2" });
  });

  it("reports a graceful stop on the next poll, without waiting for the TTL", async () => {
    const slowTtl = { ttlMs: 10_000, refreshMs: 200, pollMs: 100 };
    const observer = await startNode("observer", "observer#1", slowTtl);
    const leaving = await startNode("leaving", "leaving#1", slowTtl);
    await waitFor(() => observer.ups.length === 1, "the observer to see the node");
    await leaving.liveness.stop();
    await waitFor(() => observer.downs.length === 1, "the graceful stop to be seen", 2000);
    expect(observer.downs).toEqual([{ name: "leaving", replica: "leaving#1" }]);
  });

  it("declares nobody down when Redis restarts empty", async () => {
    const a = await startNode("a", "a#1");
    const b = await startNode("b", "b#1");
    await waitFor(() => a.ups.length === 1 && b.ups.length === 1, "both to see each other");
    await redis.stop();
    await sleep(FAST.ttlMs); // longer than the TTL: every key would have expired anyway
    await redis.restart();
    await waitConnected(a.connections, "a");
    await waitConnected(b.connections, "b");
    await sleep(3 * FAST.ttlMs);
    expect([...a.downs, ...b.downs]).toEqual([]);
    expect(a.liveness.liveNodes()).toEqual([{ name: "b", replica: "b#1" }]);
    expect(a.revived + b.revived).toBe(0);
  });

  it("does not declare a node down while its event loop is blocked for 1.5 s (default timings)", async () => {
    const observer = await startNode("observer", "observer#1", {});
    const busy = await startNode("busy", "busy#1", {});
    await waitFor(() => observer.ups.length === 1, "the observer to see the busy node");
    // Worst case: the stall starts just before a refresh is due, so the key ages refreshMs + stall.
    const outside = outsideClient(redis);
    try {
      await waitForNextRefreshWithin(outside, "cinder:node:busy", 3000 - 1000, 50);
    } finally {
      outside.disconnect();
    }
    const until = Date.now() + 1500;
    while (Date.now() < until) {
      // A synchronous stall: no timer, no socket read, no refresh on this thread.
    }
    await sleep(1500); // at least one more poll of the observer
    // The observer shares this thread, so it was stalled too and cannot see a gap; what a peer
    // on another machine would see is whether the key lapsed, which the busy node learns on
    // its next refresh (SET … GET found nothing). With ttl 2000 it does (liveness-stall.test.ts).
    expect(busy.revived).toBe(0);
    expect(observer.downs).toEqual([]);
  });
});
