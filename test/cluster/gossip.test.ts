import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { RedisConnections } from "../../server/cluster/redis-connections.js";
import { PresenceService } from "../../server/presence/presence-service.js";
import { RedisGossipTransport } from "../../server/presence/transport-redis.js";
import { RedisServer } from "../support/redis-server.js";
import { sleep, waitFor } from "../support/wait.js";
import { testConnections, waitConnected } from "./support.js";

const TIMINGS = { broadcastPeriod: 50, maxSilentPeriods: 4, downPeriod: 300, permdownPeriod: 2000, clockSamplePeriods: 2 };
const SHARDS = 2;

interface TestNode {
  name: string;
  connections: RedisConnections;
  presence: PresenceService;
  transports: RedisGossipTransport[];
  errors: Error[];
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
    node.presence.stop();
    for (const transport of node.transports) transport.close();
    await node.connections.close();
  }
  nodes = [];
});

async function startNodes(names: string[]): Promise<TestNode[]> {
  const started = names.map((name) => {
    const connections = testConnections(redis, name);
    const node: TestNode = { name, connections, transports: [], errors: [], presence: undefined as unknown as PresenceService };
    node.presence = new PresenceService({
      nodeName: name,
      shards: SHARDS,
      ...TIMINGS,
      transport: (shard, replica) => {
        const transport = new RedisGossipTransport({ connections, shard, replica, onError: (e) => node.errors.push(e) });
        node.transports.push(transport);
        return transport;
      },
      onError: (e) => node.errors.push(e),
    });
    return node;
  });
  nodes.push(...started);
  for (const node of started) await waitConnected(node.connections, node.name);
  for (const node of started) node.presence.start();
  return started;
}

const keys = (node: TestNode, topic: string) => Object.keys(node.presence.list(topic)).sort();

/** Waits until every node lists exactly `expected` keys in `topic`. */
async function converge(all: TestNode[], topic: string, expected: string[], what: string): Promise<void> {
  await waitFor(() => all.every((node) => JSON.stringify(keys(node, topic)) === JSON.stringify(expected)), what, 8000).catch((error: Error) => {
    throw new Error(`${error.message}; have ${all.map((n) => `${n.name}=${keys(n, topic).join(",")}`).join(" ")}`);
  });
}

describe("RedisGossipTransport", () => {
  it("replicates track and untrack between three nodes, on every shard", async () => {
    const all = await startNodes(["a", "b", "c"]);
    const [a, b, c] = all;
    a.presence.track("sock-a", "room:1", "alice", { device: "phone" });
    b.presence.track("sock-b", "room:1", "bob", {});
    c.presence.track("sock-c", "room:2", "carol", {});
    c.presence.track("sock-c", "room:3", "carol", {});
    await converge(all, "room:1", ["alice", "bob"], "room:1 to replicate");
    await converge(all, "room:2", ["carol"], "room:2 to replicate");
    await converge(all, "room:3", ["carol"], "room:3 to replicate");
    expect(new Set(["room:1", "room:2", "room:3"].map((t) => nodes[0].presence.shardOf(t))).size).toBe(SHARDS);
    expect(c.presence.list("room:1").alice.metas[0].device).toBe("phone");

    a.presence.untrack("sock-a", "room:1", "alice");
    await converge(all, "room:1", ["bob"], "alice to leave everywhere");
    expect(all.flatMap((n) => n.errors)).toEqual([]);
  });

  it("drops a gracefully stopped node's presences at once (permdown, not silence)", async () => {
    const all = await startNodes(["a", "b", "c"]);
    const [a, b, c] = all;
    a.presence.track("sock-a", "room:1", "alice", {});
    c.presence.track("sock-c", "room:1", "carol", {});
    await converge(all, "room:1", ["alice", "carol"], "both presences to replicate");

    c.presence.stop({ graceful: true });
    await converge([a, b], "room:1", ["alice"], "carol to leave");
    // A silent node would first be listed as down; a graceful one is purged outright.
    for (const node of [a, b]) {
      expect(node.presence.shardOf("room:1").replicas().has(c.presence.replica)).toBe(false);
    }
  });

  it.each([
    ["shorter than downPeriod (peers stay up)", 0],
    ["longer than downPeriod (peers go down, then up)", TIMINGS.downPeriod + 200],
  ])("resyncs after a Redis restart %s, including changes made during the outage", async (_, outageMs) => {
    const all = await startNodes(["a", "b", "c"]);
    const [a, b, c] = all;
    a.presence.track("sock-a", "room:1", "alice", {});
    b.presence.track("sock-b", "room:1", "bob", {});
    await converge(all, "room:1", ["alice", "bob"], "initial replication");

    await redis.stop();
    // Changes nobody else can hear about now: their deltas are lost with the outage.
    a.presence.track("sock-a", "room:1", "amy", {});
    b.presence.untrack("sock-b", "room:1", "bob");
    c.presence.track("sock-c", "room:1", "carol", {});
    await sleep(outageMs);
    await redis.restart();
    for (const node of all) await waitConnected(node.connections, node.name);

    await converge(all, "room:1", ["alice", "amy", "carol"], "resync after the restart");
    for (const node of all) {
      const replicas = node.presence.shardOf("room:1").replicas();
      expect([...replicas.values()].map((r) => r.status)).toEqual(["up", "up"]);
    }
  });
});
