import { beforeAll, describe, expect, it } from "vitest";
import type { NodeOptions, NodeProcess } from "../support/node-process.js";
import { perFile } from "../support/opened.js";
import type { RawClient } from "../support/raw-client.js";
import type { RedisServer } from "../support/redis-server.js";
import { waitFor } from "../support/wait.js";

// Three real node processes (A with two worker threads) sharing one real redis-server; every
// `tw:*` topic has a worker that ticks every 100 ms with its node and fencing number.
const TTL = 2000;
type Name = "A" | "B" | "C";
const opened = perFile();
let redis: RedisServer;
const nodes = {} as Record<Name, NodeProcess>;

const inCluster = (name: Name): NodeOptions => ({
  name,
  workers: name === "A" ? 2 : 1,
  redis,
  app: "topic-worker-app.mjs",
  env: { TOPIC_WORKER_TTL: String(TTL), PRESENCE_BROADCAST_PERIOD: "300" },
});

beforeAll(async () => {
  redis = await opened.redis();
  await Promise.all((["A", "B", "C"] as const).map(async (name) => (nodes[name] = await opened.node(inCluster(name)))));
}, 60_000);

interface Tick {
  node: string;
  fence: number;
  n: number;
}


const ticks = (client: RawClient): Tick[] => client.frames.filter((f) => f[3] === "tick").map((f) => f[4] as Tick);
const lastTick = (client: RawClient): Tick | undefined => ticks(client).at(-1);

/** Lines a node logged about the worker of `topic` (`msg` one of "topic worker started" / "stopped"). */
function logged(name: Name, topic: string, msg: string): Array<{ fence: number; reason?: string }> {
  return nodes[name].output
    .split("\n")
    .filter((line) => line.includes(`"topicWorker":${JSON.stringify(topic)}`) && line.includes(`"msg":"${msg}"`))
    .map((line) => JSON.parse(line) as { fence: number; reason?: string });
}
const startsOf = (topic: string) => (["A", "B", "C"] as const).flatMap((name) => logged(name, topic, "topic worker started").map(() => name));

/** A subscriber of `topic` on every node, once each hears the worker: and which node runs it. */
async function watchOnEveryNode(topic: string): Promise<{ watchers: RawClient[]; holder: Name; others: RawClient[] }> {
  const names = ["A", "B", "C"] as const;
  const watchers = await Promise.all(names.map((name) => opened.joinedClient(nodes[name], topic)));
  await waitFor(() => watchers.every((c) => lastTick(c)), "every subscriber to hear the worker");
  const [holder] = startsOf(topic) as Name[];
  return { watchers, holder, others: watchers.filter((_, i) => names[i] !== holder) };
}

