import { afterEach, beforeAll, describe, expect, it } from "vitest";
import type { ReplicaId } from "../../crdt/index.js";
import type { ThreadEvent } from "../../server/fabric/fabric.js";
import type { RedisFabric } from "../../server/fabric/fabric-redis.js";
import { workerReplicaName } from "../../server/fabric/replica-names.js";
import type { GossipMessage } from "../../server/presence/messages.js";
import { PresenceService } from "../../server/presence/presence-service.js";
import { perFile } from "../support/opened.js";
import type { RedisServer } from "../support/redis-server.js";
import { sleep, waitFor } from "../support/wait.js";
import { replicaOf, testFabric, waitConnected, type TestFabricOptions } from "./support.js";

const TIMINGS = { broadcastPeriod: 50, maxSilentPeriods: 4, downPeriod: 300, permdownPeriod: 2000, clockSamplePeriods: 2 };

/** One simulated single-worker node: its fabric and its presence replica (`<name>/w0#1`), wired as server.ts does. */
interface TestNode {
  name: string;
  fabric: RedisFabric;
  presence: PresenceService;
  /** What the fabric reported about other replicas (up, down, gone). */
  threadEvents: ThreadEvent[];
  /** How often it said every live replica was listed (once, after its first look at the liveness keys). */
  listed: number;
  errors: Error[];
}

const opened = perFile();
let redis: RedisServer;
let nodes: TestNode[] = [];

beforeAll(async () => {
  redis = await opened.redis();
});

afterEach(async () => {
  // A test that failed during an outage must not leave Redis down for the next one.
  if (!redis.running) await redis.restart();
  for (const node of nodes) {
    node.presence.stop();
    await node.fabric.close();
  }
  nodes = [];
});

