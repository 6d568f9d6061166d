import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { PresenceSet, clockToWire, toWire, type ReplicaId } from "../../crdt/index.js";
import type { GossipMessage } from "../../server/presence/messages.js";
import { Tracker } from "../../server/presence/tracker.js";
import { waitFor } from "../support/wait.js";
import type { GossipLane } from "../../server/presence/index.js";

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

/** A gossip lane we drive by hand: records what the tracker sends, injects what it receives. */
function manualGossip() {
  const sent: Array<{ to: string | "all"; message: GossipMessage }> = [];
  let deliver: (message: GossipMessage) => void = () => {};
  const gossip: GossipLane = {
    broadcast: (message) => sent.push({ to: "all", message }),
    sendTo: (to, message) => sent.push({ to, message }),
    onMessage: (handler) => {
      deliver = handler;
    },
  };
  return { gossip, sent, receive: (message: GossipMessage) => deliver(message) };
}

/**
 * Lanes between trackers that deliver at once, in order and without loss. A message sent while
 * another is being handled waits until that handler returns, so no handler is re-entered.
 */
function instantLanes() {
  const handlers = new Map<ReplicaId, (message: GossipMessage) => void>();
  const queue: Array<{ to: ReplicaId; message: GossipMessage }> = [];
  let delivering = false;
  const send = (to: ReplicaId, message: GossipMessage) => {
    queue.push({ to, message: structuredClone(message) });
    if (delivering) return;
    delivering = true;
    try {
      for (let item = queue.shift(); item; item = queue.shift()) handlers.get(item.to)?.(item.message);
    } finally {
      delivering = false;
    }
  };
  return (self: ReplicaId): GossipLane => ({
    broadcast: (message) => {
      for (const to of [...handlers.keys()]) if (to !== self) send(to, message);
    },
    sendTo: send,
    onMessage: (handler) => {
      handlers.set(self, handler);
    },
  });
}

function heartbeatFrom(set: PresenceSet): GossipMessage {
  const delta = set.takeDelta();
  return { type: "heartbeat", from: set.localReplica, clock: clockToWire(set.clock()), delta: delta ? toWire(delta) : null, seq: 0 };
}

describe("tracker", () => {
  it("ignores a late heartbeat from an older incarnation once the newer one is known", () => {
    const net = manualGossip();
    const tracker = new Tracker({ replica: "a#0002", gossip: net.gossip, random: () => 0 });
    tracker.start();
    const oldLife = new PresenceSet("b#0001");
    oldLife.join("room", "ghost", "s", {});
    const staleHeartbeat = heartbeatFrom(oldLife);
    const newLife = new PresenceSet("b#0002");
    newLife.join("room", "bob", "s", {});
    net.receive(heartbeatFrom(newLife));
    net.receive(staleHeartbeat);
    expect([...tracker.list("room")].map((e) => e.key)).toEqual(["bob"]);
    expect([...tracker.replicas().keys()]).toEqual(["b#0002"]);
  });

  it("a restarted node's new incarnation purges the old one's presences at once", () => {
    const net = manualGossip();
    const changes: string[] = [];
    const tracker = new Tracker({
      replica: "a#0002",
      gossip: net.gossip,
      onChanges: ({ joins, leaves }) => changes.push(...joins.map((e) => `+${e.key}`), ...leaves.map((e) => `-${e.key}`)),
    });
    tracker.start();
    const oldLife = new PresenceSet("b#0001");
    oldLife.join("room", "bob", "s", { life: 1 });
    net.receive(heartbeatFrom(oldLife));
    const newLife = new PresenceSet("b#0002");
    newLife.join("room", "bob", "s", { life: 2 });
    net.receive(heartbeatFrom(newLife));
    expect(changes).toEqual(["+bob", "-bob", "+bob"]);
    expect([...tracker.list("room")].map((e) => e.meta)).toEqual([{ life: 2 }]);
  });

  it("asks for a transfer only from the most advanced peer, and answers with a state restricted to the requester's replicas", () => {
    const net = manualGossip();
    const tracker = new Tracker({ replica: "a#1", gossip: net.gossip, random: () => 0, clockSamplePeriods: 1 });
    tracker.start();
    const b = new PresenceSet("b#1");
    const c = new PresenceSet("c#1");
    b.join("room", "x", "s", {});
    c.merge(b.extract());
    c.join("room", "y", "s", {});
    // We only hear their clocks (their deltas were lost).
    b.takeDelta();
    c.takeDelta();
    net.receive(heartbeatFrom(b));
    net.receive(heartbeatFrom(c));
    net.sent.length = 0;
    vi.advanceTimersByTime(1500);
    const requests = net.sent.filter((s) => s.message.type === "transferRequest");
    expect(requests.map((r) => r.to)).toEqual(["c#1"]);

    net.sent.length = 0;
    tracker.track("room", "z", "s", {});
    net.receive({ type: "transferRequest", from: "c#1", requestId: 7, clock: [["a#1", 0], ["c#1", 2]] });
    const ack = net.sent.find((s) => s.message.type === "transferAck")!;
    expect(ack.to).toBe("c#1");
    const state = ack.message.type === "transferAck" ? ack.message.state : undefined;
    expect(state?.replicas).toEqual(["a#1"]);
    expect(state?.entries.map((e) => e[3])).toEqual(["z"]);
  });
});

