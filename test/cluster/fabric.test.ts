import { Encoder } from "@msgpack/msgpack";
import type { Redis } from "ioredis";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { decodeBinary, encodeBinary } from "../../client/codec/binary.js";
import type { RedisConnections } from "../../server/redis/redis-connections.js";
import type { ChannelListener } from "../../server/redis/subscription-registry.js";
import type { EncodedBroadcast } from "../../server/fabric/encoded-broadcast.js";
import type { HistoryAppend } from "../../server/history/history.js";
import type { RedisFabric } from "../../server/fabric/fabric-redis.js";
import { encodeLaneEnvelope } from "../../server/fabric/redis-envelope.js";
import type { TopicEnvelopeKind } from "../../server/fabric/topic-channels.js";
import { RedisFrameStore } from "../../server/history/frame-store-redis.js";
import { RedisHistoryAuthority } from "../../server/history/history-redis.js";
import { createLogger } from "../../server/ops/logger.js";
import { DEFAULTS } from "../../server/config.js";
import { fabricMetrics, type FabricMetrics } from "../../server/fabric/fabric-metrics.js";
import { historyMetrics, type HistoryMetrics } from "../../server/history/history-metrics.js";
import { metricGroup, metricOf } from "../support/metrics.js";
import { perFile } from "../support/opened.js";
import { subscribers, waitForSubscribers, type RedisServer } from "../support/redis-server.js";
import { waitFor } from "../support/wait.js";
import { isDown, isSettled, testConnections, testLink, waitConnected, type TestFabricOptions } from "./support.js";

/** One simulated node: its fabric, and everything the fabric handed it. */
interface TestNode {
  name: string;
  fabric: RedisFabric;
  /** The node's history authority, on its fabric (as the server builds it). */
  history: RedisHistoryAuthority;
  received: EncodedBroadcast[];
}

const opened = perFile();
let redis: RedisServer;
let outside: Redis;
let nodes: TestNode[] = [];
let extraConnections: RedisConnections[] = [];

beforeAll(async () => {
  redis = await opened.redis();
  outside = opened.observer(redis);
});

afterEach(async () => {
  // A test that failed during an outage must not leave Redis down for the next one.
  if (!redis.running) await redis.restart();
  for (const node of nodes) await node.fabric.close();
  for (const connections of extraConnections) await connections.close();
  nodes = [];
  extraConnections = [];
});

/** A node's fabric and history metrics on one registry, which the test reads. */
const fabricAndHistoryMetrics = () => metricGroup((registry) => ({ ...fabricMetrics(registry), ...historyMetrics(registry) }));

async function startNodes(names: string[], options: TestFabricOptions & { metrics?: FabricMetrics & HistoryMetrics } = {}): Promise<TestNode[]> {
  const started = names.map((name) => {
    const { fabric, medium } = testLink(redis, name, options);
    const history = new RedisHistoryAuthority(medium, { stores: { max: DEFAULTS.historyMaxPendingStores, timeoutMs: DEFAULTS.historyStoreTimeoutMs }, coalesceMax: DEFAULTS.historyReadCoalesceMax, metrics: options.metrics ?? fabricAndHistoryMetrics(), log: createLogger("silent", name) });
    const node: TestNode = { name, fabric, history, received: [] };
    fabric.onBroadcast((message) => node.received.push(message));
    return node;
  });
  nodes.push(...started);
  for (const node of started) await waitConnected(node.fabric.connections, node.name);
  return started;
}

/** The V2 JSON frame of a broadcast, as the Broadcaster encodes it once for every replica. */
const jsonFrame = (topic: string, event: string, payload: unknown) => JSON.stringify([null, null, topic, event, payload]);
const broadcast = (topic: string, event: string, payload: unknown): EncodedBroadcast => ({ topic, event, frame: jsonFrame(topic, event, payload) });

/**
 * The payload of a received frame. A binary frame is decoded from a plain copy: the fabric hands
 * over a Node Buffer viewing the Redis message, and decodeBinary's `slice().buffer` on such a
 * view is the whole underlying buffer, not the payload.
 */
