import type { Redis } from "ioredis";
import { beforeAll, describe, expect, it } from "vitest";
import { metricOf } from "../support/metrics.js";
import type { NodeOptions, NodeProcess } from "../support/node-process.js";
import { perFile } from "../support/opened.js";
import type { RawClient } from "../support/raw-client.js";
import { subscribers, type RedisServer } from "../support/redis-server.js";
import { waitFor } from "../support/wait.js";
import { joinWithRecovery, received as receivedMessages, type Since } from "./support.js";

// Two real nodes sharing a real redis-server, keeping history on room:* (2,000 messages, and
// recovery of up to 1,000). A runs one worker, B two, so history also crosses worker threads.
const opened = perFile();
let redis: RedisServer;
let outside: Redis;
let nodes: { A: NodeProcess; B: NodeProcess };

const nodeOptions = (name: string, workers: number): NodeOptions => ({ name, workers, redis, app: "history-app.mjs", env: { HISTORY_MAX_RECOVER: "1000" } });

beforeAll(async () => {
  redis = await opened.redis();
  outside = opened.observer(redis);
  const [A, B] = await Promise.all([opened.node(nodeOptions("A", 1)), opened.node(nodeOptions("B", 2))]);
  nodes = { A, B };
}, 60_000);

const join = (node: NodeProcess, topic: string, since?: Since) => joinWithRecovery(opened, node, topic, since);

/** The bodies of `new_msg` pushes a client got, with their offsets. */
const received = (client: RawClient) => receivedMessages(client).map(({ o, body }) => ({ o, body }));

const lastOffset = (client: RawClient) => received(client).at(-1)?.o ?? 0;

describe("history across nodes (Redis Streams)", () => {
  it("a subscriber cut off at about 300 of 1,000 and back at about 700, on the other node, gets all 1,000 once, in order", async () => {
    const topic = "room:thousand";
    const publisher = await join(nodes.A, topic);
    let subscriber = await join(nodes.B, topic);
    const epoch = subscriber.recovery.e;
    const seen: Array<{ o: number; body: string }> = [];
    for (let i = 1; i <= 1000; i++) {
      publisher.client.send(["j", `p${i}`, topic, "new_msg", { body: `m${i}` }]);
      if (i === 300) {
        await publisher.client.reply("p300");
        await waitFor(() => lastOffset(subscriber.client) >= 250, "the subscriber to be receiving");
        seen.push(...received(subscriber.client));
        subscriber.client.close();
        await subscriber.client.closed();
      }
      if (i === 700) {
        await publisher.client.reply("p700");
        subscriber = await join(nodes.B, topic, { o: seen.at(-1)!.o, e: epoch });
        expect(subscriber.recovery).toMatchObject({ recovered: true, e: epoch });
      }
    }
    await waitFor(() => lastOffset(subscriber.client) === 1000, "the last message", 15_000);
    seen.push(...received(subscriber.client));
    expect(seen.map((m) => m.o)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
    expect(seen.map((m) => m.body)).toEqual(Array.from({ length: 1000 }, (_, i) => `m${i + 1}`));
  });

  it("history survives a restart of the subscriber's node; a flushed Redis is a new epoch and recovers nothing", async () => {
    const topic = "room:restart";
    const publisher = await join(nodes.A, topic);
    const subscriber = await join(nodes.B, topic);
    for (let i = 1; i <= 5; i++) publisher.client.send(["j", `p${i}`, topic, "new_msg", { body: `m${i}` }]);
    await waitFor(() => lastOffset(subscriber.client) === 5, "five messages");
    const since = { o: 2, e: subscriber.recovery.e };
    const port = nodes.B.port;
    await nodes.B.stop();
    nodes.B = await opened.node({ ...nodeOptions("B", 2), port });
    const back = await join(nodes.B, topic, since);
    expect(back.recovery).toEqual({ recovered: true, o: 5, e: since.e });
    await waitFor(() => received(back.client).length === 3, "the three missed");
    expect(received(back.client).map((m) => m.o)).toEqual([3, 4, 5]);

    await outside.flushall();
    publisher.client.send(["j", "after-flush", topic, "new_msg", { body: "new life" }]);
    await publisher.client.reply("after-flush");
    const fresh = await join(nodes.B, topic, { o: 5, e: since.e });
    expect(fresh.recovery.recovered).toBe(false);
    expect(fresh.recovery.e).not.toBe(since.e);
    expect(received(fresh.client)).toEqual([]);
  });

  it("a node whose Redis subscription dropped refills the gap from the stream for its subscribers", async () => {
    const topic = "room:gap";
    const publisher = await join(nodes.A, topic);
    const subscriber = await join(nodes.B, topic);
    publisher.client.send(["j", "p0", topic, "new_msg", { body: "m0" }]);
    await waitFor(() => received(subscriber.client).length === 1, "the first message");
    // Cut B's subscriber connection: whatever is published before it is back is lost to B.
    await outside.call("CLIENT", "KILL", "TYPE", "pubsub");
    for (let i = 1; i <= 50; i++) publisher.client.send(["j", `p${i}`, topic, "new_msg", { body: `m${i}` }]);
    await publisher.client.reply("p50");
    await waitFor(async () => (await subscribers(outside, `cinder:t:${topic}`)) === 2, "A and B to subscribe again");
    publisher.client.send(["j", "p51", topic, "new_msg", { body: "m51" }]);
    await waitFor(() => lastOffset(subscriber.client) === 52, "the message after the gap", 10_000);
    expect(received(subscriber.client).map((m) => m.body)).toEqual(Array.from({ length: 52 }, (_, i) => `m${i}`));
    // The messages published while B was away came from the stream, not from pub/sub.
    expect(await metricOf(nodes.B, "cinder_history_refilled_total")).toBeGreaterThan(0);
  });
});