describe("tracker memory of gone replicas", () => {
  // Real time: the tracker's own ticks must run while waitFor polls.
  beforeEach(() => {
    vi.useRealTimers();
  });

  it("forgets a replica that left gracefully once 2 × permdownPeriod has passed since it was purged", async () => {
    const lanes = instantLanes();
    const timings = { broadcastPeriod: 10, maxSilentPeriods: 2, downPeriod: 20, permdownPeriod: 40, clockSamplePeriods: 2 };
    const a = new Tracker({ replica: "a#1", gossip: lanes("a#1"), ...timings });
    const b = new Tracker({ replica: "b#1", gossip: lanes("b#1"), ...timings });
    a.start();
    b.start();
    try {
      b.track("room", "bob", "s", {});
      await waitFor(() => [...a.list("room")].some((e) => e.key === "bob"), "a to see bob");
      expect(a.goneReplicaCount).toBe(0);

      b.stop({ graceful: true });
      await waitFor(() => a.goneReplicaCount === 1, "a to remember b as gone");
      expect([...a.list("room")]).toEqual([]);
      expect(a.replicas().has("b#1")).toBe(false);

      await waitFor(() => a.goneReplicaCount === 0, "a to forget b");
      expect(a.replicas().has("b#1")).toBe(false);
    } finally {
      a.stop();
      b.stop();
    }
  });
});