const payloadOf = (message: EncodedBroadcast): unknown =>
  typeof message.frame === "string"
    ? (JSON.parse(message.frame) as unknown[])[4]
    : new Uint8Array(decodeBinary(Uint8Array.from(message.frame), "toClient").payload as ArrayBuffer);

/** Waits (bounded) for `promise` to settle, so a waiter that is never released fails with a message. */
const settles = (promise: Promise<unknown>, what: string) => waitFor(() => isSettled(promise), `${what} to settle`);

const seqs = (node: TestNode, topic: string) =>
  node.received.filter((m) => m.topic === topic && m.event === "msg").map((m) => (payloadOf(m) as { seq: number }).seq);

describe("RedisFabric", () => {
  it("delivers to each other interested node exactly once, in publish order, never back to the sender", async () => {
    const [a, b, c, d] = await startNodes(["a", "b", "c", "d"]);
    await Promise.all([a, b, c].map((node) => node.fabric.setInterest("room:1", true)));
    await d.fabric.setInterest("room:2", true);
    await waitForSubscribers(outside, "cinder:t:room:1", 3);
    await waitForSubscribers(outside, "cinder:t:room:2", 1);

    for (let seq = 1; seq <= 200; seq++) a.fabric.publish(broadcast("room:1", "msg", { seq }));
    await waitFor(() => seqs(b, "room:1").length >= 200 && seqs(c, "room:1").length >= 200, "b and c to receive 200");
    // A marker sent after everything: once it is in, nothing else from `a` is on its way.
    b.fabric.publish(broadcast("room:1", "marker", {}));
    await waitFor(() => a.received.some((m) => m.event === "marker") && c.received.some((m) => m.event === "marker"), "marker");

    const expected = Array.from({ length: 200 }, (_, i) => i + 1);
    expect(seqs(b, "room:1")).toEqual(expected);
    expect(seqs(c, "room:1")).toEqual(expected);
    expect(a.received.map((m) => m.event)).toEqual(["marker"]);
    expect(d.received).toEqual([]);
    // The publisher's frame arrives as it was encoded: no re-encoding on the way.
    expect(b.received[0]).toEqual({ topic: "room:1", event: "msg", frame: '[null,null,"room:1","msg",{"seq":1}]' });
    expect(a.fabric.redisStatus()).toMatchObject({ connected: true, dropped: 0, rejected: 0, subscribedTopics: 1, pendingSubscribes: 0 });
  });

  it("carries V2 binary frames as bytes and JSON frames as text, byte for byte, in order", async () => {
    const [a, b] = await startNodes(["a", "b"]);
    await b.fabric.setInterest("bin", true);
    await waitForSubscribers(outside, "cinder:t:bin", 1);
    const binary = (payload: Uint8Array) => encodeBinary({ joinRef: null, ref: null, topic: "bin", event: "blob", payload }, "toClient");
    const first = binary(new Uint8Array([0, 1, 254, 255]));
    const text = jsonFrame("bin", "text", { s: "é ☃ \u2028 😀" });
    const second = binary(new Uint8Array([7, 8]));
    a.fabric.publish({ topic: "bin", event: "blob", frame: first });
    a.fabric.publish({ topic: "bin", event: "text", frame: text });
    a.fabric.publish({ topic: "bin", event: "blob", frame: second });
    await waitFor(() => b.received.length === 3, "three frames");

    const [gotFirst, gotText, gotSecond] = b.received;
    expect(gotFirst.frame).toBeInstanceOf(Uint8Array);
    expect(gotSecond.frame).toBeInstanceOf(Uint8Array);
    expect([...(gotFirst.frame as Uint8Array)]).toEqual([...first]);
    expect([...(gotSecond.frame as Uint8Array)]).toEqual([...second]);
    expect(gotText).toEqual({ topic: "bin", event: "text", frame: text });
    expect(b.received.map((m) => [m.event, payloadOf(m)])).toEqual([
      ["blob", new Uint8Array([0, 1, 254, 255])],
      ["text", { s: "é ☃ \u2028 😀" }],
      ["blob", new Uint8Array([7, 8])],
    ]);
  });

  it("stops receiving a topic when interest goes, and drops its Redis subscription", async () => {
    const [a, b] = await startNodes(["a", "b"]);
    await b.fabric.setInterest("room:x", true);
    await waitForSubscribers(outside, "cinder:t:room:x", 1);
    a.fabric.publish(broadcast("room:x", "before", {}));
    await waitFor(() => b.received.length === 1, "message while interested");

    b.fabric.setInterest("room:x", false);
    // Published while b's subscription lingers: it reaches b's connection but must not be handed on.
    a.fabric.publish(broadcast("room:x", "after", {}));
    await waitForSubscribers(outside, "cinder:t:room:x", 0);
    expect(b.received.map((m) => m.event)).toEqual(["before"]);
    expect(b.fabric.redisStatus().subscribedTopics).toBe(0);
  });

  it("drops a bad envelope with a count and goes on", async () => {
    const [a, b] = await startNodes(["a", "b"]);
    await b.fabric.setInterest("room:1", true);
    await waitForSubscribers(outside, "cinder:t:room:1", 1);
    const msgpack = new Encoder();
    await outside.publish("cinder:t:room:1", Buffer.from([0xc1, 0xff, 0x00]));
    await outside.publish("cinder:t:room:1", "plain text");
    // The envelope of an older version, and a broadcast of another topic on this topic's channel.
    await outside.publish("cinder:t:room:1", Buffer.from(msgpack.encode([1, "x#1", "room:1", "old", jsonFrame("room:1", "old", {})])));
    await outside.publish("cinder:t:room:1", Buffer.from(msgpack.encode([2, "x#1", "room:2", "elsewhere", jsonFrame("room:2", "elsewhere", {})])));
    a.fabric.publish(broadcast("room:1", "good", { ok: true }));
    await waitFor(() => b.received.length === 1, "the good message");
    expect(b.received[0].event).toBe("good");
    expect(b.fabric.redisStatus().rejected).toBe(4);
  });

  it("hands a lane's own envelopes on a topic's channel to the kind registered for their length, in order with the broadcasts", async () => {
    const [a, b] = await startNodes(["a", "b"]);
    const arrived: string[] = [];
    b.fabric.onBroadcast((message) => arrived.push(message.event));
    const pair: TopicEnvelopeKind<string> = {
      items: 2,
      decode(topic, [name, n]) {
        if (typeof name !== "string" || typeof n !== "number") throw new Error("a pair is a name and a number");
        return `${topic} ${name}${n}`;
      },
    };
    b.fabric.onTopicEnvelope(pair, (message, sender) => arrived.push(`${message} from ${sender}`));
    // One kind per length, and never the broadcast's.
    expect(() => b.fabric.onTopicEnvelope(pair, () => {})).toThrow(RangeError);
    expect(() => b.fabric.onTopicEnvelope({ items: 3, decode: () => 0 }, () => {})).toThrow(RangeError);
    await b.fabric.setInterest("room:l", true);
    await waitForSubscribers(outside, "cinder:t:room:l", 1);

    // On the publisher's connection, as a lane sends them: in order with its broadcasts.
    const send = (node: TestNode, items: unknown[]) => void node.fabric.connections.publisher.publish("cinder:t:room:l", Buffer.from(encodeLaneEnvelope(`${node.name}#1`, items)));
    a.fabric.publish(broadcast("room:l", "one", {}));
    send(a, ["x", 1]);
    send(a, ["no", "lane", "takes", "five", "items"]);
    send(a, ["x", "not a number"]);
    a.fabric.publish(broadcast("room:l", "two", {}));
    send(a, ["y", 2]);
    // A node's own lane envelopes come back to it (only its live broadcasts' echoes are dropped).
    send(b, ["z", 3]);
    await waitFor(() => arrived.length === 5, "five arrivals");
    expect(arrived).toEqual(["one", "room:l x1 from a#1", "two", "room:l y2 from a#1", "room:l z3 from b#1"]);
    expect(b.fabric.redisStatus().rejected).toBe(2);
  });

  it("drops only its own echo: another incarnation of the same node name receives the broadcasts", async () => {
    // "a#1" is a prefix of "a#12" as text, but not as a msgpack header: the echo check compares bytes.
    const [old] = await startNodes(["a"], { incarnation: "1" });
    const [restarted] = await startNodes(["a"], { incarnation: "12" });
    await old.fabric.setInterest("room:e", true);
    await restarted.fabric.setInterest("room:e", true);
    await waitForSubscribers(outside, "cinder:t:room:e", 2);
    old.fabric.publish(broadcast("room:e", "from-old", {}));
    restarted.fabric.publish(broadcast("room:e", "from-new", {}));
    await waitFor(() => old.received.length === 1 && restarted.received.length === 1, "each to get the other's broadcast");
    // Markers published after each got the other's broadcast: Redis processed both first
    // broadcasts before them, so when the markers are in, both echoes have come back too.
    old.fabric.publish(broadcast("room:e", "marker-old", {}));
    restarted.fabric.publish(broadcast("room:e", "marker-new", {}));
    await waitFor(() => old.received.length === 2 && restarted.received.length === 2, "the markers");
    expect(old.received.map((m) => m.event)).toEqual(["from-new", "marker-new"]);
    expect(restarted.received.map((m) => m.event)).toEqual(["from-old", "marker-old"]);
  });

  it("works with sharded pub/sub (SSUBSCRIBE/SPUBLISH)", async () => {
    const [a, b, c] = await startNodes(["a", "b", "c"], { sharded: true });
    await b.fabric.setInterest("room:s", true);
    await waitForSubscribers(outside, "cinder:t:room:s", 1, true);
    expect(await subscribers(outside, "cinder:t:room:s")).toBe(0); // not a plain SUBSCRIBE
    for (let seq = 1; seq <= 50; seq++) a.fabric.publish(broadcast("room:s", "msg", { seq }));
    await waitFor(() => seqs(b, "room:s").length === 50, "50 sharded messages");
    expect(seqs(b, "room:s")).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(c.received).toEqual([]);
  });

  it("survives a Redis restart: drops while down without throwing, then re-subscribes every topic", async () => {
    const [a, b] = await startNodes(["a", "b"]);
    await b.fabric.setInterest("room:1", true);
    await waitForSubscribers(outside, "cinder:t:room:1", 1);

    await redis.stop();
    // `connected` goes false as soon as one of the two connections is lost; a publish is dropped
    // (and counted) at once only when the publisher connection knows it too.
    await waitFor(() => [a, b].every((node) => isDown(node.fabric.connections)), "both connections of both nodes to notice the outage");
    expect(() => a.fabric.publish(broadcast("room:1", "lost", {}))).not.toThrow();
    expect(a.fabric.redisStatus().dropped).toBe(1);
    // Interest that appears during the outage must be subscribed once Redis is back; the join
    // waits for it until then (bounded: SUBSCRIBE_WAIT_MS).
    const joined = b.fabric.setInterest("room:new", true);
    expect(b.fabric.redisStatus().pendingSubscribes).toBe(1);

    await redis.restart();
    await waitConnected(a.fabric.connections, "a");
    await waitConnected(b.fabric.connections, "b");
    await joined; // bounded: a join never waits longer than SUBSCRIBE_WAIT_MS
    await waitForSubscribers(outside, "cinder:t:room:1", 1);
    await waitForSubscribers(outside, "cinder:t:room:new", 1);
    await waitFor(() => b.fabric.redisStatus().pendingSubscribes === 0, "the SUBSCRIBE of room:new to be confirmed");
    a.fabric.publish(broadcast("room:1", "back", {}));
    a.fabric.publish(broadcast("room:new", "fresh", {}));
    await waitFor(() => b.received.length === 2, "broadcasts after the restart");
    expect(b.received.map((m) => m.event)).toEqual(["back", "fresh"]);
    expect(a.fabric.redisStatus().reconnects).toBeGreaterThanOrEqual(1);
    expect(a.fabric.redisStatus().dropped).toBe(1);
  });

  it("every caller of setInterest(topic, true) waits for Redis to confirm the SUBSCRIBE", async () => {
    // A long batch window: the SUBSCRIBE leaves 300 ms after the first call.
    const [a] = await startNodes(["a"], { subscriptions: { batchMs: 300, lingerMs: 50 } });
    const [b] = await startNodes(["b"]);
    const first = a.fabric.setInterest("room:d", true);
    const second = a.fabric.setInterest("room:d", true);
    await second; // bounded: a join never waits longer than SUBSCRIBE_WAIT_MS (1 s)
    // The second joiner goes ahead only once broadcasts of the topic are routed here.
    expect(await subscribers(outside, "cinder:t:room:d")).toBe(1);
    b.fabric.publish(broadcast("room:d", "right-after-join", {}));
    await waitFor(() => a.received.length === 1, "the broadcast published right after the second join");
    expect(await isSettled(first as Promise<void>)).toBe(true);
    expect(a.received[0].event).toBe("right-after-join");
    expect(a.fabric.redisStatus()).toMatchObject({ subscribedTopics: 1, pendingSubscribes: 0 });
  });
});

