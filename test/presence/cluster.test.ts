import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Meta, PresenceMap } from "../../server/presence/index.js";
import { FakeNetwork, seededRandom } from "./fake-network.js";
import { TestNode, TIMINGS, render, renderUnordered } from "./cluster.js";

const TOPICS = ["room:a", "room:b", "room:c", "room:d"];

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(1_700_000_000_000);
});
afterEach(() => {
  vi.useRealTimers();
});

/** What every node should show: the union of what each live node itself tracks. */
type Model = Map<string, Map<string, { topic: string; key: string; owner: string; meta: Meta }>>;

function expectConverged(nodes: TestNode[], model: Model): void {
  for (const topic of TOPICS) {
    const expected = expectedView(model, topic);
    const lists = nodes.map((node) => render(node.service.list(topic)));
    for (const list of lists) expect(list).toBe(lists[0]);
    expect(renderUnordered(stripRefs(nodes[0].service.list(topic)))).toBe(expected);
    for (const node of nodes) {
      // A phoenix.js client fed with presence_state + every presence_diff shows the same.
      expect(renderUnordered(node.clientView(topic))).toBe(renderUnordered(node.service.list(topic)));
    }
  }
}

function expectedView(model: Model, topic: string): string {
  const map: PresenceMap = Object.create(null);
  for (const presences of model.values()) {
    for (const p of presences.values()) {
      if (p.topic !== topic) continue;
      (map[p.key] ??= { metas: [] }).metas.push(p.meta);
    }
  }
  return renderUnordered(map);
}

function stripRefs(map: PresenceMap): PresenceMap {
  const result: PresenceMap = Object.create(null);
  for (const [key, { metas }] of Object.entries(map)) {
    result[key] = { metas: metas.map(({ phx_ref: _ref, phx_ref_prev: _prev, ...rest }) => rest) };
  }
  return result;
}

/** Random track/update/untrack on random nodes, mirrored in the model. */
function randomOps(nodes: TestNode[], model: Model, random: () => number, count: number, step: () => void): void {
  for (let i = 0; i < count; i++) {
    const node = nodes[Math.floor(random() * nodes.length)];
    const presences = model.get(node.name)!;
    const topic = TOPICS[Math.floor(random() * TOPICS.length)];
    const owner = `sock${Math.floor(random() * 3)}`;
    const key = `user${Math.floor(random() * 4)}`;
    const id = `${topic}|${owner}|${key}`;
    const roll = random();
    if (roll < 0.5) {
      const meta = { n: i };
      const result = node.service.track(owner, topic, key, meta);
      expect(result.ok).toBe(!presences.has(id));
      if (result.ok) presences.set(id, { topic, key, owner, meta });
    } else if (roll < 0.7) {
      const result = node.service.update(owner, topic, key, (old) => ({ ...old, n: i }));
      expect(result.ok).toBe(presences.has(id));
      if (result.ok) presences.set(id, { topic, key, owner, meta: { n: i } });
    } else if (roll < 0.9) {
      node.service.untrack(owner, topic, key);
      presences.delete(id);
    } else {
      node.service.untrackOwner(owner);
      for (const [other, p] of presences) if (p.owner === owner) presences.delete(other);
    }
    step();
  }
}

function settle(periods = 40): void {
  vi.advanceTimersByTime(TIMINGS.broadcastPeriod * periods);
}

function makeCluster(network: FakeNetwork, names = ["a", "b", "c"]): TestNode[] {
  return names.map((name) => new TestNode(name, network, TOPICS, { incarnation: "inc1" }));
}