describe("a starting replica's first sync", () => {
  /** A transferAck of `set`'s state restricted as the request asked. */
  function answer(set: PresenceSet, request: GossipMessage, seq = 0): GossipMessage {
    if (request.type !== "transferRequest") throw new Error(`not a transfer request: ${request.type}`);
    const known = request.clock.map(([replica]) => replica);
    return { type: "transferAck", from: set.localReplica, requestId: request.requestId, state: toWire(set.extract(known)), seq };
  }
  const requestsTo = (sent: Array<{ to: string; message: GossipMessage }>, to: string) => sent.filter((s) => s.to === to && s.message.type === "transferRequest").map((s) => s.message);
  const keys = (tracker: Tracker) => [...tracker.list("room")].map((e) => e.key).sort();

  it("waits until every listed replica sent its own presences, asking each for its own only", () => {
    const net = manualGossip();
    const reports: unknown[] = [];
    const tracker = new Tracker({ replica: "a#2", gossip: net.gossip, random: () => 0, onFirstSync: (report) => reports.push(report) });
    tracker.start();
    const b = new PresenceSet("b#1");
    const c = new PresenceSet("c#1");
    b.join("room", "bob", "s", {});
    c.join("room", "carol", "s", {});
    // b also holds c's presences: c's state must still come from c.
    b.merge(c.extract());
    tracker.markUp("b#1");
    tracker.markUp("c#1");
    tracker.threadsListed();
    expect(tracker.firstSync.done).toBe(false);
    const [toB] = requestsTo(net.sent, "b#1");
    const [toC] = requestsTo(net.sent, "c#1");
    expect(toB.type === "transferRequest" && toB.clock.map(([replica]) => replica).sort()).toEqual(["a#2", "b#1"]);
    net.receive(answer(b, toB));
    expect(keys(tracker)).toEqual(["bob"]);
    expect(tracker.firstSync.done).toBe(false);
    net.receive(answer(c, toC));
    expect(tracker.firstSync.done).toBe(true);
    expect(keys(tracker)).toEqual(["bob", "carol"]);
    expect(reports).toEqual([{ outcome: "complete", missing: [], listed: true, ms: 0 }]);
  });

  it("is not over before every live replica was listed, and waits for a replica it heard from before the listing", () => {
    const net = manualGossip();
    const tracker = new Tracker({ replica: "a#2", gossip: net.gossip, random: () => 0 });
    tracker.start();
    const b = new PresenceSet("b#1");
    b.join("room", "bob", "s", {});
    b.takeDelta();
    // An idle heartbeat of b's comes first (its seq says it sent no delta we missed).
    net.receive({ type: "heartbeat", from: "b#1", clock: clockToWire(b.clock()), delta: null, seq: 0 });
    expect(tracker.firstSync.done).toBe(false);
    tracker.markUp("b#1");
    tracker.threadsListed();
    expect(tracker.firstSync.done).toBe(false);
    const [toB] = requestsTo(net.sent, "b#1");
    net.receive(answer(b, toB));
    expect(tracker.firstSync.done).toBe(true);
    expect(keys(tracker)).toEqual(["bob"]);
  });

  it("asks a silent replica again at every tick, stops waiting for one reported down, and ends after firstSyncTimeout at most", () => {
    const net = manualGossip();
    const reports: Array<{ outcome: string; missing: string[] }> = [];
    const timings = { broadcastPeriod: 100, firstSyncTimeout: 1000 };
    const tracker = new Tracker({ replica: "a#2", gossip: net.gossip, random: () => 0, ...timings, onFirstSync: (report) => reports.push(report) });
    tracker.start();
    tracker.markUp("b#1");
    tracker.markUp("c#1");
    tracker.markUp("d#1");
    tracker.threadsListed();
    vi.advanceTimersByTime(350);
    expect(requestsTo(net.sent, "b#1").length).toBe(5); // at once, then at the ticks at 0, 100, 200, 300 ms
    tracker.markDown("c#1");
    tracker.replicaGone("d#1");
    vi.advanceTimersByTime(500);
    expect(requestsTo(net.sent, "c#1").length).toBe(5);
    expect(tracker.firstSync.done).toBe(false);
    vi.advanceTimersByTime(150);
    expect(tracker.firstSync.done).toBe(true);
    expect(reports).toEqual([{ outcome: "timeout", missing: ["b#1"], listed: true, ms: 1000 }]);
    // Over: nobody is asked for a first sync any more.
    const asked = requestsTo(net.sent, "b#1").length;
    vi.advanceTimersByTime(500);
    expect(requestsTo(net.sent, "b#1").length).toBe(asked);
  });

  it("is over at once for a replica without peers, and a replica seen later is asked for its state without being waited for", () => {
    expect(new Tracker({ replica: "a#1" }).firstSync.done).toBe(true);
    const net = manualGossip();
    const tracker = new Tracker({ replica: "a#2", gossip: net.gossip, random: () => 0 });
    tracker.start();
    tracker.threadsListed();
    expect(tracker.firstSync.done).toBe(true);
    tracker.markUp("b#1");
    expect(requestsTo(net.sent, "b#1")).toHaveLength(1);
    expect(tracker.firstSync.done).toBe(true);
  });
});
