import type { Channel } from "phoenix";
import { beforeAll, describe, expect, it } from "vitest";
import type { PresenceDiff, PresenceMap } from "../../server/presence/index.js";
import { metricOf } from "../support/metrics.js";
import type { NodeOptions, NodeProcess } from "../support/node-process.js";
import { perFile, perTest } from "../support/opened.js";
import { collect } from "../support/phoenix-channel.js";
import type { RedisServer } from "../support/redis-server.js";
import { waitFor } from "../support/wait.js";

// Real node processes around one real redis-server, with the default presence timings: an idle
// replica heartbeats only every 15 s, so nothing but what a restarted node does on its own can
// give it the room in time.
const file = perFile();
const opened = perTest();
let redis: RedisServer;
let rooms = 0;

beforeAll(async () => {
  redis = await file.redis();
}, 30_000);

/** A node of the test's cluster. */
const inCluster = (name: string, workers: number, env: Record<string, string> = {}): NodeOptions => ({ name, workers, redis, env });

/** Ends `node` by `signal` and starts it again under the same name (on a new port): a restart. */
async function restart(node: NodeProcess, signal: NodeJS.Signals): Promise<NodeProcess> {
  await node.stop(signal);
  return opened.node({ ...node.options, port: undefined });
}

/** A phoenix.js client of the demo room `topic` on `node`, as `user`; `states` are the presence_states it got, in order. */
function member(node: NodeProcess, topic: string, user: string) {
  const socket = opened.phoenix(node.port);
  const channel: Channel = socket.channel(topic, { user });
  const states = collect<PresenceMap>(channel, "presence_state");
  const diffs = collect<PresenceDiff>(channel, "presence_diff");
  const messages = collect<{ body: string }>(channel, "new_msg");
  channel.join();
  return { user, channel, states, diffs, messages: () => messages.map((m) => m.body) };
}

/** Lines `node` logged with message `msg` about peer `peer` (its liveness saw that node's replicas). */
const sawPeer = (node: NodeProcess, peer: string) => node.output.split("\n").filter((line) => line.includes('"msg":"node up"') && line.includes(`"peer":"${peer}"`)).length;

/** The room `topic` on A: `count` members, each of whom sees them all. */
async function membersOnA(a: NodeProcess, topic: string, count: number): Promise<string[]> {
  const users = Array.from({ length: count }, (_, i) => `a${i}`);
  const members = users.map((user) => member(a, topic, user));
  const everyone = JSON.stringify(users);
  await waitFor(() => members.every((m) => m.states.length > 0 && JSON.stringify(listed(m)) === everyone), "the members on A to see each other", 10_000);
  return users;
}

/** What a member's list holds: its first presence_state plus every diff since (keys only, sorted). */
function listed(m: { states: PresenceMap[]; diffs: PresenceDiff[] }): string[] {
  const keys = new Set(Object.keys(m.states[0] ?? {}));
  for (const diff of m.diffs) {
    for (const key of Object.keys(diff.joins)) keys.add(key);
    for (const key of Object.keys(diff.leaves)) keys.delete(key);
  }
  return [...keys].sort();
}

/** Clients joining on B: each one's FIRST presence_state must hold every member on A, and itself. */
async function expectFirstStatesComplete(b: NodeProcess, workers: number, topic: string, onA: string[], joiners: number): Promise<void> {
  const newcomers = Array.from({ length: joiners }, (_, i) => member(b, topic, `b${i}`));
  await waitFor(() => newcomers.every((m) => m.states.length > 0), "every newcomer's first presence_state", 15_000);
  const joinerNames = newcomers.map((m) => m.user);
  for (const newcomer of newcomers) {
    const first = Object.keys(newcomer.states[0]).sort();
    expect(first, `${newcomer.user}'s first presence_state`).toEqual(expect.arrayContaining([...onA, newcomer.user]));
    for (const key of first) expect([...onA, ...joinerNames]).toContain(key);
  }
  // Every replica of B had the room from A's replica, not by luck after its wait ran out.
  expect(await metricOf(b, "cinder_presence_first_sync_total", { outcome: "complete" })).toBe(workers);
  expect(await metricOf(b, "cinder_presence_first_sync_total", { outcome: "timeout" })).toBe(0);
}