describe("presence cluster over a faulty network", () => {
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    it(`converges after drops, duplicates, reordering and delays (seed ${seed})`, () => {
      const network = new FakeNetwork(seed, { drop: 0.25, duplicate: 0.25, maxDelay: 400 });
      const nodes = makeCluster(network);
      const model: Model = new Map(nodes.map((n) => [n.name, new Map()]));
      const random = seededRandom(seed * 7919);
      randomOps(nodes, model, random, 150, () => vi.advanceTimersByTime(Math.floor(random() * 60)));
      network.faults = { drop: 0, duplicate: 0, maxDelay: 50 };
      settle();
      expectConverged(nodes, model);
      expect(network.count("transferRequest")).toBeGreaterThan(0);
    });
  }

  it("keeps both sides working through a partition and converges after it heals", () => {
    const network = new FakeNetwork(11, { maxDelay: 30 });
    const nodes = makeCluster(network);
    const [a, b, c] = nodes;
    const model: Model = new Map(nodes.map((n) => [n.name, new Map()]));
    const random = seededRandom(99);
    randomOps(nodes, model, random, 30, () => vi.advanceTimersByTime(20));
    settle();
    expectConverged(nodes, model);

    network.partition(["a"], ["b", "c"]);
    vi.advanceTimersByTime(TIMINGS.downPeriod + 3 * TIMINGS.broadcastPeriod);
    // Each side sees the other's presences leave.
    for (const topic of TOPICS) {
      for (const [key, { metas }] of Object.entries(b.service.list(topic))) {
        expect(metas.length, `${topic}/${key}`).toBeGreaterThan(0);
      }
      expect(renderUnordered(stripRefs(a.service.list(topic)))).toBe(expectedView(new Map([["a", model.get("a")!]]), topic));
      expect(renderUnordered(stripRefs(c.service.list(topic)))).toBe(
        expectedView(new Map([["b", model.get("b")!], ["c", model.get("c")!]]), topic),
      );
    }
    randomOps(nodes, model, random, 40, () => vi.advanceTimersByTime(20));
    network.heal();
    settle();
    expectConverged(nodes, model);
  });

  it("lets a peer back in after a partition longer than permdownPeriod", () => {
    const network = new FakeNetwork(12);
    const nodes = makeCluster(network);
    const [a, b] = nodes;
    a.service.track("s1", "room:a", "alice", { v: 1 });
    b.service.track("s2", "room:a", "bob", { v: 2 });
    settle();
    expect(Object.keys(b.service.list("room:a")).sort()).toEqual(["alice", "bob"]);
    network.partition(["a"], ["b", "c"]);
    vi.advanceTimersByTime(TIMINGS.permdownPeriod + 5 * TIMINGS.broadcastPeriod);
    expect(Object.keys(b.service.list("room:a"))).toEqual(["bob"]);
    expect(b.service.tracker.replicas().has(a.service.replica)).toBe(false);
    network.heal();
    settle(60);
    for (const node of nodes) expect(Object.keys(node.service.list("room:a")).sort()).toEqual(["alice", "bob"]);
  });
});

describe("replica failure detection", () => {
  it("a silent replica's presences leave after downPeriod and come back if it returns before permdownPeriod", () => {
    const network = new FakeNetwork(21);
    const [a, b] = makeCluster(network, ["a", "b"]);
    b.service.track("s", "room:a", "bob", { x: 1 });
    settle();
    expect(Object.keys(a.service.list("room:a"))).toEqual(["bob"]);

    network.partition(["a"], ["b"]);
    // b was last heard at most one idle-heartbeat interval before the partition.
    const idleInterval = TIMINGS.maxSilentPeriods * TIMINGS.broadcastPeriod;
    vi.advanceTimersByTime(TIMINGS.downPeriod - idleInterval - TIMINGS.broadcastPeriod);
    expect(Object.keys(a.service.list("room:a"))).toEqual(["bob"]);
    vi.advanceTimersByTime(idleInterval + 3 * TIMINGS.broadcastPeriod);
    expect(Object.keys(a.service.list("room:a"))).toEqual([]);
    const leave = a.diffs.at(-1)!;
    expect(Object.keys(leave.diff.leaves)).toEqual(["bob"]);

    network.heal();
    settle(15);
    expect(Object.keys(a.service.list("room:a"))).toEqual(["bob"]);
    expect(Object.keys(a.diffs.at(-1)!.diff.joins)).toEqual(["bob"]);
    expect(renderUnordered(a.clientView("room:a"))).toBe(renderUnordered(b.service.list("room:a")));
  });

  it("a replica silent for permdownPeriod is purged", () => {
    const network = new FakeNetwork(22);
    const [a, b] = makeCluster(network, ["a", "b"]);
    b.service.track("s", "room:a", "bob", {});
    settle();
    b.service.stop();
    network.disconnect(b.service.replica);
    vi.advanceTimersByTime(TIMINGS.downPeriod + 3 * TIMINGS.broadcastPeriod);
    expect(a.service.tracker.replicas().get(b.service.replica)?.status).toBe("down");
    vi.advanceTimersByTime(TIMINGS.permdownPeriod);
    expect(a.service.tracker.replicas().has(b.service.replica)).toBe(false);
    expect(a.service.list("room:a")).toEqual({});
    // The leave was reported once, at down time; the purge reported nothing more.
    expect(a.diffs.filter((d) => Object.keys(d.diff.leaves).length > 0)).toHaveLength(1);
  });

  it("a graceful stop removes the node's presences from its peers at once", () => {
    const network = new FakeNetwork(23);
    const [a, b] = makeCluster(network, ["a", "b"]);
    b.service.track("s", "room:a", "bob", {});
    settle();
    expect(Object.keys(a.service.list("room:a"))).toEqual(["bob"]);
    b.service.stop({ graceful: true });
    vi.advanceTimersByTime(1);
    expect(a.service.list("room:a")).toEqual({});
    expect(a.service.tracker.replicas().has(b.service.replica)).toBe(false);
  });

  it("a node restarting with a new incarnation replaces its old presences without waiting for downPeriod", () => {
    const network = new FakeNetwork(24, { maxDelay: 50 });
    const nodes = makeCluster(network, ["a", "b", "c"]);
    const [a, b, c] = nodes;
    b.service.track("s1", "room:a", "bob", { life: 1 });
    a.service.track("s2", "room:a", "alice", {});
    settle();
    b.service.stop(); // crash: no graceful permdown
    network.disconnect(b.service.replica);
    const reborn = new TestNode("b", network, TOPICS, { incarnation: "inc2" });
    reborn.service.track("s1", "room:a", "bob", { life: 2 });
    settle(5); // far less than downPeriod
    for (const node of [a, c, reborn]) {
      const bob = node.service.list("room:a").bob;
      expect(bob.metas.map((m) => m.life)).toEqual([2]);
      expect(Object.keys(node.service.list("room:a")).sort()).toEqual(["alice", "bob"]);
    }
    const oldReplica = b.service.replica;
    expect(a.service.tracker.replicas().has(oldReplica)).toBe(false);
  });
});

