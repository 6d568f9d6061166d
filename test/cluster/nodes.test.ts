import { Presence, type Channel } from "phoenix";
import { beforeAll, describe, expect, it } from "vitest";
import { metricOf } from "../support/metrics.js";
import type { NodeOptions, NodeProcess } from "../support/node-process.js";
import { perFile, perTest } from "../support/opened.js";
import { holdReconnects } from "../support/phoenix-channel.js";
import { subscribers, type RedisServer } from "../support/redis-server.js";
import { waitFor } from "../support/wait.js";

// Three real node processes sharing one real redis-server.
const file = perFile();
const opened = perTest();
let redis: RedisServer;
let nodes: Record<"A" | "B" | "C", NodeProcess>;

// Heartbeat silence alone would take PRESENCE_DOWN_PERIOD (30 s, as Phoenix) to notice a dead
// node; the tests below wait 10 s at most, so only the Redis liveness keys can pass them.
const PRESENCE = {
  PRESENCE_BROADCAST_PERIOD: "300",
  PRESENCE_DOWN_PERIOD: "30000",
  PRESENCE_PERMDOWN_PERIOD: "600000",
};

// A runs two worker threads, so cluster traffic also crosses threads inside a node.
const inCluster = (name: "A" | "B" | "C"): NodeOptions => ({ name, workers: name === "A" ? 2 : 1, redis, env: PRESENCE });

beforeAll(async () => {
  redis = await file.redis();
  const [A, B, C] = await Promise.all((["A", "B", "C"] as const).map((name) => file.node(inCluster(name))));
  nodes = { A, B, C };
}, 60_000);

function member(node: NodeProcess, user: string, topic = "room:cluster") {
  const socket = opened.phoenix(node.port);
  const channel: Channel = socket.channel(topic, { user });
  const presence = new Presence(channel);
  const messages: string[] = [];
  channel.on("new_msg", (p: { body: string }) => {
    messages.push(p.body);
  });
  let joined = false;
  channel.join().receive("ok", () => (joined = true));
  const users = () => presence.list((key, p) => `${key}×${(p as { metas: unknown[] }).metas.length}`).sort().join(",");
  return { socket, channel, messages, users, joined: () => joined };
}


