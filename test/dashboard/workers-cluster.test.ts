/**
 * The dashboard's figures gathered across worker threads and nodes: two real node processes with
 * two worker threads each, sharing a real redis-server. A dashboard socket on either node gets
 * both nodes, each with both workers, and the figures are /metrics' own.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { ClusterView } from "../../server/dashboard/cluster-view.js";
import { metricOf } from "../support/metrics.js";
import type { NodeProcess } from "../support/node-process.js";
import { perFile } from "../support/opened.js";
import type { RawClient, RawFrame } from "../support/raw-client.js";
import { waitFor } from "../support/wait.js";

const KEY = "workers-dashboard-key";
const opened = perFile();
let nodes: Record<"one" | "two", NodeProcess>;

beforeAll(async () => {
  const redis = await opened.redis();
  const start = (name: string) => opened.node({ name, workers: 2, redis, env: { DASHBOARD: "true", DASHBOARD_KEY: KEY } });
  const [one, two] = await Promise.all([start("one"), start("two")]);
  nodes = { one, two };
}, 60_000);

const views = (client: RawClient) => client.frames.filter((frame) => frame[3] === "cluster").map((frame) => frame[4] as ClusterView);

describe("the dashboard across workers and nodes", () => {
  for (const name of ["one", "two"] as const) {
    it(`a dashboard on node ${name} sees both nodes with both workers`, async () => {
      const client = await opened.raw(nodes[name]);
      client.send(["1", "1", "cinder:dashboard", "phx_join", { key: KEY }]);
      expect((await client.reply("1"))[4]).toEqual({ status: "ok", response: {} });
      const view = await waitFor(
        () => views(client).find((v) => v.nodes.length === 2 && v.nodes.every((node) => node.workers.length === 2)),
        "a view with both nodes and their workers",
        10_000,
      );
      expect(view.nodes.map((node) => node.node)).toEqual(["one", "two"]);
      for (const node of view.nodes) {
        expect(node.status).toBe("ok");
        expect(node.redis?.connected).toBe(true);
        expect(node.process.rss).toBeGreaterThan(0);
      }
    });
  }

  it("counts the joins and inbound messages /metrics counts, and the subscribers of a topic split over workers", async () => {
    const topic = `room:split-${Math.random().toString(36).slice(2, 8)}`;
    const joined: RawClient[] = [];
    // Enough sockets that the kernel spreads them over both workers of node two.
    for (let i = 0; i < 12; i++) {
      const client = await opened.raw(nodes.two);
      client.send(["1", "1", topic, "phx_join", { user: `u${i}`, presence: false }]);
      joined.push(client);
    }
    for (const client of joined) expect(((await client.reply("1"))[4] as { status: string }).status).toBe("ok");
    const dashboard = await opened.raw(nodes.one);
    dashboard.send(["1", "1", "cinder:dashboard", "phx_join", { key: KEY }]);
    await dashboard.reply("1");
    const view = await waitFor(() => views(dashboard).find((v) => v.top.some((entry) => entry.topic === topic && entry.subscribers === 12)), "the topic with 12 subscribers", 10_000);
    const two = view.nodes.find((node) => node.node === "two") as ClusterView["nodes"][number];

    expect(await metricOf(nodes.two, "cinder_joins_total")).toBeGreaterThanOrEqual(two.totals.joins);
    expect(two.totals.joins).toBeGreaterThanOrEqual(12);
    expect(two.totals.messagesReceived).toBeGreaterThanOrEqual(12);

    dashboard.send(["1", "2", "cinder:dashboard", "topic", { topic }]);
    const reply = (await dashboard.reply("2")) as RawFrame;
    const lookup = (reply[4] as { response: { nodes: Array<{ node: string; subscribers: number }> } }).response;
    expect(lookup.nodes).toEqual([
      { node: "one", subscribers: 0 },
      { node: "two", subscribers: 12 },
    ]);
  });
});
