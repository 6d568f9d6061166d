/**
 * A tracker's metrics (server/presence/tracker-metrics.ts): real trackers on a lane the test
 * drives by hand (it holds, delivers or drops each message), each with the presence metric group
 * on a registry of its own. Time is fake: ticks happen when the test advances it.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { ReplicaId } from "../../crdt/index.js";
import type { GossipLane, GossipMessage } from "../../server/presence/index.js";
import { presenceMetrics } from "../../server/presence/presence-metrics.js";
import { Tracker } from "../../server/presence/tracker.js";
import { trackerMetrics } from "../../server/presence/tracker-metrics.js";
import { metricGroup, metricOf, type MetricLabels } from "../support/metrics.js";

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(1_700_000_000_000);
});
afterEach(() => {
  vi.useRealTimers();
});

type Sent = { to: ReplicaId; message: GossipMessage };

const TICK_MS = 100;

/** Trackers whose messages wait in one queue until the test delivers or drops them. */
function cluster(names: ReplicaId[]) {
  const handlers = new Map<ReplicaId, (message: GossipMessage) => void>();
  let queue: Sent[] = [];
  const lane = (self: ReplicaId): GossipLane => ({
    broadcast: (message) => {
      for (const to of names) if (to !== self) queue.push({ to, message: structuredClone(message) });
    },
    sendTo: (to, message) => queue.push({ to, message: structuredClone(message) }),
    onMessage: (handler) => handlers.set(self, handler),
  });
  const timings = { broadcastPeriod: TICK_MS, maxSilentPeriods: 3, downPeriod: 20 * TICK_MS, permdownPeriod: 600 * TICK_MS, clockSamplePeriods: 2, random: () => 0 };
  const nodes = new Map(
    names.map((replica) => {
      const metrics = metricGroup(presenceMetrics);
      const tracker = new Tracker({ replica, gossip: lane(replica), observer: trackerMetrics(metrics), ...timings });
      return [replica, { tracker, metrics }] as const;
    }),
  );
  for (const { tracker } of nodes.values()) tracker.start();
  /** Delivers what `pick` picks (until nothing picked is left, answers included), drops what `drop` says, holds the rest. */
  const deliver = (pick: (item: Sent) => boolean = () => true, drop: (item: Sent) => boolean = () => false): void => {
    for (;;) {
      const picked = queue.filter(pick);
      if (picked.length === 0) return;
      queue = queue.filter((item) => !pick(item));
      for (const item of picked) if (!drop(item)) handlers.get(item.to)?.(item.message);
    }
  };
  /** One heartbeat period: every tracker ticks (what they send waits in the queue). */
  const tick = (): void => void vi.advanceTimersByTime(TICK_MS);
  /** Ten periods with every message delivered: each tracker heartbeats (idle ones every maxSilentPeriods) and is answered. */
  const settle = (): void => {
    for (let i = 0; i < 10; i++) {
      tick();
      deliver();
    }
  };
  const node = (replica: ReplicaId) => nodes.get(replica)!;
  const metric = (replica: ReplicaId, name: string, labels: MetricLabels = {}) => metricOf(node(replica).metrics, name, labels);
  return { node, metric, deliver, tick, settle, queued: () => queue };
}

const isDelta = ({ message }: Sent) => message.type === "heartbeat" && message.delta !== null;
const isHeartbeat = ({ message }: Sent) => message.type === "heartbeat";

