import { afterEach, beforeAll, describe, expect, it } from "vitest";
import type { ThreadEvent } from "../../server/fabric/fabric.js";
import type { EncodedBroadcast } from "../../server/fabric/encoded-broadcast.js";
import type { RedisFabric } from "../../server/fabric/fabric-redis.js";
import { workerReplicaName } from "../../server/fabric/replica-names.js";
import { PresenceService } from "../../server/presence/presence-service.js";
import { perFile } from "../support/opened.js";
import type { RedisCluster } from "../support/redis-cluster.js";
import { waitFor } from "../support/wait.js";
import { isDown, replicaOf, testFabric, waitConnected, type TestFabricOptions } from "./support.js";

/**
 * Cinder against a real Redis Cluster (3 masters): `redis-cluster://…` with sharded pub/sub,
 * the way a node runs with REDIS_URL=redis-cluster://… REDIS_SHARDED=true. Each simulated
 * node has one RedisFabric, whose connections carry its broadcasts, its presence gossip and
 * its liveness key.
 */

const PREFIX = "cinder:t:";
const PRESENCE_TIMINGS = { broadcastPeriod: 50, maxSilentPeriods: 4, downPeriod: 300, permdownPeriod: 2000, clockSamplePeriods: 2 };
const LIVENESS_TIMINGS = { ttlMs: 600, refreshMs: 200, pollMs: 100 };

interface TestNode {
  name: string;
  fabric: RedisFabric;
  received: EncodedBroadcast[];
  presence?: PresenceService;
  threadEvents: ThreadEvent[];
  errors: Error[];
}

const opened = perFile();
let cluster: RedisCluster;
let nodes: TestNode[] = [];

beforeAll(async () => {
  cluster = await opened.redisCluster({ masters: 3 });
});

afterEach(async () => {
  // A test that failed during an outage must not leave the cluster down for the next one.
  if (!cluster.running) await cluster.restart();
  for (const node of nodes) {
    node.presence?.stop();
    await node.fabric.close();
  }
  nodes = [];
});

async function startNodes(names: string[], options: TestFabricOptions = {}): Promise<TestNode[]> {
  const started = names.map((name): TestNode => {
    const fabric = testFabric(cluster, name, { sharded: true, ...options });
    const node: TestNode = { name, fabric, received: [], threadEvents: [], errors: [] };
    fabric.onBroadcast((message) => node.received.push(message));
    // Replica events only: "listed" (after the first look at the keys) is no replica's.
    fabric.onThreadEvent((event) => {
      if (event.kind !== "listed") node.threadEvents.push(event);
    });
    return node;
  });
  nodes.push(...started);
  for (const node of started) await waitConnected(node.fabric.connections, node.name, 10_000);
  return started;
}

/** A broadcast as the Broadcaster hands it to the fabric: its V2 JSON frame, encoded once. */
const broadcast = (topic: string, event: string, payload: unknown): EncodedBroadcast => ({
  topic,
  event,
  frame: JSON.stringify([null, null, topic, event, payload]),
});

const payloadOf = (message: EncodedBroadcast) => (JSON.parse(message.frame as string) as unknown[])[4] as { from?: string; seq?: number };

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

