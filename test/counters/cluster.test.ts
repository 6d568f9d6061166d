import { Presence, type Channel } from "phoenix";
import { beforeAll, describe, expect, it } from "vitest";
import { HyperLogLog } from "../../server/counters/hyperloglog.js";
import type { NodeOptions, NodeProcess } from "../support/node-process.js";
import { perFile, perTest } from "../support/opened.js";
import { joined } from "../support/phoenix-channel.js";
import type { RedisServer } from "../support/redis-server.js";
import { waitFor } from "../support/wait.js";
import { ask } from "./support.js";

// Three real node processes (A and B with two worker threads each) sharing one real redis-server.
const file = perFile();
const opened = perTest();
let redis: RedisServer;
let nodes: Record<"A" | "B" | "C", NodeProcess>;

const counting = (name: string, workers: number, env: Record<string, string> = {}): NodeOptions => ({
  name,
  workers,
  redis,
  app: "counter-app.mjs",
  env: { COUNTER_FLUSH_MS: "200", COUNT_INTERVAL_MS: "100", PRESENCE_BROADCAST_PERIOD: "300", ...env },
});

beforeAll(async () => {
  redis = await file.redis();
  const [A, B, C] = await Promise.all([file.node(counting("A", 2)), file.node(counting("B", 2)), file.node(counting("C", 1))]);
  nodes = { A, B, C };
}, 60_000);

/** `count` channels on `perNode` sockets of each node: the kernel spreads a node's sockets over its workers. */
async function counterClients(targets: NodeProcess[], perNode: number): Promise<Channel[]> {
  const channels = targets.flatMap((node) => Array.from({ length: perNode }, () => opened.phoenix(node.port).channel("count:x", {})));
  await Promise.all(channels.map(joined));
  return channels;
}

const read = (channel: Channel, key: string) => ask<{ value: number; uniques: number }>(channel, "read", { key });