describe("a cluster of nodes sharing Redis", () => {
  it("delivers a broadcast from a client on A to clients on B and C, once each", async () => {
    const [a, b, c] = [member(nodes.A, "a", "room:bc"), member(nodes.B, "b", "room:bc"), member(nodes.C, "c", "room:bc")];
    await waitFor(() => a.joined() && b.joined() && c.joined(), "joins");
    a.channel.push("new_msg", { body: "hello cluster" });
    // A marker from the same client: broadcasts of one publisher keep their order, so once the
    // marker is everywhere, a duplicate of the first message would be too.
    a.channel.push("new_msg", { body: "marker" });
    await waitFor(() => [a, b, c].every((m) => m.messages.includes("marker")), "the marker everywhere");
    expect([a.messages, b.messages, c.messages]).toEqual([
      ["hello cluster", "marker"],
      ["hello cluster", "marker"],
      ["hello cluster", "marker"],
    ]);
  });

  it("shows presence joined on A on B and C, and its leave", async () => {
    const watchers = [member(nodes.B, "watcher-b", "room:p"), member(nodes.C, "watcher-c", "room:p")];
    await waitFor(() => watchers.every((w) => w.joined()), "watchers join");
    const ada = member(nodes.A, "ada", "room:p");
    const all = "ada×1,watcher-b×1,watcher-c×1";
    await waitFor(() => watchers.every((w) => w.users() === all) && ada.users() === all, "everyone sees everyone", 8000);
    ada.channel.leave();
    await waitFor(() => watchers.every((w) => w.users() === "watcher-b×1,watcher-c×1"), "ada's leave everywhere", 8000);
  });

  it("does not send a topic's traffic to a node without subscribers of it", async () => {
    const before = await metricOf(nodes.C, "cinder_fabric_node_broadcasts_received_total");
    const [a, b] = [member(nodes.A, "a", "room:ab-only"), member(nodes.B, "b", "room:ab-only")];
    // A join is answered once Redis confirmed its topic's subscription: nothing to wait for after it.
    await waitFor(() => a.joined() && b.joined(), "joins");
    for (let i = 0; i < 20; i++) a.channel.push("new_msg", { body: `m${i}` });
    await waitFor(() => b.messages.length === 20, "B to receive all 20");
    expect(await metricOf(nodes.C, "cinder_fabric_node_broadcasts_received_total")).toBe(before);
    expect(await metricOf(nodes.B, "cinder_fabric_node_broadcasts_received_total")).toBeGreaterThanOrEqual(20);
  });

  it("recovers broadcasts and presence after Redis restarts, without restarting a node", async () => {
    const [a, c] = [member(nodes.A, "ra", "room:outage"), member(nodes.C, "rc", "room:outage")];
    await waitFor(() => a.joined() && c.joined() && a.users() === "ra×1,rc×1", "presence before the outage", 8000);
    await redis.restart();
    // Clients stay connected and local delivery keeps working meanwhile.
    expect(a.socket.isConnected() && c.socket.isConnected()).toBe(true);
    await waitFor(async () => (await (await fetch(`http://127.0.0.1:${nodes.A.port}/health`)).json()).redis?.connected === true, "A to reconnect", 15_000);
    await waitFor(async () => (await (await fetch(`http://127.0.0.1:${nodes.C.port}/health`)).json()).redis?.connected === true, "C to reconnect", 15_000);
    const late = member(nodes.C, "late", "room:outage");
    await waitFor(() => a.users() === "late×1,ra×1,rc×1", "a presence joined after the outage to reach A", 10_000);
    // Both nodes subscribe their topics again after the restart: wait until Redis has them.
    const outside = opened.observer(redis);
    await waitFor(async () => (await subscribers(outside, "cinder:t:room:outage")) === 2, "A and C to subscribe again", 10_000);
    a.channel.push("new_msg", { body: "after outage" });
    await waitFor(() => c.messages.includes("after outage") && late.messages.includes("after outage"), "broadcasts to flow again", 10_000);
  });

  it("SIGSTOP past the failure timeout, then SIGCONT: C's presences leave, come back, no duplicates, no ghosts", async () => {
    const onA = member(nodes.A, "obs", "room:stall");
    const onC = member(nodes.C, "stalled", "room:stall");
    await waitFor(() => onA.users() === "obs×1,stalled×1", "both present", 8000);
    nodes.C.child.kill("SIGSTOP");
    try {
      await waitFor(() => onA.users() === "obs×1", "C's presence to leave while it is stopped", 10_000);
    } finally {
      nodes.C.child.kill("SIGCONT");
    }
    await waitFor(() => onA.users() === "obs×1,stalled×1", "C's presence back after SIGCONT", 15_000);
    // A presence joined on C after the stall reaches A behind everything C had sent before it:
    // once it is in, a duplicate or a ghost from the stall would show.
    member(nodes.C, "after", "room:stall");
    await waitFor(() => onA.users().includes("after×1"), "a later join on C to reach A", 8000);
    expect(onA.users()).toBe("after×1,obs×1,stalled×1");
  });

  it("kill -9 B: its presences leave on A and C within seconds", async () => {
    const [onA, onC] = [member(nodes.A, "obs-a", "room:crash"), member(nodes.C, "obs-c", "room:crash")];
    const victim = member(nodes.B, "victim", "room:crash");
    // It would reconnect elsewhere only in a real deployment.
    holdReconnects(victim.socket);
    const all = "obs-a×1,obs-c×1,victim×1";
    await waitFor(() => onA.users() === all && onC.users() === all, "all present", 8000);
    nodes.B.child.kill("SIGKILL");
    const rest = "obs-a×1,obs-c×1";
    await waitFor(() => onA.users() === rest && onC.users() === rest, "B's presences to leave on A and C", 10_000);
    await nodes.B.stop().catch(() => undefined);
    nodes.B = await file.node(inCluster("B"));
  });
});