describe("presence diffs", () => {
  it("an update is one diff: the new meta in joins, the old one in leaves, on every node", () => {
    const network = new FakeNetwork(31);
    const [a, b] = makeCluster(network, ["a", "b"]);
    const tracked = a.service.track("s", "room:a", "alice", { status: "away" });
    settle();
    const before = { a: a.diffs.length, b: b.diffs.length };
    const updated = a.service.update("s", "room:a", "alice", { status: "online" });
    expect(updated.ok).toBe(true);
    settle();
    for (const [node, from] of [[a, before.a], [b, before.b]] as const) {
      const diffs = node.diffs.slice(from);
      expect(diffs).toHaveLength(1);
      const { joins, leaves } = diffs[0].diff;
      expect(joins.alice.metas).toEqual([updated.ok && updated.meta]);
      expect(leaves.alice.metas).toEqual([tracked.ok && tracked.meta]);
      expect(joins.alice.metas[0].phx_ref_prev).toBe(leaves.alice.metas[0].phx_ref);
      expect(joins.alice.metas[0].phx_ref).not.toBe(leaves.alice.metas[0].phx_ref);
    }
    expect(a.service.update("s", "room:a", "nobody", {})).toEqual({ ok: false, reason: "no_presence" });
    expect(a.service.track("s", "room:a", "alice", {})).toEqual({ ok: false, reason: "already_tracked" });
  });

  it("coalesces diffs of one topic over the window, cancelling a join left inside it", () => {
    const network = new FakeNetwork(32);
    const node = new TestNode("z", network, TOPICS, { incarnation: "i", diffCoalesceMs: 50 });
    node.service.track("s1", "room:a", "stays", {});
    node.service.track("s2", "room:a", "flicker", {});
    node.service.untrack("s2", "room:a");
    node.service.track("s3", "room:b", "other", {});
    expect(node.diffs).toHaveLength(0);
    vi.advanceTimersByTime(50);
    expect(node.diffs.map((d) => d.topic).sort()).toEqual(["room:a", "room:b"]);
    const roomA = node.diffs.find((d) => d.topic === "room:a")!.diff;
    expect(Object.keys(roomA.joins)).toEqual(["stays"]);
    expect(Object.keys(roomA.leaves)).toEqual([]);
    node.service.update("s1", "room:a", "stays", { v: 2 });
    node.service.update("s1", "room:a", "stays", { v: 3 });
    vi.advanceTimersByTime(50);
    expect(renderUnordered(node.clientView("room:a"))).toBe(renderUnordered(node.service.list("room:a")));
    // Two updates in one window: one diff, the latest meta joined, the original left.
    expect(node.diffs).toHaveLength(3);
    const last = node.diffs[2].diff;
    expect(last.joins.stays.metas.map((m) => m.v)).toEqual([3]);
    expect(last.leaves.stays.metas.map((m) => m.v)).toEqual([undefined]);
  });

  it("handles keys that collide with Object.prototype", () => {
    const network = new FakeNetwork(33);
    const [a, b] = makeCluster(network, ["a", "b"]);
    a.service.track("s", "room:a", "__proto__", { v: 1 });
    a.service.track("s", "room:a", "constructor", { v: 2 });
    settle();
    const list = b.service.list("room:a");
    expect(Object.getPrototypeOf(list)).toBeNull();
    expect(Object.keys(list)).toEqual(["__proto__", "constructor"]);
    expect(list["__proto__"].metas[0].v).toBe(1);
    expect(JSON.parse(JSON.stringify(list))["constructor"].metas[0].v).toBe(2);
  });

  it("lists presences in the same order on every node, whatever the arrival order", () => {
    const network = new FakeNetwork(34, { maxDelay: 300 });
    const nodes = makeCluster(network, ["a", "b", "c"]);
    nodes.forEach((node, i) => {
      for (let k = 0; k < 5; k++) node.service.track(`s${k}`, "room:a", `user${(k + i) % 3}`, { from: node.name });
    });
    settle();
    const lists = nodes.map((n) => render(n.service.list("room:a")));
    expect(new Set(lists).size).toBe(1);
    expect(Object.values(nodes[0].service.list("room:a")).reduce((sum, p) => sum + p.metas.length, 0)).toBe(15);
  });
});