describe("counters across a cluster", () => {
  it("increments from three nodes and several workers add up to the same value on every node", async () => {
    const channels = await counterClients([nodes.A, nodes.B, nodes.C], 4);
    const estimator = new HyperLogLog();
    await Promise.all(
      channels.map(async (channel, i) => {
        await ask(channel, "incr", { key: "room:sum", times: 25 });
        await ask(channel, "incr", { key: "room:sum", by: 3 });
        // Half of each client's actors are shared with every other client.
        const actors = [...Array.from({ length: 50 }, (_, j) => `shared-${j}`), ...Array.from({ length: 50 }, (_, j) => `own-${i}-${j}`)];
        actors.forEach((actor) => estimator.add(actor));
        await ask(channel, "actors", { key: "room:sum", actors });
      }),
    );
    const expected = { value: channels.length * 28, uniques: estimator.count() };
    await waitFor(async () => (await Promise.all(channels.map((c) => read(c, "room:sum")))).every((r) => r.value === expected.value && r.uniques === expected.uniques), "every node to read the sum");
    expect(await Promise.all(channels.map((c) => read(c, "room:sum")))).toEqual(channels.map(() => expected));
  });

  it("pushes live counts on counter:<key> from any node, only when they change", async () => {
    const watcher = opened.phoenix(nodes.C.port).channel("counter:room:live", {});
    const pushes: number[] = [];
    watcher.on("counter", ({ value }: { value: number }) => void pushes.push(value));
    const reply = await joined(watcher);
    expect(reply).toEqual({ key: "room:live", value: 0, uniques: 0 });
    const [onA, onB] = await counterClients([nodes.A, nodes.B], 1);
    await ask(onA, "incr", { key: "room:live", times: 5 });
    await waitFor(() => pushes.at(-1) === 5, "the watcher on C to see 5");
    await ask(onB, "incr", { key: "room:live", times: 2 });
    await waitFor(() => pushes.at(-1) === 7, "the watcher on C to see 7");
    // Pushes go out only when the value changed: no repeats between the two.
    expect(pushes).toEqual([...new Set(pushes)]);
    expect([...pushes].sort((a, b) => a - b)).toEqual(pushes);
  });

  it("refuses bad keys and increments with a clear reason, and keys the channel does not allow", async () => {
    const [channel] = await counterClients([nodes.B], 1);
    await expect(ask(channel, "incr", { key: "room:x", by: -2 })).rejects.toEqual({ reason: "an increment must not be negative (counters only count up; the window forgets), got -2" });
    await expect(ask(channel, "incr", { key: "room:x", by: 1e300 })).rejects.toEqual({ reason: "an increment must be at most 1000000, got 1e+300" });
    await expect(ask(channel, "incr", { key: "", by: 1 })).rejects.toEqual({ reason: 'a counter key must be a non-empty string, got ""' });
    const socket = opened.phoenix(nodes.A.port);
    await expect(joined(socket.channel("counter:secret:1", {}))).rejects.toEqual({ reason: "unauthorized" });
    await expect(joined(socket.channel(`counter:${"k".repeat(300)}`, {}))).rejects.toEqual({ reason: "a counter key must be at most 256 characters, got 300" });
  });

  it("a node killed with increments pending loses them, and only them; a node stopped gracefully loses nothing", async () => {
    // D and E flush once a minute: within this test, all they count stays pending.
    const D = await opened.node(counting("D", 2, { COUNTER_FLUSH_MS: "60000" }));
    const E = await opened.node(counting("E", 2, { COUNTER_FLUSH_MS: "60000" }));
    const [onA, onD1, onD2, onE, onE2] = await counterClients([nodes.A, D, D, E, E], 1);
    await ask(onA, "incr", { key: "room:kill", times: 4 });
    await ask(onD1, "incr", { key: "room:kill", times: 3 });
    await ask(onD2, "incr", { key: "room:kill", times: 2 });
    await ask(onE, "incr", { key: "room:kill", times: 6 });
    await ask(onE2, "incr", { key: "room:kill", times: 1 });
    await waitFor(async () => (await read(onA, "room:kill")).value === 4, "A's increments to be flushed");

    D.child.kill("SIGKILL");
    await waitFor(() => D.exitCode !== undefined, "D to die");
    expect(await E.stop("SIGTERM")).toBe(0);
    // D's 5 were all within its last flush interval: lost. E's 7, from its workers, were
    // handed to its main thread and flushed as it stopped.
    await waitFor(async () => (await read(onA, "room:kill")).value === 11, "E's increments to arrive");
    const [b] = await counterClients([nodes.B], 1);
    expect(await read(b, "room:kill")).toMatchObject({ value: 11 });
  }, 60_000);

  it("presence_count matches the real list across nodes under churn", async () => {
    const topic = "room:crowd";
    // A list-mode observer on A and a count-mode one on B.
    const listSocket = opened.phoenix(nodes.A.port).channel(topic, { user: "observer" });
    const presence = new Presence(listSocket);
    await joined(listSocket);
    const countChannel = opened.phoenix(nodes.B.port).channel(topic, { user: "counter", presence: "count" });
    const counts: Array<{ keys: number; metas: number }> = [];
    const listEvents: string[] = [];
    countChannel.on("presence_count", (count: { keys: number; metas: number }) => void counts.push(count));
    countChannel.on("presence_state", () => void listEvents.push("presence_state"));
    countChannel.on("presence_diff", () => void listEvents.push("presence_diff"));
    await joined(countChannel);
    await waitFor(() => counts.length > 0, "the count on join");

    const members: Channel[] = [];
    const targets = [nodes.A, nodes.B, nodes.C];
    for (let round = 0; round < 4; round++) {
      // 12 joins (some users on two tabs), then a few leave.
      const joining = Array.from({ length: 12 }, (_, i) => opened.phoenix(targets[i % 3].port).channel(topic, { user: `u${round}-${i % 8}` }));
      await Promise.all(joining.map(joined));
      members.push(...joining);
      for (const leaving of members.splice(0, 5)) leaving.leave();
    }
    const list = () => {
      const entries = presence.list((key, p) => ({ key, metas: (p as { metas: unknown[] }).metas.length }));
      return { keys: entries.length, metas: entries.reduce((sum, e) => sum + e.metas, 0) };
    };
    // Both observers are tracked too (they joined with a user).
    await waitFor(() => {
      const truth = list();
      const last = counts.at(-1);
      return truth.metas === members.length + 2 && last?.keys === truth.keys && last.metas === truth.metas;
    }, "the count to match the list", 15_000).catch((err) => {
      throw new Error(`${(err as Error).message}: list ${JSON.stringify(list())}, members ${members.length}, counts ${JSON.stringify(counts.slice(-3))}`);
    });
    expect(listEvents).toEqual([]);
  }, 60_000);
});
