/**
 * Redis restarted empty while clients of two nodes stay connected: a topic's history starts a new
 * epoch, and the nodes subscribe again at different moments. Every message Redis stores in the new
 * epoch must reach every connected subscriber, in order, once, however late its node subscribed
 * again; a socket that joins in between is sent nothing twice. Real redis-server, real node
 * processes (A with one worker, B with two, whose main thread holds the Redis connections). "Later" is
 * made certain with SIGSTOP: the paused node resumes only once the other has published and Redis
 * has stored (XLEN).
 */
import type { Redis } from "ioredis";
import { beforeAll, describe, expect, it } from "vitest";
import { metricOf } from "../support/metrics.js";
import type { NodeProcess } from "../support/node-process.js";
import { perFile } from "../support/opened.js";
import type { RawClient } from "../support/raw-client.js";
import { subscribers, type RedisServer } from "../support/redis-server.js";
import { waitFor } from "../support/wait.js";
import { joinWithRecovery, received, type Since } from "./support.js";

const opened = perFile();
let redis: RedisServer;
let outside: Redis;
let nodes: { A: NodeProcess; B: NodeProcess };

beforeAll(async () => {
  redis = await opened.redis();
  outside = opened.observer(redis);
  const start = (name: string, workers: number) => opened.node({ name, workers, redis, app: "history-app.mjs" });
  const [A, B] = await Promise.all([start("A", 1), start("B", 2)]);
  nodes = { A, B };
}, 60_000);

const join = (node: NodeProcess, topic: string, since?: Since) => joinWithRecovery(opened, node, topic, since);

let pushes = 0;
/** Pushes `new_msg` for each body through `client` and waits for every reply. */
async function publish(client: RawClient, topic: string, bodies: string[]): Promise<void> {
  const refs = bodies.map((body) => {
    const ref = `p${++pushes}`;
    client.send(["j", ref, topic, "new_msg", { body }]);
    return ref;
  });
  for (const ref of refs) expect(((await client.reply(ref))[4] as { status: string }).status).toBe("ok");
}

const bodies = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`);
const storedIn = async (topic: string) => outside.xlen(`cinder:h:{${topic}}:s`);
const redisHealth = async (node: NodeProcess) => ((await (await fetch(`http://127.0.0.1:${node.port}/health`)).json()) as { redis: { connected: boolean; reconnects: number } }).redis;
/**
 * Resolves once both of `node`'s Redis connections are ready again after the restart: a paused
 * node still reports the old ones as connected until it has read that they closed.
 */
async function linkedAgain(node: NodeProcess, reconnectsBefore: number): Promise<void> {
  await waitFor(async () => {
    const { connected, reconnects } = await redisHealth(node);
    return connected && reconnects >= reconnectsBefore + 2;
  }, `${node === nodes.A ? "A" : "B"} to be linked to the new Redis`, 15_000);
}
const subscribedNodes = (topic: string) => subscribers(outside, `cinder:t:${topic}`);

/**
 * Everything up to the restart: subscribers on both nodes got `before` messages of the first
 * epoch; then `late` is paused, Redis restarted empty, and `early` linked and subscribed again.
 */
async function restartRedisWhilePaused(topic: string, early: NodeProcess, late: NodeProcess, clients: RawClient[], publisher: RawClient, before: string[]) {
  await waitFor(async () => (await subscribedNodes(topic)) === 2, "both nodes to subscribe");
  await publish(publisher, topic, before);
  await waitFor(() => clients.every((client) => received(client).length === before.length), "every subscriber to get the first epoch's messages");
  const [earlyReconnects, lateReconnects] = [(await redisHealth(early)).reconnects, (await redisHealth(late)).reconnects];
  late.child.kill("SIGSTOP");
  await redis.stop();
  await redis.restart();
  await linkedAgain(early, earlyReconnects);
  await waitFor(async () => (await subscribedNodes(topic)) === 1, "the early node to subscribe again", 10_000);
  return { lateReconnects };
}

