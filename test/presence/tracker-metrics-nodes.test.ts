/**
 * The tracker's metrics as a node serves them: two real node processes around one real
 * redis-server, a room on one, its members seen in the other's replicas on /metrics.
 */
import type { Channel } from "phoenix";
import { beforeAll, describe, expect, it } from "vitest";
import type { PresenceMap } from "../../server/presence/index.js";
import { metricOf } from "../support/metrics.js";
import type { NodeOptions } from "../support/node-process.js";
import { perFile, perTest } from "../support/opened.js";
import { collect } from "../support/phoenix-channel.js";
import type { RedisServer } from "../support/redis-server.js";
import { waitFor } from "../support/wait.js";

const file = perFile();
const opened = perTest();
let redis: RedisServer;

beforeAll(async () => {
  redis = await file.redis();
}, 30_000);

const inCluster = (name: string, workers: number): NodeOptions => ({ name, workers, redis });

describe("a node's /metrics", () => {
  it("shows each worker thread's replica: its entries, its peers up, no lag once caught up, and the deltas it received", async () => {
    const workersOfB = 2;
    const [a, b] = await Promise.all([opened.node(inCluster("A", 1)), opened.node(inCluster("B", workersOfB))]);
    const users = ["u0", "u1", "u2"];
    const states = users.map((user) => {
      const socket = opened.phoenix(a.port);
      const channel: Channel = socket.channel("room:metrics", { user });
      const received = collect<PresenceMap>(channel, "presence_state");
      channel.join();
      return received;
    });
    await waitFor(() => states.every((s) => s.length > 0), "the members' presence_states on A", 10_000);
    // Gauges are set at each replica's heartbeat tick, so each is waited for, not read once: a
    // replica that got the room by a delta may show it before A's own replica next ticks.
    // Every replica holds the whole room, so B shows one copy per worker thread.
    await waitFor(async () => (await metricOf(b, "cinder_presence_entries")) === users.length * workersOfB, "B's replicas to hold the room", 15_000);
    await waitFor(async () => (await metricOf(a, "cinder_presence_entries")) === users.length, "A's replica to hold the room", 15_000);
    // Each replica sees the other two: A's sees B's two, each of B's sees A's and its sibling.
    await waitFor(async () => (await metricOf(b, "cinder_presence_replicas", { state: "up" })) === 2 * workersOfB, "B's replicas to see every other one up", 15_000);
    expect(await metricOf(b, "cinder_presence_replicas", { state: "down" })).toBe(0);
    await waitFor(async () => (await metricOf(b, "cinder_presence_replica_lag")) === 0, "B's replicas to have received every change announced", 15_000);
    expect(await metricOf(a, "cinder_presence_deltas_total", { direction: "sent" })).toBeGreaterThan(0);
    const receivedByB = (await metricOf(b, "cinder_presence_deltas_total", { direction: "received" })) + (await metricOf(b, "cinder_presence_transfers_total", { direction: "received" }));
    expect(receivedByB).toBeGreaterThan(0);
  }, 60_000);
});
