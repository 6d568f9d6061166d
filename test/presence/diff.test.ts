import { describe, expect, it } from "vitest";
import { DiffCoalescer, fixedWindow, foldDiff, presenceMapOf, type PresenceDiff, type PresenceMap } from "../../server/presence/diff.js";
import { phxRefOf } from "../../server/presence/phx-ref.js";

function map(entries: Record<string, string[]>): PresenceMap {
  const result: PresenceMap = Object.create(null);
  for (const [key, refs] of Object.entries(entries)) result[key] = { metas: refs.map((phx_ref) => ({ phx_ref })) };
  return result;
}

function diff(joins: Record<string, string[]>, leaves: Record<string, string[]>): PresenceDiff {
  return { joins: map(joins), leaves: map(leaves) };
}

function refs(m: PresenceMap): Record<string, unknown[]> {
  return Object.fromEntries(Object.entries(m).map(([k, p]) => [k, p.metas.map((x) => x.phx_ref)]));
}

describe("diff folding", () => {
  it("concatenates metas per key", () => {
    const into = diff({ u: ["1"] }, {});
    foldDiff(into, diff({ u: ["2"], v: ["3"] }, { w: ["0"] }));
    expect(refs(into.joins)).toEqual({ u: ["1", "2"], v: ["3"] });
    expect(refs(into.leaves)).toEqual({ w: ["0"] });
  });

  it("a leave of a ref joined in the window cancels the join", () => {
    const into = diff({ u: ["1"] }, {});
    foldDiff(into, diff({ u: ["2"] }, { u: ["1"] }));
    expect(refs(into.joins)).toEqual({ u: ["2"] });
    expect(refs(into.leaves)).toEqual({});
  });

  it("a join of a ref left in the window cancels the leave (down then up)", () => {
    const into = diff({}, { u: ["1"] });
    foldDiff(into, diff({ u: ["1"] }, {}));
    expect(refs(into.joins)).toEqual({});
    expect(refs(into.leaves)).toEqual({});
  });
});

describe("phx_ref", () => {
  it("is short, URL-safe, and distinct per dot", () => {
    const a = phxRefOf({ replica: "node-a#x1", counter: 1 });
    const b = phxRefOf({ replica: "node-b#x1", counter: 1 });
    const c = phxRefOf({ replica: "node-a#x1", counter: 2 });
    for (const ref of [a, b, c]) expect(ref).toMatch(/^[A-Za-z0-9_-]{9,16}$/);
    expect(new Set([a, b, c]).size).toBe(3);
    expect(phxRefOf({ replica: "node-a#x1", counter: 1 })).toBe(a);
  });
});

describe("presence maps", () => {
  it("group metas by key in entry order on a null-prototype object", () => {
    const entry = (key: string, n: number) => ({ topic: "t", key, owner: "o", meta: { n }, dot: { replica: "r#1", counter: n } });
    const m = presenceMapOf([entry("b", 1), entry("__proto__", 2), entry("b", 3)]);
    expect(Object.getPrototypeOf(m)).toBeNull();
    expect(Object.keys(m)).toEqual(["b", "__proto__"]);
    expect(m.b.metas).toEqual([{ n: 1 }, { n: 3 }]);
  });
});

describe("diff windows and presence_state", () => {
  it("a state taken inside a window keeps a later leave of a ref joined before it from cancelling out", () => {
    const delivered: PresenceDiff[] = [];
    const coalescer = new DiffCoalescer(fixedWindow(60_000), (_topic, d) => delivered.push(d));
    coalescer.push("t", diff({ x: ["1"] }, {}));
    // A client is sent a state holding x:1 now, then the diffs of this window.
    coalescer.mark("t");
    coalescer.push("t", diff({}, { x: ["1"] }));
    coalescer.flushAll();
    // Merged into one window, the join and the leave would cancel and the client would keep x forever.
    expect(delivered.map((d) => [refs(d.joins), refs(d.leaves)])).toEqual([
      [{ x: ["1"] }, {}],
      [{}, { x: ["1"] }],
    ]);
  });

  it("without a state in between, the same join and leave cancel", () => {
    const delivered: PresenceDiff[] = [];
    const coalescer = new DiffCoalescer(fixedWindow(60_000), (_topic, d) => delivered.push(d));
    coalescer.push("t", diff({ x: ["1"] }, {}));
    coalescer.push("t", diff({}, { x: ["1"] }));
    coalescer.flushAll();
    expect(delivered).toEqual([]);
  });

  it("a busy topic's next window is asked with the changes its last one merged", () => {
    const asked: number[] = [];
    const coalescer = new DiffCoalescer(
      (_topic, changes) => {
        asked.push(changes);
        return 60_000;
      },
      () => {},
    );
    coalescer.push("t", diff({ a: ["1"] }, {}));
    coalescer.push("t", diff({ b: ["2"] }, {}));
    coalescer.push("t", diff({ c: ["3"] }, {}));
    coalescer.flush("t");
    coalescer.push("t", diff({ d: ["4"] }, {}));
    coalescer.flushAll();
    expect(asked).toEqual([0, 3]);
  });
});