describe("Redis restarted empty while clients stay connected", () => {
  it("a node that subscribes again after the new epoch began reads it back from its first offset for its subscribers (two-worker node late)", async () => {
    const topic = "room:epoch-late-b";
    const publisher = await join(nodes.A, topic);
    const onA = [publisher.client, (await join(nodes.A, topic)).client];
    // Several sockets: the kernel spreads them over B's two workers.
    const onB = await Promise.all([1, 2, 3, 4].map(async () => (await join(nodes.B, topic)).client));
    const everyone = [...onA, ...onB];
    const firstEpoch = publisher.recovery.e;
    await restartRedisWhilePaused(topic, nodes.A, nodes.B, everyone, publisher.client, bodies("old", 3));

    // B is paused: what A publishes now is stored in the new epoch, and only A's sockets get it live.
    await publish(publisher.client, topic, bodies("new", 5));
    await waitFor(async () => (await storedIn(topic)) === 5, "Redis to store the new epoch's first five");
    await waitFor(() => onA.every((client) => received(client).length === 8), "A's subscribers to get the new epoch's first five");
    nodes.B.child.kill("SIGCONT");
    await waitFor(async () => (await subscribedNodes(topic)) === 2, "B to subscribe again", 15_000);
    await publish(publisher.client, topic, ["new6"]);

    await waitFor(() => everyone.every((client) => received(client).length === 9), "every subscriber to get all nine", 10_000);
    const secondEpoch = received(onA[0])[3].e;
    expect(secondEpoch).not.toBe(firstEpoch);
    const expected = [
      ...bodies("old", 3).map((body, i) => ({ o: i + 1, e: firstEpoch, body })),
      ...bodies("new", 6).map((body, i) => ({ o: i + 1, e: secondEpoch, body })),
    ];
    for (const client of everyone) expect(received(client)).toEqual(expected);
    expect(await metricOf(nodes.B, "cinder_history_refilled_total")).toBe(5);
    expect(await metricOf(nodes.B, "cinder_history_unrefilled_total")).toBe(0);
  });

  it("a socket joining the late node before its stream switched is sent nothing twice; the others get the new epoch from its start (one-worker node late)", async () => {
    const topic = "room:epoch-late-a";
    const publisher = await join(nodes.B, topic);
    const onB = [publisher.client, (await join(nodes.B, topic)).client];
    const onA = await Promise.all([1, 2].map(async () => (await join(nodes.A, topic)).client));
    const firstEpoch = publisher.recovery.e;
    const { lateReconnects } = await restartRedisWhilePaused(topic, nodes.B, nodes.A, [...onA, ...onB], publisher.client, bodies("old", 3));

    await publish(publisher.client, topic, bodies("new", 5));
    await waitFor(async () => (await storedIn(topic)) === 5, "Redis to store the new epoch's first five");
    nodes.A.child.kill("SIGCONT");
    await linkedAgain(nodes.A, lateReconnects);
    await waitFor(async () => (await subscribedNodes(topic)) === 2, "A to subscribe again", 15_000);
    // Nothing was published since: A's joins read the new epoch (offset 5) while A's stream is
    // still in the old one. A reads the new epoch back for its subscribers first, then attaches
    // the joiners.
    const fresh = await join(nodes.A, topic);
    const returning = await join(nodes.A, topic, { o: 3, e: firstEpoch });
    expect(fresh.recovery).toMatchObject({ recovered: false, o: 5 });
    expect(returning.recovery).toEqual({ recovered: false, o: 5, e: fresh.recovery.e });
    await publish(publisher.client, topic, ["new6"]);

    const everyone = [...onA, ...onB];
    await waitFor(() => everyone.every((client) => received(client).length === 9), "every subscriber to get all nine", 10_000);
    await waitFor(() => [fresh, returning].every(({ client }) => received(client).some((message) => message.body === "new6")), "the joiners to get the live one");
    const secondEpoch = fresh.recovery.e;
    const expected = [
      ...bodies("old", 3).map((body, i) => ({ o: i + 1, e: firstEpoch, body })),
      ...bodies("new", 6).map((body, i) => ({ o: i + 1, e: secondEpoch, body })),
    ];
    for (const client of everyone) expect(received(client)).toEqual(expected);
    expect(received(fresh.client)).toEqual([{ o: 6, e: secondEpoch, body: "new6" }]);
    expect(received(returning.client)).toEqual([{ o: 6, e: secondEpoch, body: "new6" }]);
  });
});
