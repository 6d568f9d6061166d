import type { Redis } from "ioredis";
import { beforeAll, describe, expect, it } from "vitest";
import type { NodeProcess } from "../support/node-process.js";
import { perFile } from "../support/opened.js";
import type { RawClient, RawFrame } from "../support/raw-client.js";
import { waitForSubscribers, type RedisServer } from "../support/redis-server.js";
import { waitFor } from "../support/wait.js";
import { MEMBER } from "./support.js";

// The demo app (room:* keeps history) on two real nodes, one with a single worker and one with
// two, sharing a real redis-server that the tests kill and stall. A push to a history room is
// answered ok only once Redis has stored it; otherwise with an error the client can retry on.
const KEY = "stored-pushes-key";
const STORE_TIMEOUT_MS = 500;
const opened = perFile();
let redis: RedisServer;
let outside: Redis;
const nodes: Record<string, NodeProcess> = {};

beforeAll(async () => {
  redis = await opened.redis();
  outside = opened.observer(redis);
  const start = (name: string, workers: number) =>
    opened.node({ name, workers, redis, env: { BROADCAST_KEY: KEY, HISTORY_STORE_TIMEOUT_MS: String(STORE_TIMEOUT_MS) } });
  [nodes.single, nodes.double] = await Promise.all([start("single", 1), start("double", 2)]);
}, 60_000);

type PushReply = { status: string; response: Record<string, unknown> };


async function push(client: RawClient, topic: string, ref: string, body: string): Promise<PushReply> {
  client.send(["j", ref, topic, "new_msg", { body }]);
  return (await client.reply(ref))[4] as PushReply;
}

const bodies = (client: RawClient) => client.frames.filter((f: RawFrame) => f[3] === "new_msg").map((f) => (f[4] as { body: string }).body);

async function health(node: NodeProcess): Promise<{ status: string }> {
  return (await fetch(`http://127.0.0.1:${node.port}/health`)).json() as Promise<{ status: string }>;
}

/** Redis answers again, the node's Redis connections are up and its subscription of `topic` is back. */
async function redisBack(node: NodeProcess, topic: string): Promise<void> {
  await redis.restart();
  await waitFor(async () => (await health(node)).status === "ok", "the node to reconnect to Redis", 15_000);
  await waitForSubscribers(outside, `cinder:t:${topic}`, 1);
}

const notStored = (cause: string) => ({ status: "error", response: { reason: "not_stored", cause } });

describe.each(["single", "double"])("pushes to a history room of the demo, on a node with %s worker(s)", (name) => {
  it("while Redis is down a push is answered with an error, never ok; once it is back, a push is ok and delivered", async () => {
    const node = nodes[name];
    const topic = `room:down-${name}`;
    const subscriber = await opened.joinedClient(node, topic, MEMBER, "j");
    const publisher = await opened.joinedClient(node, topic, MEMBER, "j");
    await waitForSubscribers(outside, `cinder:t:${topic}`, 1);
    expect(await push(publisher, topic, "before", "before")).toEqual({ status: "ok", response: {} });
    await waitFor(() => bodies(subscriber).includes("before"), "the message before the outage");

    await redis.stop();
    try {
      // Right after the kill (the node may not have noticed yet), and once it has.
      const early = await push(publisher, topic, "early", "lost early");
      await waitFor(async () => (await health(node)).status === "degraded", "the node to notice the outage");
      const late = await push(publisher, topic, "late", "lost late");
      expect(early.status).toBe("error");
      expect(early.response.reason).toBe("not_stored");
      expect(late).toEqual(notStored("unavailable"));
    } finally {
      await redisBack(node, topic);
    }

    expect(await push(publisher, topic, "after", "after")).toEqual({ status: "ok", response: {} });
    await waitFor(() => bodies(subscriber).includes("after"), "the message after the outage");
    expect(bodies(subscriber)).toEqual(["before", "after"]);
    subscriber.close();
    publisher.close();
  });

  it("while Redis does not answer (SIGSTOP), a push is answered with an error once the store timeout passes", async () => {
    const node = nodes[name];
    const topic = `room:stalled-${name}`;
    const publisher = await opened.joinedClient(node, topic, MEMBER, "j");
    expect((await push(publisher, topic, "before", "before")).status).toBe("ok");
    redis.pause();
    try {
      expect(await push(publisher, topic, "stalled", "stalled")).toEqual(notStored("timeout"));
    } finally {
      redis.resume();
    }
    expect((await push(publisher, topic, "after", "after")).status).toBe("ok");
    publisher.close();
  });
});

describe("POST /api/broadcast on the demo", () => {
  const post = (node: NodeProcess, body: object) =>
    fetch(`http://127.0.0.1:${node.port}/api/broadcast`, { method: "POST", body: JSON.stringify(body), headers: { authorization: `Bearer ${KEY}` } });

  it.each(["single", "double"])("on a node with %s worker(s): 503 while Redis is down, 200 once stored; a live topic is 202 either way", async (name) => {
    const node = nodes[name];
    const topic = `room:http-${name}`;
    const subscriber = await opened.joinedClient(node, topic, MEMBER, "j");
    await waitForSubscribers(outside, `cinder:t:${topic}`, 1);
    const message = (body: string) => ({ topic, event: "new_msg", payload: { user: "ops", body } });

    await redis.stop();
    try {
      await waitFor(async () => (await health(node)).status === "degraded", "the node to notice the outage");
      const refused = await post(node, message("lost"));
      expect(refused.status).toBe(503);
      expect(refused.headers.get("content-type")).toBe("application/json");
      expect(await refused.json()).toMatchObject({ reason: "unavailable", error: expect.stringContaining("not stored") });
      // A topic without history promises no more than the hand-off, as before.
      expect((await post(node, { topic: "bench:live", event: "e", payload: {} })).status).toBe(202);
    } finally {
      await redisBack(node, topic);
    }

    const stored = await post(node, message("kept"));
    expect(stored.status).toBe(200);
    const answer = (await stored.json()) as { ok: boolean; offset: number; epoch: string };
    expect(answer).toMatchObject({ ok: true, offset: 1 });
    expect(typeof answer.epoch).toBe("string");
    await waitFor(() => bodies(subscriber).includes("kept"), "the stored message");
    expect(bodies(subscriber)).toEqual(["kept"]);
    subscriber.close();
  });
});
