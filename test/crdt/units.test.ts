import { describe, expect, it } from "vitest";
import {
  CausalContext,
  PresenceSet,
  compareClocks,
  dominates,
  makeIncarnation,
  makeReplicaId,
  parseReplicaId,
  upperBound,
} from "../../crdt/index.js";

describe("replica ids", () => {
  it("round-trips name and incarnation, even with # in the name", () => {
    const id = makeReplicaId("web#1", "abc");
    expect(parseReplicaId(id)).toEqual({ nodeName: "web#1", incarnation: "abc" });
    expect(() => parseReplicaId("no-incarnation")).toThrow(/name#incarnation/);
    expect(() => makeReplicaId("a", "b#c")).toThrow(/incarnation/);
  });

  it("incarnations sort by start time", () => {
    expect(makeIncarnation(1_000, 0.99) < makeIncarnation(2_000, 0)).toBe(true);
  });
});

describe("vector clocks", () => {
  const a = new Map([["x", 2], ["y", 1]]);
  const b = new Map([["x", 1]]);
  it("compares with missing entries as zero", () => {
    expect(compareClocks(a, b)).toBe("after");
    expect(compareClocks(b, a)).toBe("before");
    expect(compareClocks(a, new Map(a))).toBe("equal");
    expect(compareClocks(new Map([["x", 1]]), new Map([["y", 1]]))).toBe("concurrent");
    expect(dominates(b, new Map([["x", 1], ["z", 0]]))).toBe(true);
  });
  it("upper bound is the pointwise max", () => {
    expect(upperBound(b, new Map([["x", 0], ["y", 3]]))).toEqual(new Map([["x", 1], ["y", 3]]));
  });
});

describe("causal context", () => {
  it("keeps gaps in the cloud and compacts when they close", () => {
    const c = new CausalContext();
    c.addDot("r", 1);
    c.addDot("r", 3);
    c.addDot("r", 5);
    expect(c.clockOf("r")).toBe(1);
    expect([...(c.cloudOf("r") ?? [])]).toEqual([3, 5]);
    expect(c.hasDot("r", 2)).toBe(false);
    c.addDot("r", 2);
    expect(c.clockOf("r")).toBe(3);
    expect([...(c.cloudOf("r") ?? [])]).toEqual([5]);
    const other = new CausalContext();
    other.addDot("r", 4);
    c.merge(other);
    expect(c.clockOf("r")).toBe(5);
    expect(c.cloudOf("r")).toBeUndefined();
  });
});

describe("presence set", () => {
  it("refuses to track the same (topic, owner, key) twice, without throwing", () => {
    const set = new PresenceSet("a#1");
    expect(set.join("room", "u1", "sock", { x: 1 }).ok).toBe(true);
    expect(set.join("room", "u1", "sock", { x: 2 })).toEqual({ ok: false, reason: "already_tracked" });
    expect(set.join("room", "u1", "other-sock", { x: 3 }).ok).toBe(true);
    expect(set.list("room")).toHaveLength(2);
  });

  it("update replaces the entry with a new dot and passes the previous one to the meta builder", () => {
    const set = new PresenceSet("a#1");
    set.join("room", "u1", "sock", (dot) => ({ ref: dot.counter }));
    const result = set.update("room", "u1", "sock", (dot, previous) => ({ ref: dot.counter, prev: previous.meta.ref }));
    expect(result.ok && result.joined.meta).toEqual({ ref: 2, prev: 1 });
    expect(result.ok && result.left.dot.counter).toBe(1);
    expect(set.list("room").map((e) => e.meta)).toEqual([{ ref: 2, prev: 1 }]);
    expect(set.update("room", "nobody", "sock", {})).toEqual({ ok: false, reason: "no_presence" });
  });

  it("leaveOwner removes exactly that owner's entries, optionally in one topic", () => {
    const set = new PresenceSet("a#1");
    set.join("t1", "k", "s1", {});
    set.join("t2", "k", "s1", {});
    set.join("t1", "k", "s2", {});
    expect(set.leaveOwner("s1", "t1").leaves.map((e) => e.topic)).toEqual(["t1"]);
    expect(set.leaveOwner("s1").leaves.map((e) => e.topic)).toEqual(["t2"]);
    expect(set.list("t1").map((e) => e.owner)).toEqual(["s2"]);
    expect(set.size).toBe(1);
  });

  it("a leave moves the clock, so a peer that missed it can notice", () => {
    const set = new PresenceSet("a#1");
    set.join("t", "k", "s", {});
    const before = set.clock().get("a#1");
    set.leave("t", "k", "s");
    expect(set.clock().get("a#1")).toBe((before ?? 0) + 1);
  });

  it("a join and a leave within one delta travel as a removal only", () => {
    const a = new PresenceSet("a#1");
    const b = new PresenceSet("b#1");
    a.join("t", "k", "s", {});
    a.leave("t", "k", "s");
    const delta = a.takeDelta()!;
    expect(delta.entries).toHaveLength(0);
    expect(b.merge(delta)).toEqual({ joins: [], leaves: [] });
    expect(a.takeDelta()).toBeNull();
  });

  it("a stale full-state transfer neither overwrites nor resurrects newer data (phoenix_pubsub #148)", () => {
    const a = new PresenceSet("a#1");
    const b = new PresenceSet("b#1");
    a.join("t", "alice", "s1", { v: "old" });
    a.join("t", "bob", "s2", {});
    const stale = a.extract();
    b.merge(a.takeDelta()!);
    a.update("t", "alice", "s1", { v: "new" });
    a.leave("t", "bob", "s2");
    b.merge(a.takeDelta()!);
    expect(b.merge(stale)).toEqual({ joins: [], leaves: [] });
    expect(b.list("t").map((e) => [e.key, e.meta])).toEqual([["alice", { v: "new" }]]);
    // The same stale state relayed through a third replica does not help either.
    const c = PresenceSet.fromSnapshot("c#1", stale);
    expect(b.merge(c.extract())).toEqual({ joins: [], leaves: [] });
    expect(b.list("t").map((e) => e.meta)).toEqual([{ v: "new" }]);
  });

  it("concurrent adds of the same (topic, owner, key) on two replicas both survive, in one order (phoenix_pubsub #214)", () => {
    const a = new PresenceSet("a#1");
    const b = new PresenceSet("b#1");
    a.join("t", "k", "same-owner", { from: "a" });
    b.join("t", "k", "same-owner", { from: "b" });
    const da = a.takeDelta()!;
    const db = b.takeDelta()!;
    const c = new PresenceSet("c#1");
    const d = new PresenceSet("d#1");
    c.merge(da);
    c.merge(db);
    d.merge(db);
    d.merge(da);
    a.merge(db);
    b.merge(da);
    const expected = [{ from: "a" }, { from: "b" }];
    for (const set of [a, b, c, d]) expect(set.list("t").map((e) => e.meta)).toEqual(expected);
  });

  it("lists a topic in dot order whatever order the entries arrived in", () => {
    const a = new PresenceSet("a#1");
    for (let i = 0; i < 5; i++) a.join("t", `k${i}`, "s", {});
    const deltas = a.extract();
    const reversed = { ...deltas, entries: [...deltas.entries].reverse() };
    const b = PresenceSet.fromSnapshot("b#1", reversed);
    expect(b.list("t").map((e) => e.key)).toEqual(["k0", "k1", "k2", "k3", "k4"]);
  });

  it("extract restricted to known replicas leaves the requester's other data alone", () => {
    const a = new PresenceSet("a#1");
    const b = new PresenceSet("b#1");
    const x = new PresenceSet("x#1");
    x.join("t", "kx", "s", {});
    const fromX = x.takeDelta()!;
    a.merge(fromX);
    b.merge(fromX);
    x.leave("t", "kx", "s");
    a.merge(x.takeDelta()!);
    a.join("t", "ka", "s", {});
    const restricted = a.extract(["a#1", "b#1"]);
    expect(restricted.entries.map((e) => e.key)).toEqual(["ka"]);
    expect([...restricted.context.replicas()].sort()).toEqual(["a#1"]);
    b.merge(restricted);
    expect(b.list("t").map((e) => e.key)).toEqual(["ka", "kx"]);
  });
});