async function startNodes(names: string[], timings: Partial<typeof TIMINGS> = TIMINGS, fabricOptions: TestFabricOptions = {}): Promise<TestNode[]> {
  const started = names.map((name) => {
    const fabric = testFabric(redis, name, fabricOptions);
    const errors: Error[] = [];
    const presence = new PresenceService({
      nodeName: workerReplicaName(name, 0),
      incarnation: "1",
      ...timings,
      gossip: fabric.gossip,
      onError: (e) => errors.push(e),
    });
    const node: TestNode = { name, fabric, presence, threadEvents: [], listed: 0, errors };
    fabric.onThreadEvent((event) => {
      if (event.kind === "listed") node.listed++;
      else node.threadEvents.push(event);
      presence.threadEvent(event);
    });
    return node;
  });
  nodes.push(...started);
  for (const node of started) await waitConnected(node.fabric.connections, node.name);
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

/** The status of every peer replica `node` knows, by replica id. */
const peerStatuses = (node: TestNode) => Object.fromEntries([...node.presence.tracker.replicas()].map(([id, info]) => [id, info.status]));

describe("RedisFabric gossip lane", () => {
  it("broadcasts to every other node and sends to one replica only on the node of that replica", async () => {
    const fabrics = ["a", "b", "c"].map((name) => testFabric(redis, name));
    const got = new Map<string, Array<{ message: GossipMessage; to: ReplicaId | null }>>();
    for (const [i, fabric] of fabrics.entries()) {
      const name = ["a", "b", "c"][i];
      got.set(name, []);
      fabric.onGossip((message, to) => got.get(name)!.push({ message: message as GossipMessage, to })); // checked by checkGossip
    }
    const close = () => Promise.all(fabrics.map((fabric) => fabric.close()));
    try {
      for (const [i, fabric] of fabrics.entries()) await waitConnected(fabric.connections, `node ${i}`);
      const [a, , c] = fabrics;
      const toAll: GossipMessage = { type: "gracefulPermdown", from: replicaOf("a") };
      const toB: GossipMessage = { type: "transferRequest", from: replicaOf("a"), requestId: 7, clock: [] };
      const fromC: GossipMessage = { type: "gracefulPermdown", from: replicaOf("c") };
      const marker: GossipMessage = { type: "gracefulPermdown", from: replicaOf("a", "marker") };
      const heard = (name: string, message: GossipMessage) => got.get(name)!.some((m) => m.message.from === message.from);
      a.gossip.broadcast(toAll);
      a.gossip.sendTo(replicaOf("b"), toB);
      c.gossip.broadcast(fromC);
      a.gossip.broadcast(marker);
      // Each publisher's messages come out of Redis in order: once a message is heard, whatever its
      // sender published before it has reached every subscriber (the sender's echo included).
      await waitFor(() => heard("b", marker) && heard("c", marker) && heard("b", fromC), "a's marker and c's message");
      // Two more rounds, so that a's and c's own echoes have come back too (and were dropped).
      const fromC2: GossipMessage = { type: "gracefulPermdown", from: replicaOf("c", "2") };
      c.gossip.broadcast(fromC2);
      await waitFor(() => heard("a", fromC2), "c's second message");
      const marker2: GossipMessage = { type: "gracefulPermdown", from: replicaOf("a", "marker2") };
      a.gossip.broadcast(marker2);
      await waitFor(() => heard("b", marker2) && heard("c", marker2), "a's second marker");

      const from = (name: string, node: string) => got.get(name)!.filter((m) => m.message.from.startsWith(`${node}/`));
      // In a's publish order, though broadcasts and sends to b travel on different channels.
      expect(from("b", "a")).toEqual([
        { message: toAll, to: null },
        { message: toB, to: replicaOf("b") },
        { message: marker, to: null },
        { message: marker2, to: null },
      ]);
      // Sent to b only: c never sees it.
      expect(from("c", "a")).toEqual([
        { message: toAll, to: null },
        { message: marker, to: null },
        { message: marker2, to: null },
      ]);
      expect(from("b", "c")).toEqual([
        { message: fromC, to: null },
        { message: fromC2, to: null },
      ]);
      // Never back to the sender.
      expect(from("a", "a")).toEqual([]);
      expect(from("c", "c")).toEqual([]);
      expect(fabrics.map((fabric) => fabric.redisStatus().rejected)).toEqual([0, 0, 0]);
    } finally {
      await close();
    }
  });
});

describe("PresenceService over the RedisFabric gossip lane", () => {
  it("replicates track and untrack between three nodes, on several topics", async () => {
    const all = await startNodes(["a", "b", "c"]);
    const [a, b, c] = all;
    a.presence.track("sock-a", "room:1", "alice", { device: "phone" });
    b.presence.track("sock-b", "room:1", "bob", {});
    c.presence.track("sock-c", "room:2", "carol", {});
    c.presence.track("sock-c", "room:3", "carol", {});
    await converge(all, "room:1", ["alice", "bob"], "room:1 to replicate");
    await converge(all, "room:2", ["carol"], "room:2 to replicate");
    await converge(all, "room:3", ["carol"], "room:3 to replicate");
    expect(c.presence.list("room:1").alice.metas[0].device).toBe("phone");
    // Each node's one replica knows the two others, by their worker replica names.
    expect(peerStatuses(a)).toEqual({ [replicaOf("b")]: "up", [replicaOf("c")]: "up" });

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
      expect(node.presence.tracker.replicas().has(c.presence.replica)).toBe(false);
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
    // The length of the outage is what this case is about, not a synchronisation.
    await sleep(outageMs);
    await redis.restart();
    for (const node of all) await waitConnected(node.fabric.connections, node.name);

    await converge(all, "room:1", ["alice", "amy", "carol"], "resync after the restart");
    for (const node of all) {
      await waitFor(() => Object.values(peerStatuses(node)).join() === "up,up", `${node.name} to see both peers up`);
    }
  });

  it("hides a node's presences as soon as its liveness key expires, and shows them again when it is back", async () => {
    // downPeriod is far away: only the liveness keys can make a node down within this test.
    const liveness = { ttlMs: 600, refreshMs: 200, pollMs: 100 };
    const all = await startNodes(["a", "b"], { ...TIMINGS, downPeriod: 20_000, permdownPeriod: 60_000 }, { liveness });
    const [a, b] = all;
    for (const node of all) node.fabric.start();
    b.presence.track("sock-b", "room:1", "bob", {});
    await converge(all, "room:1", ["bob"], "bob to replicate");
    await waitFor(() => a.threadEvents.length === 1, "a to see b's liveness key");
    expect(a.threadEvents).toEqual([{ kind: "up", replica: replicaOf("b") }]);

    // b is cut off from Redis: its key expires and its heartbeats stop reaching a.
    b.fabric.connections.publisher.disconnect();
    b.fabric.connections.subscriber.disconnect();
    await waitFor(() => a.threadEvents.length === 2, "b to be reported down", 3 * (liveness.ttlMs + liveness.pollMs));
    expect(a.threadEvents[1]).toEqual({ kind: "down", replica: replicaOf("b") });
    expect(keys(a, "room:1")).toEqual([]);
    expect(peerStatuses(a)).toEqual({ [replicaOf("b")]: "down" });

    // Back: the same replica, so its presences return (it is not a restart).
    void b.fabric.connections.publisher.connect();
    void b.fabric.connections.subscriber.connect();
    await waitFor(() => a.threadEvents.length === 3, "b to be reported up again");
    expect(a.threadEvents[2]).toEqual({ kind: "up", replica: replicaOf("b") });
    await converge(all, "room:1", ["bob"], "bob to be listed again");
    expect(all.map((n) => n.listed)).toEqual([1, 1]);
    expect(all.flatMap((n) => n.errors)).toEqual([]);
  });
});