const messagesFrom = (node: TestNode, topic: string, from: string) => node.received.filter((m) => m.topic === topic && payloadOf(m).from === from);

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
        for (const topic of topics) sender.fabric.publish(broadcast(topic, "msg", { from: sender.name, seq }));
      }
    }
    // Markers go last: per sender and channel, Redis keeps publish order, so a marker in means all before it are in.
    for (const sender of senders) for (const topic of topics) sender.fabric.publish(broadcast(topic, "marker", { from: sender.name }));
    a.fabric.publish(broadcast("lobby", "hello", { from: "a" }));
    const markersIn = () =>
      senders.every((receiver) =>
        senders.every((sender) => sender === receiver || topics.every((topic) => messagesFrom(receiver, topic, sender.name).some((m) => m.event === "marker"))),
      );
    await waitFor(() => markersIn() && d.received.length >= 1, "every marker and the lobby message", 8000);

    const expected = [...Array.from({ length: COUNT }, (_, i) => `msg ${i + 1}`), "marker"];
    for (const receiver of senders) {
      for (const topic of topics) {
        for (const sender of senders) {
          const got = messagesFrom(receiver, topic, sender.name).map((m) => (m.event === "msg" ? `msg ${payloadOf(m).seq}` : m.event));
          expect(got, `${receiver.name} got from ${sender.name} on ${topic}`).toEqual(sender === receiver ? [] : expected);
        }
      }
      expect(receiver.received).toHaveLength(2 * (COUNT + 1) * topics.length);
    }
    // d has no interest in the rooms: it only got the one topic it listens to.
    expect(d.received).toEqual([broadcast("lobby", "hello", { from: "a" })]);
    for (const node of all) expect(node.fabric.redisStatus()).toMatchObject({ connected: true, dropped: 0, rejected: 0, pendingSubscribes: 0 });
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
    for (const topic of topics) a.fabric.publish(broadcast(topic, "again", { from: "a" }));
    await waitFor(() => b.received.length === topics.length, "one message per topic after resubscribing");
    expect(b.received.map((m) => m.topic).sort()).toEqual([...topics].sort());
    expect(b.fabric.redisStatus().subscribedTopics).toBe(topics.length);
  });

  it("survives a restart of the whole cluster: drops while down, then subscribes every topic again on its master", async () => {
    const topics = await topicOnEveryMaster();
    const [a, b] = await startNodes(["a", "b"]);
    await Promise.all(topics.map((topic) => b.fabric.setInterest(topic, true)));
    for (const topic of topics) await waitForShardSubscribers(PREFIX + topic, 1);

    await cluster.killAll();
    // `connected` goes false as soon as one of the two connections is lost; a publish is dropped
    // (and counted) at once only when the publisher connection knows it too.
    await waitFor(() => [a, b].every((node) => isDown(node.fabric.connections)), "both connections of both nodes to notice the outage");
    // Broadcasts fail and are counted, not queued for later.
    expect(() => a.fabric.publish(broadcast(topics[0], "lost", { from: "a" }))).not.toThrow();
    expect(a.fabric.redisStatus().dropped).toBe(1);
    // Interest that appears during the outage must be subscribed once the cluster is back.
    const joined = b.fabric.setInterest("room:new", true);
    await cluster.restart();
    await joined;
    await waitConnected(a.fabric.connections, "a", 10_000);
    await waitConnected(b.fabric.connections, "b", 10_000);
    for (const topic of [...topics, "room:new"]) await waitForShardSubscribers(PREFIX + topic, 1);

    for (const topic of [...topics, "room:new"]) a.fabric.publish(broadcast(topic, "back", { from: "a" }));
    await waitFor(() => b.received.length >= topics.length + 1, "one broadcast per topic after the restart");
    expect(b.received.map((m) => `${m.event} ${m.topic}`).sort()).toEqual([...topics, "room:new"].map((t) => `back ${t}`).sort());
    expect(a.fabric.redisStatus()).toMatchObject({ connected: true, dropped: 1 });
    expect(a.fabric.redisStatus().reconnects).toBeGreaterThanOrEqual(1);
    expect(b.fabric.redisStatus().reconnects).toBeGreaterThanOrEqual(1);
  });

  it("converges presence between three nodes over cluster-wide gossip (plain PUBLISH reaches every master)", async () => {
    const all = await startNodes(["a", "b", "c"]);
    for (const node of all) {
      node.presence = new PresenceService({
        nodeName: workerReplicaName(node.name, 0),
        incarnation: "1",
        ...PRESENCE_TIMINGS,
        gossip: node.fabric.gossip,
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
    await converge(all, "room:1", ["alice", "bob"], "room:1 to replicate");
    await converge(all, "room:2", ["carol"], "room:2 to replicate");
    expect(c.presence!.list("room:1").alice.metas[0].device).toBe("phone");

    a.presence!.untrack("sock-a", "room:1", "alice");
    await converge(all, "room:1", ["bob"], "alice to leave everywhere");
    // Each replica knows the two others, by their worker replica names.
    expect([...a.presence!.tracker.replicas().keys()].sort()).toEqual([replicaOf("b"), replicaOf("c")]);
    c.presence!.stop({ graceful: true });
    await converge([a, b], "room:2", [], "carol to leave with her node");
    for (const node of [a, b]) expect(node.presence!.tracker.replicas().has(c.presence!.replica)).toBe(false);
    expect(all.flatMap((n) => n.errors)).toEqual([]);
  });

  it("keeps liveness keys on the cluster: sees nodes up, a crashed node down, a stopped node down", async () => {
    const all = await startNodes(["observer", "victim", "leaving"], { liveness: LIVENESS_TIMINGS });
    const [observer, victim, leaving] = all;
    for (const node of all) node.fabric.start();
    await waitFor(() => observer.threadEvents.length === 2, "the observer to see both nodes");
    expect(observer.threadEvents).toEqual(
      expect.arrayContaining([
        { kind: "up", replica: replicaOf("leaving") },
        { kind: "up", replica: replicaOf("victim") },
      ]),
    );
    // The keys are spread over the masters; each lives where its slot is, holding the node's replicas.
    expect(await cluster.command(await cluster.masterOf("cinder:node:victim"), "GET", "cinder:node:victim")).toBe(JSON.stringify([replicaOf("victim")]));

    // A crash as Redis sees it: the node stops refreshing and never says goodbye.
    victim.fabric.connections.publisher.disconnect();
    victim.fabric.connections.subscriber.disconnect();
    await waitFor(() => observer.threadEvents.length === 3, "the crash to be reported", 3 * (LIVENESS_TIMINGS.ttlMs + LIVENESS_TIMINGS.pollMs));
    expect(observer.threadEvents[2]).toEqual({ kind: "down", replica: replicaOf("victim") });

    await leaving.fabric.close();
    await waitFor(() => observer.threadEvents.length === 4, "the graceful stop to be reported", 2000);
    expect(observer.threadEvents[3]).toEqual({ kind: "down", replica: replicaOf("leaving") });
    // Nobody else is left in the set of nodes (on its own master): the observer dropped the
    // crashed node, the leaving one removed itself.
    const members = async () => {
      const reply = await cluster.command(await cluster.masterOf("cinder:nodes"), "SMEMBERS", "cinder:nodes");
      return (reply as string[]).sort();
    };
    await waitFor(async () => JSON.stringify(await members()) === JSON.stringify(["observer"]), "the set of nodes to hold the observer only");
  });
});
