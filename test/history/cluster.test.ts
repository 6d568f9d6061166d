import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NodeProcess, freePort } from "../support/node-process.js";
import { RawClient, type RawFrame } from "../support/raw-client.js";
import { RedisServer } from "../support/redis-server.js";
import { waitFor } from "../support/wait.js";

// Two real nodes sharing a real redis-server, keeping history on room:* (2,000 messages, and
// recovery of up to 1,000). A runs one worker, B two, so history also crosses worker threads.
const HISTORY_APP = fileURLToPath(new URL("../support/apps/history-app.mjs", import.meta.url));
let redis: RedisServer;
let outside: Redis;
let nodes: { A: NodeProcess; B: NodeProcess };

async function startNode(name: string, workers: string, port?: number): Promise<NodeProcess> {
  const env = { REDIS_URL: redis.url, NODE_NAME: name, WORKERS: workers, HISTORY_MAX_RECOVER: "1000" };
  return NodeProcess.start(port ?? (await freePort()), env, ["--app", HISTORY_APP]);
}

beforeAll(async () => {
  redis = await RedisServer.start();
  outside = new Redis(redis.url);
  const [A, B] = await Promise.all([startNode("A", "1"), startNode("B", "2")]);
  nodes = { A, B };
}, 60_000);

afterAll(async () => {
  outside?.disconnect();
  await Promise.all(Object.values(nodes ?? {}).map((node) => node.stop()));
  await redis?.stop();
}, 60_000);

type Recovery = { recovered: boolean; o: number; e: string };
type Since = { o: number; e: string };

async function join(node: NodeProcess, topic: string, since?: Since): Promise<{ client: RawClient; recovery: Recovery }> {
  const client = await RawClient.open(`ws://127.0.0.1:${node.port}/socket/websocket?vsn=2.0.0`);
  client.send(["j", "j", topic, "phx_join", { user: "u", presence: false, ...(since ? { _since: since } : {}) }]);
  const reply = (await client.reply("j"))[4] as { status: string; response: { _recovery: Recovery } };
  expect(reply.status).toBe("ok");
  return { client, recovery: reply.response._recovery };
}

/** The bodies of `new_msg` pushes a client got, with their offsets. */
function received(client: RawClient): Array<{ o: number; body: string }> {
  return client.frames.filter((f: RawFrame) => f[3] === "new_msg").map((f) => {
    const payload = f[4] as { _o: number; body: string };
    return { o: payload._o, body: payload.body };
  });
}

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
    nodes.B = await startNode("B", "2", port);
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
    await waitFor(async () => Number(((await outside.call("PUBSUB", "NUMSUB", `cinder:t:${topic}`)) as [string, number])[1]) === 2, "A and B to subscribe again");
    publisher.client.send(["j", "p51", topic, "new_msg", { body: "m51" }]);
    await waitFor(() => lastOffset(subscriber.client) === 52, "the message after the gap", 10_000);
    expect(received(subscriber.client).map((m) => m.body)).toEqual(Array.from({ length: 52 }, (_, i) => `m${i}`));
    // The messages published while B was away came from the stream, not from pub/sub.
    const metrics = await (await fetch(`http://127.0.0.1:${nodes.B.port}/metrics`)).text();
    const refilled = Number(metrics.split("\n").find((line) => line.startsWith("cinder_history_refilled_total "))?.split(" ")[1]);
    expect(refilled).toBeGreaterThan(0);
  });
});
