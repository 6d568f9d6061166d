/**
 * The benchmark machinery works end to end: the native load client builds,
 * connects, joins, publishes and sees every broadcast reach every subscriber
 * on each server it compares. Asserts completeness only, never speed.
 */
import { beforeAll, describe, expect, it, vi } from "vitest";

import type { LoadReport } from "../../bench/lib/load-report.js";
import { buildNativeClient, type LoadClientOptions, runNativeClient } from "../../bench/lib/native-client.js";
import type { BaselineServer } from "../../bench/servers/baseline-server.js";
import { startRawUwsServer } from "../../bench/servers/raw-uws.js";
import { startSocketIoServer } from "../../bench/servers/socketio.js";
import { BENCH_JOIN_PAYLOAD } from "../../bench/lib/targets.js";
import { roomChannel } from "../../server/index.js";
import { perTest } from "../support/opened.js";
import { measureTransport, startLongPollServer } from "../../bench/lib/longpoll-load.js";
import { measureDrain } from "../../bench/scenarios/drain.js";
import { runStormClient } from "../../bench/lib/storm-client.js";
import { measureOneTopic } from "../../bench/scenarios/one-topic.js";
import { processTree } from "../../bench/lib/process-tree.js";
import { measurePresenceScale } from "../../bench/lib/presence-scale-run.js";

const SOCKETS = 20;
const BROADCASTS = 10;
const PHOENIX_PATH = "/socket/websocket?vsn=2.0.0&user=smoke";

function tinyFanout(port: number, protocol: LoadClientOptions["protocol"], path: string): Promise<LoadReport> {
  return runNativeClient({
    port,
    path,
    protocol,
    sockets: SOCKETS,
    topics: 1,
    joinPayload: BENCH_JOIN_PAYLOAD,
    inflight: [4],
    messages: BROADCASTS,
    durationSeconds: 10,
    settleSeconds: 0,
    drainSeconds: 2,
  });
}

function expectComplete(report: LoadReport): void {
  expect(report.connect).toMatchObject({ connected: SOCKETS, failed: 0 });
  expect(report.join).toMatchObject({ joined_sockets: SOCKETS, subscriptions: SOCKETS, errors: 0 });
  const [round] = report.rounds;
  expect(round).toMatchObject({ broadcasts: BROADCASTS, missing: 0, incomplete_broadcasts: 0 });
  expect(round.deliveries).toBe(SOCKETS * BROADCASTS);
  // Every broadcast's latency is in the round, the first ones sent at once included.
  expect(round.broadcasts_completed_in_window).toBe(BROADCASTS);
  expect(report.protocol_errors).toBe(0);
}

