import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { PresenceSet, clockToWire, toWire } from "../../crdt/index.js";
import type { GossipMessage } from "../../server/presence/messages.js";
import { Tracker } from "../../server/presence/tracker.js";
import type { GossipTransport } from "../../server/presence/transport.js";

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

/** A transport we drive by hand: records what the tracker sends, injects what it receives. */
function manualTransport() {
  const sent: Array<{ to: string | "all"; message: GossipMessage }> = [];
  let deliver: (message: GossipMessage) => void = () => {};
  const transport: GossipTransport = {
    broadcast: (message) => sent.push({ to: "all", message }),
    sendTo: (to, message) => sent.push({ to, message }),
    onMessage: (handler) => {
      deliver = handler;
    },
  };
  return { transport, sent, receive: (message: GossipMessage) => deliver(message) };
}

function heartbeatFrom(set: PresenceSet): GossipMessage {
  const delta = set.takeDelta();
  return { type: "heartbeat", from: set.localReplica, clock: clockToWire(set.clock()), delta: delta ? toWire(delta) : null, seq: 0 };
}

describe("tracker", () => {
  it("ignores a late heartbeat from an older incarnation once the newer one is known", () => {
    const net = manualTransport();
    const tracker = new Tracker({ replica: "a#0002", transport: net.transport, random: () => 0 });
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
    const net = manualTransport();
    const changes: string[] = [];
    const tracker = new Tracker({
      replica: "a#0002",
      transport: net.transport,
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
    const net = manualTransport();
    const tracker = new Tracker({ replica: "a#1", transport: net.transport, random: () => 0, clockSamplePeriods: 1 });
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
