import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { ReplicaId } from "../../crdt/index.js";
import type { GossipMessage } from "../../server/presence/messages.js";
import type { GossipLane } from "../../server/presence/index.js";
import { Tracker } from "../../server/presence/tracker.js";

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(1_700_000_000_000);
});
afterEach(() => {
  vi.useRealTimers();
});

/** Two trackers whose messages wait in a queue until the test delivers or drops them. */
function pair() {
  const handlers = new Map<ReplicaId, (message: GossipMessage) => void>();
  const queue: Array<{ to: ReplicaId; message: GossipMessage }> = [];
  const gossip = (self: ReplicaId): GossipLane => ({
    broadcast: (message) => {
      for (const to of handlers.keys()) if (to !== self) queue.push({ to, message: structuredClone(message) });
    },
    sendTo: (to, message) => queue.push({ to, message: structuredClone(message) }),
    onMessage: (handler) => handlers.set(self, handler),
  });
  const timings = { broadcastPeriod: 100, maxSilentPeriods: 3, downPeriod: 10_000, permdownPeriod: 60_000, clockSamplePeriods: 2, random: () => 0 };
  const b = new Tracker({ replica: "b#1", gossip: gossip("b#1"), ...timings });
  const c = new Tracker({ replica: "c#1", gossip: gossip("c#1"), ...timings });
  b.start();
  c.start();
  const deliverAll = (drop: (m: { to: ReplicaId; message: GossipMessage }) => boolean = () => false) => {
    while (queue.length > 0) {
      const item = queue.shift()!;
      if (!drop(item)) handlers.get(item.to)?.(item.message);
    }
  };
  const keys = (tracker: Tracker) => [...tracker.list("room")].map((e) => `${e.key}@${e.dot.counter}`).sort();
  return { b, c, deliverAll, keys };
}

describe("a lost delta whose dots a later delta covers", () => {
  it("is noticed by its sequence number and repaired: no ghost survives", () => {
    const { b, c, deliverAll, keys } = pair();
    vi.advanceTimersByTime(10);
    deliverAll();
    b.track("room", "x", "sock", { v: 1 });
    vi.advanceTimersByTime(100); // delta 1: x joins
    deliverAll();
    expect(keys(c)).toEqual(keys(b));

    b.update("room", "x", "sock", { v: 2 });
    vi.advanceTimersByTime(100); // delta 2: x's first dot leaves, a second one joins — lost on its way to c
    deliverAll((item) => item.to === "c#1" && item.message.type === "heartbeat" && item.message.delta !== null);

    b.untrack("room", "x", "sock");
    vi.advanceTimersByTime(100); // delta 3 covers the second dot: c's clock has no gap left
    deliverAll();
    for (let i = 0; i < 10; i++) {
      vi.advanceTimersByTime(100);
      deliverAll();
    }
    expect(keys(b)).toEqual([]);
    expect(keys(c)).toEqual([]);
  });
});