describe("bench smoke", () => {
  const opened = perTest();

  beforeAll(() => {
    buildNativeClient();
  });

  const baseline = async (start: (port: number, host: string) => Promise<BaselineServer>): Promise<number> =>
    opened.keep(await start(0, "127.0.0.1"), (server) => server.close()).port;

  it("delivers every broadcast from the raw uWS baseline", async () => {
    expectComplete(await tinyFanout(await baseline(startRawUwsServer), "phoenix", PHOENIX_PATH));
  });

  it("delivers every broadcast from the Socket.IO baseline", async () => {
    const port = await baseline(startSocketIoServer);
    expectComplete(await tinyFanout(port, "engineio", "/socket.io/?EIO=4&transport=websocket&user=smoke"));
  });

  it("delivers every broadcast from Cinder", async () => {
    // The load client joins bench:* topics, as the demo app serves them (chat without history).
    const server = await opened.server({ channels: { "bench:*": roomChannel } });
    expectComplete(await tinyFanout(server.port, "phoenix", PHOENIX_PATH));
  });

  it("delivers every broadcast to LongPoll and WebSocket clients in the longpoll scenario", async () => {
    const options = { clients: 20, processes: 1, broadcasts: 10, rate: 50, drainSeconds: 10 };
    for (const transport of ["longpoll", "websocket"] as const) {
      const server = opened.keep(await startLongPollServer(undefined), (s) => s.stop());
      const result = await measureTransport(server, transport, options, "room:smoke");
      expect(result).toMatchObject({ transport, deliveries: 200, expected: 200, clientErrors: 0 });
      await server.stop();
    }
  }, 60_000);

  it("drain: every socket of a drained node reconnects to the other node", async () => {
    const settings: Array<Record<string, string>> = [{}, { DRAIN_PERIOD: "0" }];
    for (const env of settings) {
      const result = await measureDrain(150, 1, env);
      expect(result).toMatchObject({ reconnected: 150 });
    }
  }, 60_000);

  it("follows a presence storm until every member's list holds the whole room", async () => {
    const server = await opened.server({ channels: { "room:*": roomChannel }, maxJoinsPerSecond: 0 });
    const report = await runStormClient({ port: server.port, topic: "room:smoke", members: 30, joinWindowMs: 100, timeoutSeconds: 30 });
    expect(report).toMatchObject({ members: 30, connected: 30, joinReplies: 30, joinErrors: 0, closed: 0, complete: 30 });
    expect(report.presenceBytesPerMember).toBeGreaterThan(0);
  });

  // Four processes per side and a redis-server start before any socket connects: on a machine
  // others keep busy that alone can pass vitest's default bound.
  const ONE_TOPIC_BOUND_MS = 180_000;

  // The one-topic scenario at a tiny size: several processes per side on one port, through Redis,
  // and several load client processes whose counts are combined.
  it.each(["cinder", "raw-uws"] as const)("one-topic reaches every subscriber across processes through Redis (%s)", async (target) => {
    const sockets = 300;
    const result = await measureOneTopic(target, {
      sockets,
      nodes: 2,
      pin: false,
      inflight: [2],
      broadcasts: 10,
      timeoutSeconds: 30,
      bodySize: 100,
      clientProcesses: 3,
    });
    expect(result).toMatchObject({ connected: sockets, subscriptions: sockets, failures: 0, client_processes: 3 });
    expect(result.aborted).toBeUndefined();
    const [round] = result.rounds;
    expect(round).toMatchObject({ broadcasts: 10, missing: 0, incomplete_broadcasts: 0 });
    expect(round.deliveries).toBe(10 * sockets);
    // Both server processes got sockets, and each broadcast went through Redis once.
    expect(result.min_files_per_node).toBeGreaterThan(0);
    expect(result.redis_per_broadcast).toMatchObject({ publish: 1, pubsub_connections: 2 });
    expect(result.rss_joined.clients).toBeGreaterThan(0);
  }, ONE_TOPIC_BOUND_MS);

  it("one-topic's memory guard aborts a run, says so, and leaves no process behind", async () => {
    const before = new Set(processTree(process.pid));
    // A floor above any machine's memory: the guard trips at once.
    const result = await measureOneTopic("cinder", {
      sockets: 100,
      nodes: 2,
      pin: false,
      inflight: [1],
      broadcasts: 1,
      timeoutSeconds: 30,
      bodySize: 100,
      minAvailableBytes: Number.MAX_SAFE_INTEGER,
    });
    expect(result.aborted).toMatch(/MemAvailable fell to .* below the guard's/);
    expect(result.rounds).toEqual([]);
    await vi.waitFor(() => expect(processTree(process.pid).filter((pid) => !before.has(pid))).toEqual([]), { timeout: 10_000 });
  }, ONE_TOPIC_BOUND_MS);

  // The presence-scale scenario at a tiny size: two nodes through Redis, members in counts mode
  // leaving and joining, sample clients on both nodes timing the counts against the truth.
  it("presence-scale churns a counted room across nodes and lays every count seen against the truth", async () => {
    const members = 60;
    const result = await measurePresenceScale({
      members,
      nodes: 2,
      churnRate: 40,
      churnSeconds: 2,
      joinRate: 500,
      samplesPerClient: 6,
      mode: "count",
      pin: false,
      timeoutSeconds: 60,
    });
    const [client] = result.clientReports;
    expect(result).toMatchObject({ members, nodes: 2, clients: 1, membersAtStart: members, samplesUnplaced: 0 });
    expect(client).toMatchObject({ joinErrors: 0, closed: 0, skippedJoins: 0 });
    expect(client.changesSent).toBeGreaterThan(0);
    expect(result.changes).toBeGreaterThan(0);
    // Every join and leave sent is written with its time: the fill's joins and the churn's.
    const { joins, leaves } = result.changesUntilQuit;
    expect(joins.sent).toBeGreaterThan(0);
    expect(leaves.sent).toBeGreaterThan(0);
    expect(client.joinsSent).toBe(members + joins.sent);
    expect(client.leavesSent).toBe(leaves.sent);
    expect(joins.sent).toBe(joins.acked + joins.voided + joins.unanswered);
    expect(leaves.sent).toBe(leaves.acked + leaves.unanswered);
    expect(result.changesInWindow.joins.acked + result.changesInWindow.leaves.acked).toBe(result.changes);
    expect(result.roomAtEnd.acked).toBe(result.membersAtEnd);
    expect(result.roomAtEnd.sent).toBe(result.membersAtEnd + result.roomAtEnd.unansweredJoins - result.roomAtEnd.unansweredLeaves);
    expect(result.staleness.clients).toBe(6);
    expect(result.staleness.counts).toBeGreaterThan(0);
    expect(result.perNode.reduce((n, node) => n + node.samples, 0)).toBe(6);
    // Each node's presence replica read over the shared port: both reached, their deltas counted.
    expect(result.perNode.map((node) => node.tracker !== undefined)).toEqual([true, true]);
    const sentInWindow = result.perNode.reduce((n, node) => n + (node.tracker!.atEnd['cinder_presence_deltas_total{direction="sent"}'] ?? 0) - (node.tracker!.atStart['cinder_presence_deltas_total{direction="sent"}'] ?? 0), 0);
    expect(sentInWindow).toBeGreaterThan(0);
    expect(result.bytesToClients).toBeGreaterThan(0);
    expect(result.redisBytesIn).toBeGreaterThan(0);
  }, 300_000);
});