describe.each([
  { workers: 1, joiners: 1 },
  // Each worker thread is its own replica: several newcomers land on both.
  { workers: 2, joiners: 6 },
])("a restarted node's first presence_state (B with WORKERS=$workers)", ({ workers, joiners }) => {
  it("lists every member of the room when a client joins right after the node is up (kill -9)", async () => {
    const topic = `room:first-${rooms++}`;
    const [a, b] = await Promise.all([opened.node(inCluster("A", 1)), opened.node(inCluster("B", workers))]);
    const onA = await membersOnA(a, topic, 5);
    const restarted = await restart(b, "SIGKILL");
    await expectFirstStatesComplete(restarted, workers, topic, onA, joiners);
  });

  it("lists every member of the room when a client joins once the nodes saw each other again (SIGTERM)", async () => {
    const topic = `room:first-${rooms++}`;
    const [a, b] = await Promise.all([opened.node(inCluster("A", 1)), opened.node(inCluster("B", workers))]);
    const onA = await membersOnA(a, topic, 5);
    await waitFor(() => sawPeer(a, "B") > 0, "A to see B's liveness key", 10_000);
    const seenBefore = sawPeer(a, "B");
    const restarted = await restart(b, "SIGTERM");
    // Seconds into its life: both liveness keys seen both ways. Nothing in between sends B the room.
    await waitFor(() => sawPeer(restarted, "A") > 0 && sawPeer(a, "B") > seenBefore, "A and the restarted B to see each other's liveness keys", 10_000);
    await expectFirstStatesComplete(restarted, workers, topic, onA, joiners);
  });
});

describe("a starting node whose peer never answers", () => {
  const PEER = "Z";
  const PEER_REPLICA = `${PEER}/w0#0000000000000`;

  /** A node that Redis says is alive (its liveness key, with no expiry) but that runs nowhere. */
  async function listPeerThatNeverAnswers(): Promise<() => Promise<void>> {
    const outside = opened.observer(redis);
    await outside.set(`cinder:node:${PEER}`, JSON.stringify([PEER_REPLICA]));
    await outside.sadd("cinder:nodes", PEER);
    let removed: Promise<void> | undefined;
    return () =>
      (removed ??= (async () => {
        await outside.del(`cinder:node:${PEER}`);
        await outside.srem("cinder:nodes", PEER);
        outside.disconnect();
      })());
  }

  it("keeps a newcomer's presence_state (and nothing else) waiting until the peer is reported down", async () => {
    const removePeer = await listPeerThatNeverAnswers();
    try {
      const b = await opened.node(inCluster("B", 1, { PRESENCE_FIRST_SYNC_TIMEOUT_MS: "600000" }));
      const newcomer = member(b, "room:waits", "new");
      await waitFor(async () => (await metricOf(b, "cinder_presence_state_sync_waits_total")) === 1, "the newcomer's presence_state to wait");
      // Other rooms are served meanwhile.
      const other = member(b, "room:busy", "other");
      await waitFor(async () => (await metricOf(b, "cinder_presence_state_sync_waits_total")) === 2, "the other member's presence_state to wait too");
      other.channel.push("new_msg", { body: "still served" });
      await waitFor(() => other.messages().includes("still served"), "a broadcast in another room");
      expect(newcomer.states).toEqual([]);
      expect(await metricOf(b, "cinder_presence_state_waiting")).toBe(2);
      // The peer's key goes: the liveness poll reports it down, and nobody is left to wait for.
      await removePeer();
      await waitFor(() => newcomer.states.length > 0 && other.states.length > 0, "both presence_states once the peer is down");
      expect(Object.keys(newcomer.states[0])).toEqual(["new"]);
      expect(await metricOf(b, "cinder_presence_first_sync_total", { outcome: "complete" })).toBe(1);
    } finally {
      await removePeer();
    }
  });

  it("serves a newcomer's presence_state with what it has once presenceFirstSyncTimeoutMs has passed", async () => {
    const removePeer = await listPeerThatNeverAnswers();
    try {
      const b = await opened.node(inCluster("B", 1, { PRESENCE_FIRST_SYNC_TIMEOUT_MS: "2000" }));
      const newcomer = member(b, "room:timeout", "new");
      await waitFor(() => newcomer.states.length > 0, "the newcomer's presence_state");
      expect(Object.keys(newcomer.states[0])).toEqual(["new"]);
      expect(await metricOf(b, "cinder_presence_first_sync_total", { outcome: "timeout" })).toBe(1);
      // The warning names the replica that did not answer (among others, when nodes of an earlier
      // test were killed so recently that their liveness keys have not expired yet).
      const warning = () => b.output.split("\n").find((line) => line.includes('"msg":"presence: first sync timed out'));
      await waitFor(() => warning() !== undefined, "the first sync's warning");
      const report = JSON.parse(warning() as string) as { missing: string[]; listed: boolean };
      expect(report.listed).toBe(true);
      expect(report.missing).toContain(PEER_REPLICA);
    } finally {
      await removePeer();
    }
  });
});
