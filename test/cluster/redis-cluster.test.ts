import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { NodeLiveness, type LiveNode } from "../../server/cluster/liveness.js";
import { RedisConnections } from "../../server/cluster/redis-connections.js";
import { PresenceService } from "../../server/presence/presence-service.js";
import { RedisGossipTransport } from "../../server/presence/transport-redis.js";
import type { BroadcastMessage } from "../../server/pubsub/broker.js";
import { RedisFabric } from "../../server/pubsub/broker-redis.js";
import { RedisCluster } from "../support/redis-cluster.js";
import { waitFor } from "../support/wait.js";
import { waitConnected } from "./support.js";

/**
 * Cinder against a real Redis Cluster (3 masters): `redis-cluster://…` with sharded pub/sub,
 * the way a node runs with REDIS_URL=redis-cluster://… REDIS_SHARDED=true. Each simulated
 * node has one RedisConnections shared by its fabric, its presence shards and its liveness.
 */

const PREFIX = "cinder:t:";
const PRESENCE_TIMINGS = { broadcastPeriod: 50, maxSilentPeriods: 4, downPeriod: 300, permdownPeriod: 2000, clockSamplePeriods: 2 };
const LIVENESS_TIMINGS = { ttlMs: 600, refreshMs: 200, pollMs: 100 };

interface TestNode {
  name: string;
  connections: RedisConnections;
  fabric: RedisFabric;
  received: BroadcastMessage[];
  presence?: PresenceService;
  transports: RedisGossipTransport[];
  liveness?: NodeLiveness;
  errors: Error[];
}

let cluster: RedisCluster;
let nodes: TestNode[] = [];

beforeAll(async () => {
  cluster = await RedisCluster.start({ masters: 3 });
});

afterAll(async () => {
  await cluster?.stop();
});

afterEach(async () => {
  // A test that failed during an outage must not leave the cluster down for the next one.
  if (!cluster.running) await cluster.restart();
  for (const node of nodes) {
    node.presence?.stop();
    for (const transport of node.transports) transport.close();
    await node.liveness?.stop();
    await node.fabric.close();
    await node.connections.close();
  }
  nodes = [];
});

async function startNodes(names: string[]): Promise<TestNode[]> {
  const started = names.map((name): TestNode => {
    const connections = new RedisConnections({
      url: cluster.url,
      nodeName: name,
      sharded: true,
      backoff: { minMs: 20, maxMs: 200 },
      subscriptions: { batchMs: 2, lingerMs: 50 },
    });
    const fabric = new RedisFabric({ nodeName: name, connections, sharded: true });
    const node: TestNode = { name, connections, fabric, received: [], transports: [], errors: [] };
    fabric.onMessage((message) => node.received.push(message));
    return node;
  });
  nodes.push(...started);
  for (const node of started) await waitConnected(node.connections, node.name, 10_000);
  return started;
}

/** Sharded subscribers of `channel` on the master that serves it (SHARDNUMSUB only counts its own clients). */
async function shardSubscribers(channel: string): Promise<number> {
  const reply = await cluster.command(await cluster.masterOf(channel), "PUBSUB", "SHARDNUMSUB", channel);
  return Number((reply as [string, number])[1]);
}

async function waitForShardSubscribers(channel: string, count: number): Promise<void> {
  let last = -1;
  await waitFor(async () => (last = await shardSubscribers(channel)) === count, `${count} sharded subscribers of ${channel}`).catch((error: Error) => {
    throw new Error(`${error.message} (have ${last})`);
  });
}

/** One topic per master: `room:<n>` with the smallest n whose channel hashes to a master not covered yet. */
async function topicOnEveryMaster(): Promise<string[]> {
  const byMaster = new Map<number, string>();
  for (let n = 0; byMaster.size < cluster.ports.length; n++) {
    if (n > 1000) throw new Error("no topic found for some master");
    const topic = `room:${n}`;
    const port = await cluster.masterOf(PREFIX + topic);
    if (!byMaster.has(port)) byMaster.set(port, topic);
  }
  return [...byMaster.values()];
}

const messagesFrom = (node: TestNode, topic: string, from: string) =>
  node.received.filter((m) => m.topic === topic && (m.payload as { from?: string }).from === from);

