import type { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { RedisConnections } from "../../server/cluster/redis-connections.js";
import type { BroadcastMessage } from "../../server/pubsub/broker.js";
import { RedisFabric } from "../../server/pubsub/broker-redis.js";
import { RedisServer } from "../support/redis-server.js";
import { waitFor } from "../support/wait.js";
import { observer, testConnections, waitConnected, waitForSubscribers } from "./support.js";

/** One simulated node: its connections, its fabric, and everything the fabric handed it. */
interface TestNode {
  name: string;
  connections: RedisConnections;
  fabric: RedisFabric;
  received: BroadcastMessage[];
}

let redis: RedisServer;
let outside: Redis;
let nodes: TestNode[] = [];

beforeAll(async () => {
  redis = await RedisServer.start();
  outside = observer(redis);
});

afterAll(async () => {
  outside?.disconnect();
  await redis?.stop();
});

afterEach(async () => {
  for (const node of nodes) {
    await node.fabric.close();
    await node.connections.close();
  }
  nodes = [];
});

async function startNodes(names: string[], sharded = false): Promise<TestNode[]> {
  const started = names.map((name) => {
    const connections = testConnections(redis, name, sharded);
    const fabric = new RedisFabric({ nodeName: name, connections, sharded });
    const node: TestNode = { name, connections, fabric, received: [] };
    fabric.onMessage((message) => node.received.push(message));
    return node;
  });
  nodes.push(...started);
  for (const node of started) await waitConnected(node.connections, node.name);
  return started;
}

const seqs = (node: TestNode, topic: string) =>
  node.received.filter((m) => m.topic === topic && m.event === "msg").map((m) => (m.payload as { seq: number }).seq);

describe("RedisFabric", () => {
  it("delivers to each other interested node exactly once, in publish order, never back to the sender", async () => {
    const [a, b, c, d] = await startNodes(["a", "b", "c", "d"]);
    for (const node of [a, b, c]) node.fabric.setInterest("room:1", true);
    d.fabric.setInterest("room:2", true);
    await waitForSubscribers(outside, "cinder:t:room:1", 3);
    await waitForSubscribers(outside, "cinder:t:room:2", 1);

    for (let seq = 1; seq <= 200; seq++) a.fabric.publish({ topic: "room:1", event: "msg", payload: { seq } });
    await waitFor(() => seqs(b, "room:1").length >= 200 && seqs(c, "room:1").length >= 200, "b and c to receive 200");
    // A marker sent after everything: once it is in, nothing else from `a` is on its way.
    b.fabric.publish({ topic: "room:1", event: "marker", payload: {} });
    await waitFor(() => a.received.some((m) => m.event === "marker") && c.received.some((m) => m.event === "marker"), "marker");

    const expected = Array.from({ length: 200 }, (_, i) => i + 1);
    expect(seqs(b, "room:1")).toEqual(expected);
    expect(seqs(c, "room:1")).toEqual(expected);
    expect(a.received.map((m) => m.event)).toEqual(["marker"]);
    expect(d.received).toEqual([]);
    expect(b.received[0]).toEqual({ topic: "room:1", event: "msg", payload: { seq: 1 } });
  });

  it("carries binary payloads as bytes", async () => {
    const [a, b] = await startNodes(["a", "b"]);
    b.fabric.setInterest("bin", true);
    await waitForSubscribers(outside, "cinder:t:bin", 1);
    a.fabric.publish({ topic: "bin", event: "blob", payload: new Uint8Array([0, 1, 254, 255]) });
    a.fabric.publish({ topic: "bin", event: "blob", payload: new Uint8Array([7, 8]).buffer });
    await waitFor(() => b.received.length === 2, "two binary messages");
    expect(b.received.map((m) => [...(m.payload as Uint8Array)])).toEqual([[0, 1, 254, 255], [7, 8]]);
  });

  it("stops receiving a topic when interest goes, and drops its Redis subscription", async () => {
    const [a, b] = await startNodes(["a", "b"]);
    b.fabric.setInterest("room:x", true);
    await waitForSubscribers(outside, "cinder:t:room:x", 1);
    a.fabric.publish({ topic: "room:x", event: "before", payload: {} });
    await waitFor(() => b.received.length === 1, "message while interested");

    b.fabric.setInterest("room:x", false);
    a.fabric.publish({ topic: "room:x", event: "after", payload: {} });
    await waitForSubscribers(outside, "cinder:t:room:x", 0);
    expect(b.received.map((m) => m.event)).toEqual(["before"]);
    expect(b.fabric.status().subscribedTopics).toBe(0);
  });

  it("drops a bad envelope with a count and goes on", async () => {
    const [a, b] = await startNodes(["a", "b"]);
    b.fabric.setInterest("room:1", true);
    await waitForSubscribers(outside, "cinder:t:room:1", 1);
    await outside.publish("cinder:t:room:1", Buffer.from([0xc1, 0xff, 0x00]));
    await outside.publish("cinder:t:room:1", "plain text");
    a.fabric.publish({ topic: "room:1", event: "good", payload: { ok: true } });
    await waitFor(() => b.received.length === 1, "the good message");
    expect(b.received[0].event).toBe("good");
    expect(b.fabric.status().rejected).toBe(2);
  });

  it("works with sharded pub/sub (SSUBSCRIBE/SPUBLISH)", async () => {
    const [a, b, c] = await startNodes(["a", "b", "c"], true);
    b.fabric.setInterest("room:s", true);
    await waitForSubscribers(outside, "cinder:t:room:s", 1, true);
    for (let seq = 1; seq <= 50; seq++) a.fabric.publish({ topic: "room:s", event: "msg", payload: { seq } });
    await waitFor(() => seqs(b, "room:s").length === 50, "50 sharded messages");
    expect(seqs(b, "room:s")).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(c.received).toEqual([]);
  });

  it("survives a Redis restart: drops while down without throwing, then re-subscribes every topic", async () => {
    const [a, b] = await startNodes(["a", "b"]);
    b.fabric.setInterest("room:1", true);
    await waitForSubscribers(outside, "cinder:t:room:1", 1);

    await redis.stop();
    await waitFor(() => !a.fabric.status().connected && !b.fabric.status().connected, "both to notice the outage");
    expect(() => a.fabric.publish({ topic: "room:1", event: "lost", payload: {} })).not.toThrow();
    expect(a.fabric.status().dropped).toBe(1);
    // Interest that appears during the outage must be subscribed once Redis is back.
    b.fabric.setInterest("room:new", true);

    await redis.restart();
    await waitConnected(a.connections, "a");
    await waitConnected(b.connections, "b");
    await waitForSubscribers(outside, "cinder:t:room:1", 1);
    await waitForSubscribers(outside, "cinder:t:room:new", 1);
    a.fabric.publish({ topic: "room:1", event: "back", payload: {} });
    a.fabric.publish({ topic: "room:new", event: "fresh", payload: {} });
    await waitFor(() => b.received.length === 2, "broadcasts after the restart");
    expect(b.received.map((m) => m.event)).toEqual(["back", "fresh"]);
    expect(a.fabric.status().reconnects).toBeGreaterThanOrEqual(1);
  });
});