describe("topic workers across three nodes", () => {
  it("starts exactly one worker per topic when subscribers join on every node at once", async () => {
    const topics = Array.from({ length: 12 }, (_, i) => `tw:race-${i}`);
    const joined = await Promise.all(topics.flatMap((topic) => (["A", "B", "C"] as const).map((name) => opened.joinedClient(nodes[name], topic))));
    // Every subscriber hears its topic's worker for 2 s, longer than a lease renewal or retry.
    await waitFor(() => joined.every((client) => (lastTick(client)?.n ?? 0) >= 20), "every subscriber to hear 20 ticks", 20_000);
    for (const topic of topics) expect(startsOf(topic), topic).toHaveLength(1);
    for (const client of joined) expect(new Set(ticks(client).map((t) => t.fence)).size).toBe(1);
  }, 40_000);

  it("moves the worker when its node is killed, and subscribers keep receiving", async () => {
    const topic = "tw:kill";
    const { holder, others: survivors } = await watchOnEveryNode(topic);
    const before = lastTick(survivors[0]) as Tick;
    try {
      await nodes[holder].stop("SIGKILL");
      const after = await waitFor(() => survivors.every((c) => lastTick(c)?.node !== holder) && lastTick(survivors[0]), "another node's worker", 3 * TTL + 5000);
      expect(after.node).not.toBe(holder);
      expect(after.fence).toBeGreaterThan(before.fence);
      expect(new Set(survivors.map((c) => lastTick(c)?.fence)).size).toBe(1);
    } finally {
      nodes[holder] = await opened.node(inCluster(holder));
    }
  }, 40_000);

  it("a frozen holder's worker is replaced, never reaches a client after resuming, and stops itself", async () => {
    const topic = "tw:frozen";
    const { watchers, holder, others } = await watchOnEveryNode(topic);
    const oldFence = (lastTick(others[0]) as Tick).fence;
    nodes[holder].child.kill("SIGSTOP");
    try {
      // Frozen until another node's worker has ticked for 2 s (about 2 × TTL in all).
      const taken = await waitFor(() => ticks(others[0]).find((t) => t.fence > oldFence), "another node to take over", 3 * TTL + 5000);
      expect(taken.node).not.toBe(holder);
      await waitFor(() => (lastTick(others[0]) as Tick).n >= taken.n + 20, "2 s of the new worker", 10_000);
    } finally {
      nodes[holder].child.kill("SIGCONT");
    }
    await waitFor(() => logged(holder, topic, "topic worker stopped").length === 1, "the resumed worker to stop itself");
    expect(["expired", "lost"]).toContain(logged(holder, topic, "topic worker stopped")[0].reason);
    // Once the new worker spoke, nobody heard the old one again.
    await waitFor(() => watchers.every((c) => (lastTick(c) as Tick).fence > oldFence), "every watcher to hear the new worker");
    for (const client of watchers) {
      const heard = ticks(client).map((t) => t.fence);
      const firstNew = heard.findIndex((fence) => fence > oldFence);
      expect(heard.slice(firstNew).every((fence) => fence > oldFence)).toBe(true);
    }
  }, 60_000);

  it("stops a worker after linger once everyone left, and keeps it if someone joins during linger", async () => {
    const kept = "long:stay";
    const first = await opened.joinedClient(nodes.B, kept);
    await waitFor(() => lastTick(first), "the worker to start");
    first.leave(kept);
    const second = await opened.joinedClient(nodes.C, kept);
    const stays = await waitFor(() => lastTick(second), "the new subscriber to hear the same worker");
    expect(startsOf(kept)).toHaveLength(1);
    expect(stays.fence).toBe((lastTick(first) as Tick).fence);

    const gone = "tw:linger";
    const subscriber = await opened.joinedClient(nodes.C, gone);
    await waitFor(() => startsOf(gone).length === 1, "the worker to start");
    const [holder] = startsOf(gone) as Name[];
    subscriber.leave(gone);
    await waitFor(() => logged(holder, gone, "topic worker stopped").length === 1, "the worker to stop after linger", 10_000);
    expect(logged(holder, gone, "topic worker stopped")[0].reason).toBe("linger");
  }, 30_000);

  it("hands the worker over when its node drains (SIGTERM)", async () => {
    const topic = "tw:drain";
    const { holder, others } = await watchOnEveryNode(topic);
    const survivor = others[0];
    try {
      await nodes[holder].stop("SIGTERM");
      expect(logged(holder, topic, "topic worker stopped")[0].reason).toBe("drain");
      await waitFor(() => lastTick(survivor)?.node !== holder && lastTick(survivor), "another node's worker");
    } finally {
      nodes[holder] = await opened.node(inCluster(holder));
    }
  }, 40_000);

  it("runs one worker per topic again after Redis restarted empty", async () => {
    const topic = "tw:redis";
    const { watchers } = await watchOnEveryNode(topic);
    const oldFence = (lastTick(watchers[0]) as Tick).fence;
    await redis.stop();
    await redis.restart();
    await waitFor(() => watchers.every((c) => ((lastTick(c) as Tick).fence > oldFence ? true : false)), "a worker with a new lease", 20_000);
    // Only the new holder runs: the old one found its lease gone, and nobody else holds one.
    const runningNow = () =>
      (["A", "B", "C"] as const).reduce((sum, name) => sum + logged(name, topic, "topic worker started").length - logged(name, topic, "topic worker stopped").length, 0);
    await waitFor(() => runningNow() === 1, "exactly one worker of the topic to run");
    await waitFor(() => new Set(watchers.map((c) => (lastTick(c) as Tick).fence)).size === 1, "every watcher to hear the same worker");
  }, 60_000);
});
