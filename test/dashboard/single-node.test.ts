/**
 * The dashboard on one node: off by default, never open without a key outside the demo, its
 * topic reserved, and the counters its charts read.
 */
import { describe, expect, it } from "vitest";
import { createServer } from "../../server/index.js";
import { ConfigError } from "../../server/config.js";
import type { ClusterView } from "../../server/dashboard/cluster-view.js";
import { metricOf } from "../support/metrics.js";
import { perTest } from "../support/opened.js";
import type { RawClient } from "../support/raw-client.js";
import { httpUrl } from "../support/server.js";

const opened = perTest();

/** The join's reply, whatever it says. */
const joinReply = async (client: RawClient, topic: string, params: Record<string, unknown>) => (await client.join(topic, params, "1"))[4];

describe("dashboard settings", () => {
  it("is off by default: no page, and its topic matches no channel, not even an app's catch-all", async () => {
    const server = await opened.server({ channels: { "*": { join: () => ({ kind: "reply", status: "ok", response: {} }) } } });
    expect((await fetch(httpUrl(server, "/dashboard"))).status).toBe(404);
    const client = await opened.raw(server);
    expect(await joinReply(client, "cinder:dashboard", {})).toEqual({ status: "error", response: { reason: "unmatched topic" } });
  });

  it("refuses app channels under the reserved cinder: prefix", () => {
    const server = createServer({ logLevel: "silent" });
    expect(() => server.channel("cinder:*", { join: () => ({ kind: "reply", status: "ok", response: {} }) })).toThrow(/reserved/);
  });

  it("will not start without a key outside the demo, and takes the broadcast key or its own", async () => {
    expect(() => createServer({ logLevel: "silent", dashboard: true })).toThrow(ConfigError);
    expect(createServer({ logLevel: "silent", dashboard: true, broadcastKey: "b" }).config.dashboardKey).toBe("b");
    expect(createServer({ logLevel: "silent", dashboard: true, broadcastKey: "b", dashboardKey: "d" }).config.dashboardKey).toBe("d");
    // The demo without any key: open.
    const server = await opened.server({ dashboard: true, demo: true });
    expect((await fetch(httpUrl(server, "/dashboard"))).headers.get("content-type")).toContain("text/html");
    const client = await opened.raw(server);
    expect(await joinReply(client, "cinder:dashboard", {})).toEqual({ status: "ok", response: {} });
  });
});

describe("what the charts read", () => {
  it("counts joins, inbound messages and deliveries as /metrics does, and pushes them within a view", async () => {
    const server = await opened.server({ dashboard: true, dashboardKey: "k" });
    const members = await Promise.all([0, 1, 2].map(() => opened.raw(server)));
    for (const [i, member] of members.entries()) expect(await joinReply(member, "room:count", { user: `u${i}`, presence: false })).toMatchObject({ status: "ok" });
    expect(await metricOf(server, "cinder_joins_total")).toBe(3);
    expect(await metricOf(server, "cinder_messages_received_total")).toBe(3);

    const before = await metricOf(server, "cinder_deliveries_total");
    server.broadcast("room:count", "note", { n: 1 });
    for (const member of members) await member.next((frame) => frame[3] === "note", "the note");
    expect((await metricOf(server, "cinder_deliveries_total")) - before).toBe(3);

    const dashboard = await opened.raw(server);
    expect(await joinReply(dashboard, "cinder:dashboard", { key: "k" })).toEqual({ status: "ok", response: {} });
    const view = (await dashboard.next((frame) => frame[3] === "cluster", "a view"))[4] as ClusterView;
    expect(view.nodes).toHaveLength(1);
    expect(view.nodes[0].totals.joins).toBe(await metricOf(server, "cinder_joins_total"));
    expect(view.top).toContainEqual({ topic: "room:count", subscribers: 3, presence: { keys: 0, metas: 0 } });
  });
});