describe("SubscriptionRegistry waiters", () => {
  const listener: ChannelListener = () => {};

  /** A node's connections with a long batch window: 300 ms between a change and its SUBSCRIBE. */
  async function slowConnections(name: string): Promise<RedisConnections> {
    const connections = testConnections(redis, name, { subscriptions: { batchMs: 300, lingerMs: 50 } });
    extraConnections.push(connections);
    await waitConnected(connections, name);
    return connections;
  }

  it("subscription waiters are released when the topic is left before its SUBSCRIBE is applied", async () => {
    const registry = (await slowConnections("reg-a")).channels;
    const left = registry.add("chan:a:left", listener);
    expect(registry.waiterCount).toBe(1);
    registry.remove("chan:a:left", listener);
    expect(registry.waiterCount).toBe(0);
    expect(await isSettled(left)).toBe(true);

    // A channel joined in the same batch window: once it is subscribed, the left one never will be.
    const kept = registry.add("chan:a:kept", listener);
    await settles(kept, "the kept channel's SUBSCRIBE");
    expect(registry.waiterCount).toBe(0);
    expect(await subscribers(outside, "chan:a:kept")).toBe(1);
    expect(await subscribers(outside, "chan:a:left")).toBe(0);
  });

  it("subscription waiters are released when the topic is left during a Redis outage, and nothing is subscribed for it after", async () => {
    const connections = await slowConnections("reg-b");
    const registry = connections.channels;
    await redis.stop();
    await waitFor(() => isDown(connections), "the outage to be noticed");
    const left = registry.add("chan:b:left", listener);
    registry.remove("chan:b:left", listener);
    expect(registry.waiterCount).toBe(0);
    expect(await isSettled(left)).toBe(true);
    // Subscribed once Redis is back, in the same SUBSCRIBE as the left one would be.
    const kept = registry.add("chan:b:kept", listener);

    await redis.restart();
    await waitConnected(connections, "reg-b");
    await settles(kept, "the kept channel's SUBSCRIBE after the restart");
    expect(registry.waiterCount).toBe(0);
    expect(await subscribers(outside, "chan:b:kept")).toBe(1);
    expect(await subscribers(outside, "chan:b:left")).toBe(0);
    expect(registry.channelCount).toBe(1);
  });

  it("no waiter of a channel abandoned while Redis was down survives the reconnect", async () => {
    const connections = await slowConnections("reg-c");
    const registry = connections.channels;
    await redis.stop();
    await waitFor(() => isDown(connections), "the outage to be noticed");
    // Joined and left twice over during the outage, by two listeners.
    const other: ChannelListener = () => {};
    const waits = [registry.add("chan:c:left", listener), registry.add("chan:c:left", other)];
    registry.remove("chan:c:left", listener);
    waits.push(registry.add("chan:c:left", listener));
    registry.remove("chan:c:left", other);
    registry.remove("chan:c:left", listener);
    const kept = registry.add("chan:c:kept", listener);

    await redis.restart();
    await waitConnected(connections, "reg-c");
    await settles(kept, "the kept channel's SUBSCRIBE after the restart");
    expect(registry.waiterCount).toBe(0);
    for (const wait of waits) expect(await isSettled(wait)).toBe(true);
    expect(await subscribers(outside, "chan:c:left")).toBe(0);
  });
});