describe("Redis Cluster (redis-cluster://, sharded pub/sub)", () => {
  it("delivers broadcasts of topics on every master to each other interested node exactly once, never to the sender", async () => {
    const topics = await topicOnEveryMaster();
    expect(new Set(await Promise.all(topics.map((t) => cluster.masterOf(PREFIX + t)))).size).toBe(3);
    const all = await startNodes(["a", "b", "c", "d"]);
    const [a, b, c, d] = all;
    const senders = [a, b, c];
    await Promise.all(senders.flatMap((node) => topics.map((topic) => node.fabric.setInterest(topic, true))));
    await d.fabric.setInterest("lobby", true);
    // Each channel's SSUBSCRIBEs must have reached the master that owns its slot.
    for (const topic of topics) await waitForShardSubscribers(PREFIX + topic, 3);
    await waitForShardSubscribers(PREFIX + "lobby", 1);

    const COUNT = 30;
    for (let seq = 1; seq <= COUNT; seq++) {
      for (const sender of senders) {
        for (const topic of topics) sender.fabric.publish({ topic, event: "msg", payload: { from: sender.name, seq } });
      }
    }
    // Markers go last: per sender and channel, Redis keeps publish order, so a marker in means all before it are in.
    for (const sender of senders) for (const topic of topics) sender.fabric.publish({ topic, event: "marker", payload: { from: sender.name } });
    a.fabric.publish({ topic: "lobby", event: "hello", payload: { from: "a" } });
    const markersIn = () =>
      senders.every((receiver) =>
        senders.every((sender) => sender === receiver || topics.every((topic) => messagesFrom(receiver, topic, sender.name).some((m) => m.event === "marker"))),
      );
    await waitFor(() => markersIn() && d.received.length >= 1, "every marker and the lobby message", 8000);

    const expected = [...Array.from({ length: COUNT }, (_, i) => `msg ${i + 1}`), "marker"];
    for (const receiver of senders) {
      for (const topic of topics) {
        for (const sender of senders) {
          const got = messagesFrom(receiver, topic, sender.name).map((m) => (m.event === "msg" ? `msg ${(m.payload as { seq: number }).seq}` : m.event));
          expect(got, `${receiver.name} got from ${sender.name} on ${topic}`).toEqual(sender === receiver ? [] : expected);
        }
      }
      expect(receiver.received).toHaveLength(2 * (COUNT + 1) * topics.length);
    }
    // d has no interest in the rooms: it only got the one topic it listens to.
    expect(d.received).toEqual([{ topic: "lobby", event: "hello", payload: { from: "a" } }]);
    for (const node of all) expect(node.fabric.status()).toMatchObject({ connected: true, dropped: 0, rejected: 0 });
  });

  it("unsubscribes on the topic's own master when interest goes, and subscribes again when it returns", async () => {
    const topics = await topicOnEveryMaster();
    const [a, b] = await startNodes(["a", "b"]);
    await Promise.all(topics.map((topic) => b.fabric.setInterest(topic, true)));
    for (const topic of topics) await waitForShardSubscribers(PREFIX + topic, 1);

    const [gone, ...kept] = topics;
    b.fabric.setInterest(gone, false);
    await waitForShardSubscribers(PREFIX + gone, 0);
    for (const topic of kept) expect(await shardSubscribers(PREFIX + topic)).toBe(1);

    await b.fabric.setInterest(gone, true);
    await waitForShardSubscribers(PREFIX + gone, 1);
    for (const topic of topics) a.fabric.publish({ topic, event: "again", payload: { from: "a" } });
    await waitFor(() => b.received.length === topics.length, "one message per topic after resubscribing");
    expect(b.received.map((m) => m.topic).sort()).toEqual([...topics].sort());
    expect(b.fabric.status().subscribedTopics).toBe(topics.length);
  });

  it("survives a restart of the whole cluster: drops while down, then subscribes every topic again on its master", async () => {
    const topics = await topicOnEveryMaster();
    const [a, b] = await startNodes(["a", "b"]);
    await Promise.all(topics.map((topic) => b.fabric.setInterest(topic, true)));
    for (const topic of topics) await waitForShardSubscribers(PREFIX + topic, 1);

    await cluster.killAll();
    await waitFor(() => !a.fabric.status().connected && !b.fabric.status().connected, "both to notice the outage");
    // Broadcasts fail and are counted, not queued for later.
    expect(() => a.fabric.publish({ topic: topics[0], event: "lost", payload: { from: "a" } })).not.toThrow();
    expect(a.fabric.status().dropped).toBe(1);
    // Interest that appears during the outage must be subscribed once the cluster is back.
    const joined = b.fabric.setInterest("room:new", true);
    await cluster.restart();
    await joined;
    await waitConnected(a.connections, "a", 10_000);
    await waitConnected(b.connections, "b", 10_000);
    for (const topic of [...topics, "room:new"]) await waitForShardSubscribers(PREFIX + topic, 1);

    for (const topic of [...topics, "room:new"]) a.fabric.publish({ topic, event: "back", payload: { from: "a" } });
    await waitFor(() => b.received.length >= topics.length + 1, "one broadcast per topic after the restart");
    expect(b.received.map((m) => `${m.event} ${m.topic}`).sort()).toEqual([...topics, "room:new"].map((t) => `back ${t}`).sort());
    expect(a.fabric.status()).toMatchObject({ connected: true, dropped: 1 });
    expect(a.fabric.status().reconnects).toBeGreaterThanOrEqual(1);
    expect(b.fabric.status().reconnects).toBeGreaterThanOrEqual(1);
  });

  it("converges presence between three nodes over cluster-wide gossip (plain PUBLISH reaches every master)", async () => {
    const all = await startNodes(["a", "b", "c"]);
    for (const node of all) {
      node.presence = new PresenceService({
        nodeName: node.name,
        shards: 2,
        ...PRESENCE_TIMINGS,
        transport: (shard, replica) => {
          const transport = new RedisGossipTransport({ connections: node.connections, shard, replica, onError: (e) => node.errors.push(e) });
          node.transports.push(transport);
          return transport;
        },
        onError: (e) => node.errors.push(e),
      });
      node.presence.start();
    }
    const [a, b, c] = all;
    const keys = (node: TestNode, topic: string) => Object.keys(node.presence!.list(topic)).sort();
    const converge = async (members: TestNode[], topic: string, expected: string[], what: string) =>
      waitFor(() => members.every((node) => JSON.stringify(keys(node, topic)) === JSON.stringify(expected)), what, 8000).catch((error: Error) => {
        throw new Error(`${error.message}; have ${members.map((n) => `${n.name}=${keys(n, topic).join(",")}`).join(" ")}`);
      });

    a.presence!.track("sock-a", "room:1", "alice", { device: "phone" });
    b.presence!.track("sock-b", "room:1", "bob", {});
    c.presence!.track("sock-c", "room:2", "carol", {});
    expect(a.presence!.shardOf("room:1")).not.toBe(a.presence!.shardOf("room:2"));
    await converge(all, "room:1", ["alice", "bob"], "room:1 to replicate");
    await converge(all, "room:2", ["carol"], "room:2 to replicate");
    expect(c.presence!.list("room:1").alice.metas[0].device).toBe("phone");

    a.presence!.untrack("sock-a", "room:1", "alice");
    await converge(all, "room:1", ["bob"], "alice to leave everywhere");
    c.presence!.stop({ graceful: true });
    await converge([a, b], "room:2", [], "carol to leave with her node");
    expect(all.flatMap((n) => n.errors)).toEqual([]);
  });

  it("keeps liveness keys on the cluster: sees nodes up, a crashed node down, a stopped node down", async () => {
    const all = await startNodes(["observer", "victim", "leaving"]);
    const ups: LiveNode[] = [];
    const downs: LiveNode[] = [];
    for (const node of all) {
      node.liveness = new NodeLiveness({ connections: node.connections, nodeName: node.name, replica: `${node.name}#1`, ...LIVENESS_TIMINGS });
    }
    const [observer, victim, leaving] = all;
    observer.liveness!.onNodeUp((n) => ups.push(n));
    observer.liveness!.onNodeDown((n) => downs.push(n));
    for (const node of all) node.liveness!.start();
    await waitFor(() => ups.length === 2, "the observer to see both nodes");
    expect(ups.map((n) => n.name).sort()).toEqual(["leaving", "victim"]);
    // The keys are spread over the masters; each lives where its slot is.
    expect(await cluster.command(await cluster.masterOf("cinder:node:victim"), "GET", "cinder:node:victim")).toBe("victim#1");

    // A crash as Redis sees it: the node stops refreshing and never says goodbye.
    victim.connections.publisher.disconnect();
    victim.connections.subscriber.disconnect();
    await waitFor(() => downs.length === 1, "the crash to be reported", 3 * (LIVENESS_TIMINGS.ttlMs + LIVENESS_TIMINGS.pollMs));
    expect(downs).toEqual([{ name: "victim", replica: "victim#1" }]);

    await leaving.liveness!.stop();
    await waitFor(() => downs.length === 2, "the graceful stop to be reported", 2000);
    expect(downs[1]).toEqual({ name: "leaving", replica: "leaving#1" });
    expect(observer.liveness!.liveNodes()).toEqual([]);
  });
});
