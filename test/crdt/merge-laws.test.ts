import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PresenceSet, type PresenceSnapshot } from "../../crdt/index.js";
import { canonicalState, historyArb, simulate, sortedVisibleRows } from "./simulation.js";

const OBSERVER = "observer#1";

/** Snapshots (deltas and states) from one random history, plus three picks among them. */
const triplesArb = fc
  .tuple(historyArb, fc.nat(), fc.nat(), fc.nat())
  .map(([{ replicas, commands }, i, j, k]) => {
    const sim = simulate(replicas, commands);
    const pool: PresenceSnapshot[] = [...sim.pool.map((p) => p.snapshot), ...sim.sets.map((s) => s.extract())];
    return [pool[i % pool.length], pool[j % pool.length], pool[k % pool.length]] as const;
  });

function join(...snapshots: PresenceSnapshot[]): PresenceSet {
  const set = new PresenceSet(OBSERVER);
  for (const snapshot of snapshots) set.merge(snapshot);
  return set;
}

function same(a: PresenceSet, b: PresenceSet): void {
  expect(canonicalState(a)).toBe(canonicalState(b));
  expect(sortedVisibleRows(a)).toEqual(sortedVisibleRows(b));
}

describe("merge is a join of the semilattice", () => {
  it("is commutative", () => {
    fc.assert(
      fc.property(triplesArb, ([a, b]) => same(join(a, b), join(b, a))),
      { numRuns: 300 },
    );
  });

  it("is associative", () => {
    fc.assert(
      fc.property(triplesArb, ([a, b, c]) => {
        const left = join(join(a, b).extract(), c);
        const right = join(a, join(b, c).extract());
        same(left, right);
      }),
      { numRuns: 300 },
    );
  });

  it("is idempotent", () => {
    fc.assert(
      fc.property(triplesArb, ([a, b]) => {
        const once = join(a, b);
        const twice = join(a, b, a, b);
        same(once, twice);
        same(join(once.extract(), once.extract()), once);
      }),
      { numRuns: 300 },
    );
  });

  it("reports as joins and leaves exactly the visible difference", () => {
    fc.assert(
      fc.property(triplesArb, ([a, b]) => {
        const set = join(a);
        const before = new Map(set.listAll().map((e) => [`${e.dot.replica}/${e.dot.counter}`, e]));
        const { joins, leaves } = set.merge(b);
        const after = new Map(set.listAll().map((e) => [`${e.dot.replica}/${e.dot.counter}`, e]));
        for (const e of joins) before.set(`${e.dot.replica}/${e.dot.counter}`, e);
        for (const e of leaves) before.delete(`${e.dot.replica}/${e.dot.counter}`);
        expect([...before.keys()].sort()).toEqual([...after.keys()].sort());
      }),
      { numRuns: 300 },
    );
  });
});