describe("a tracker's metrics", () => {
  it("show the lag of a replica that lost deltas, back to 0 once a transfer brought them, and count deltas and transfers", async () => {
    const { node, metric, deliver, tick, settle } = cluster(["b#1", "c#1", "d#1"]);
    const b = node("b#1").tracker;
    settle();
    for (const replica of ["b#1", "c#1", "d#1"] as ReplicaId[]) {
      expect(await metric(replica, "cinder_presence_replicas", { state: "up" })).toBe(2);
      expect(await metric(replica, "cinder_presence_replica_lag")).toBe(0);
    }

    // Delta 1 (three joins: dots 1–3) is lost on its way to d.
    for (const key of ["k1", "k2", "k3"]) b.track("room", key, `s-${key}`, {});
    tick();
    deliver(() => true, (item) => item.to === "d#1" && isDelta(item));
    // Delta 2 (dot 4) reaches d; d asks b for its state at once (a gap in b's delta numbers), held for now.
    b.track("room", "k4", "s-k4", {});
    tick();
    deliver(isHeartbeat);
    tick(); // d's gauges are set at its tick

    expect(node("d#1").tracker.figures()).toMatchObject({ entries: 1, lag: 3, replicasUp: 2 });
    expect(await metric("d#1", "cinder_presence_replica_lag")).toBe(3);
    expect(await metric("d#1", "cinder_presence_entries")).toBe(1);
    expect(await metric("d#1", "cinder_presence_transfer_requests_total", { reason: "gap" })).toBe(1);
    expect(await metric("c#1", "cinder_presence_replica_lag")).toBe(0);
    expect(await metric("c#1", "cinder_presence_entries")).toBe(4);

    const transfersBefore = await metric("d#1", "cinder_presence_transfers_total", { direction: "received" });
    const entriesBefore = await metric("d#1", "cinder_presence_transfer_entries_total", { direction: "received" });
    settle();
    for (const replica of ["b#1", "c#1", "d#1"] as ReplicaId[]) {
      expect(await metric(replica, "cinder_presence_replica_lag")).toBe(0);
      expect(await metric(replica, "cinder_presence_entries")).toBe(4);
    }
    // d merged b's state (its four entries) at least once; b sent it.
    expect(await metric("d#1", "cinder_presence_transfers_total", { direction: "received" })).toBeGreaterThan(transfersBefore);
    expect(await metric("d#1", "cinder_presence_transfer_entries_total", { direction: "received" })).toBeGreaterThanOrEqual(entriesBefore + 4);
    expect(await metric("b#1", "cinder_presence_transfers_total", { direction: "sent" })).toBeGreaterThan(0);

    expect(await metric("b#1", "cinder_presence_deltas_total", { direction: "sent" })).toBe(2);
    expect(await metric("b#1", "cinder_presence_delta_entries_total", { direction: "sent" })).toBe(4);
    expect(await metric("c#1", "cinder_presence_deltas_total", { direction: "received" })).toBe(2);
    expect(await metric("c#1", "cinder_presence_delta_entries_total", { direction: "received" })).toBe(4);
    expect(await metric("d#1", "cinder_presence_deltas_total", { direction: "received" })).toBe(1);
    expect(await metric("d#1", "cinder_presence_delta_entries_total", { direction: "received" })).toBe(1);
    // c lost nothing: it never asked for a state because of a gap.
    expect(await metric("c#1", "cinder_presence_transfer_requests_total", { reason: "gap" })).toBe(0);
  });

  it("show a lost leave as lag once the sender's next (idle) heartbeat brings its clock, and 0 after the transfer it asks for", async () => {
    const { node, metric, deliver, tick, settle } = cluster(["b#1", "c#1"]);
    const b = node("b#1").tracker;
    settle();
    b.track("room", "k1", "s1", {});
    settle();
    b.untrack("room", "k1", "s1");
    tick();
    deliver(() => true, (item) => item.to === "c#1" && isDelta(item)); // the leave (dot 2) is lost
    // b is idle now: its next heartbeat, maxSilentPeriods ticks later, carries no delta but its clock.
    for (let i = 0; i < 10 && node("c#1").tracker.figures().lag === 0; i++) {
      tick();
      deliver(isHeartbeat);
    }
    tick();
    expect(await metric("c#1", "cinder_presence_replica_lag")).toBe(1);
    expect(await metric("c#1", "cinder_presence_entries")).toBe(1); // the ghost of k1
    expect(await metric("c#1", "cinder_presence_transfer_requests_total", { reason: "gap" })).toBe(1);
    settle();
    expect(await metric("c#1", "cinder_presence_replica_lag")).toBe(0);
    expect(await metric("c#1", "cinder_presence_entries")).toBe(0);
  });

  it("count a silent replica down, and leave what c still lacks of it out of the lag", async () => {
    const { node, metric, deliver, tick, settle } = cluster(["b#1", "c#1", "d#1"]);
    const b = node("b#1").tracker;
    const c = node("c#1").tracker;
    settle();
    b.track("room", "k1", "s1", {});
    settle();
    // k2 never reaches c: its delta is dropped, and so is every state sent to c from now on.
    const toCLost = (item: Sent) => item.to === "c#1" && (isDelta(item) || item.message.type === "transferAck");
    b.track("room", "k2", "s2", {});
    for (let i = 0; i < 10 && c.figures().lag === 0; i++) {
      tick();
      deliver(() => true, toCLost);
    }
    tick();
    expect(await metric("c#1", "cinder_presence_replica_lag")).toBe(1);
    b.stop(); // not graceful: silent from now on
    c.track("room", "k3", "s3", {});
    // Past downPeriod (20 ticks), well before permdownPeriod.
    for (let elapsed = 0; elapsed <= 30 * TICK_MS; elapsed += TICK_MS) {
      tick();
      deliver(() => true, toCLost);
    }
    expect(await metric("c#1", "cinder_presence_replicas", { state: "up" })).toBe(1);
    expect(await metric("c#1", "cinder_presence_replicas", { state: "down" })).toBe(1);
    expect(await metric("c#1", "cinder_presence_replica_lag")).toBe(0);
    expect(await metric("c#1", "cinder_presence_entries")).toBe(1); // k3; k1 is hidden with b
    expect(await metric("d#1", "cinder_presence_entries")).toBe(1);
  });
});

describe("a tracker's gossip delay", () => {
  it("is how long the heartbeats read in a tick had been on their way, and 0 after a tick that read none", async () => {
    const { node, metric, deliver, tick, settle } = cluster(["b#1", "c#1"]);
    settle();
    expect(await metric("c#1", "cinder_presence_gossip_delay_seconds")).toBe(0);
    node("b#1").tracker.track("room", "k1", "s1", {});
    tick();
    // c is slow to read: b's delta waits 5 s (50 periods) for it, and b's later heartbeats with it.
    vi.advanceTimersByTime(50 * TICK_MS);
    deliver((item) => item.to === "c#1" && isHeartbeat(item));
    expect(node("c#1").tracker.figures()).toMatchObject({ entries: 1, lag: 0, gossipDelayMs: 50 * TICK_MS });
    tick(); // c's gauges are set at its tick
    expect(await metric("c#1", "cinder_presence_gossip_delay_seconds")).toBe(5);
    expect(await metric("c#1", "cinder_presence_replica_lag")).toBe(0);
    tick(); // nothing read in this one
    expect(await metric("c#1", "cinder_presence_gossip_delay_seconds")).toBe(0);
  });
});