describe("Redis history: broadcasts that pub/sub lost", () => {
  /** Stores history broadcasts as a node does, but publishes none of them: as if pub/sub lost them all. */
  async function unpublished(): Promise<RedisFrameStore> {
    const connections = testConnections(redis, "unpublished");
    extraConnections.push(connections);
    await waitConnected(connections, "the storing connection");
    return new RedisFrameStore(connections, { sender: "unpublished#1", sharded: true, channelOf: (topic) => `cinder:t:${topic}` });
  }
  const append = (topic: string, n: number, size = 100): HistoryAppend => ({ topic, event: "msg", payload: JSON.stringify({ n }), limits: { size, ttlMs: 60_000 } });
  const stream = (node: TestNode, topic: string) =>
    node.received.filter((m) => m.topic === topic).map((m) => ({ o: m.offset, e: m.epoch, n: (payloadOf(m) as { n: number }).n }));

  it("reads the start of a new epoch back for its subscribers, as far as the stream still holds it, and counts the rest", async () => {
    const metrics = fabricAndHistoryMetrics();
    const [a] = await startNodes(["a"]);
    const [b] = await startNodes(["b"], { metrics });
    await b.fabric.setInterest("h:new", true);
    a.history.append(append("h:new", 0, 3));
    await waitFor(() => b.received.length === 1, "the first epoch's message");
    const [{ e: first }] = stream(b, "h:new");
    // The history is lost; the new epoch's first five are stored but never reach b. With the
    // sixth, the stream (size 3) holds the fourth to the sixth.
    await outside.flushall();
    const history = await unpublished();
    for (let n = 1; n <= 5; n++) await history.append(append("h:new", n, 3));
    a.history.append(append("h:new", 6, 3));
    await waitFor(() => b.received.length === 4, "the new epoch's stored ones, then the sixth");
    const second = stream(b, "h:new")[1].e;
    expect(second).not.toBe(first);
    expect(stream(b, "h:new")).toEqual([
      { o: 1, e: first, n: 0 },
      { o: 4, e: second, n: 4 },
      { o: 5, e: second, n: 5 },
      { o: 6, e: second, n: 6 },
    ]);
    expect(await metricOf(metrics, "cinder_history_refilled_total")).toBe(2);
    expect(await metricOf(metrics, "cinder_history_unrefilled_total")).toBe(3);
  });

  it("a read of a topic it receives resolves once what pub/sub lost up to the page's top is delivered; nothing comes twice", async () => {
    const [a, b] = await startNodes(["a", "b"]);
    await b.fabric.setInterest("h:gap", true);
    a.history.append(append("h:gap", 1));
    await waitFor(() => b.received.length === 1, "the first message");
    const history = await unpublished();
    for (let n = 2; n <= 4; n++) await history.append(append("h:gap", n));
    const page = await b.history.read("h:gap", 4, 10, { size: 100, ttlMs: 60_000 });
    expect(page).toMatchObject({ top: 4, entries: [] });
    // A socket attached now would be at offset 4: b's subscribers already have everything up to it.
    expect(stream(b, "h:gap").map((m) => m.o)).toEqual([1, 2, 3, 4]);
    a.history.append(append("h:gap", 5));
    await waitFor(() => stream(b, "h:gap").length === 5, "the fifth");
    expect(stream(b, "h:gap").map((m) => m.n)).toEqual([1, 2, 3, 4, 5]);
  });
});
