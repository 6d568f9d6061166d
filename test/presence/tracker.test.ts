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
