import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { historyArb, repairAll, simulate, sortedVisibleRows, expectedRows, canonicalState, TOPICS } from "./simulation.js";

describe("presence set convergence", () => {
  it("each replica's own entries always match its sequential model", () => {
    fc.assert(
      fc.property(historyArb, ({ replicas, commands }) => {
        const sim = simulate(replicas, commands);
        sim.sets.forEach((set, i) => {
          const own = sortedVisibleRows(set).filter(([replica]) => replica === set.localReplica);
          const expected = expectedRows(sim, new Set(sim.sets.map((_, j) => j).filter((j) => j !== i)));
          expect(own).toEqual(expected);
        });
      }),
      { numRuns: 200 },
    );
  });

  it("deltas delivered in any order, duplicated or dropped, then a state transfer: all replicas converge to the add-wins reference", () => {
    fc.assert(
      fc.property(historyArb, ({ replicas, commands }) => {
        const sim = simulate(replicas, commands);
        repairAll(sim.sets);
        const expected = expectedRows(sim);
        for (const set of sim.sets) {
          expect(sortedVisibleRows(set)).toEqual(expected);
          expect(set.size).toBe(expected.length);
        }
        // Same listing order everywhere, and identical states.
        for (const topic of TOPICS) {
          const first = sim.sets[0].list(topic).map((e) => e.dot);
          for (const set of sim.sets) expect(set.list(topic).map((e) => e.dot)).toEqual(first);
        }
        const state = canonicalState(sim.sets[0]).replace(/"kind":"state"/, "");
        for (const set of sim.sets) expect(canonicalState(set).replace(/"kind":"state"/, "")).toBe(state);
      }),
      { numRuns: 200 },
    );
  });

  it("delivering every delta once, in any order, converges without a state transfer", () => {
    fc.assert(
      fc.property(historyArb, fc.infiniteStream(fc.nat()), ({ replicas, commands }, randoms) => {
        // Drop deliveries and state snapshots from the history, flush at the end, then
        // deliver the whole pool to everyone in a shuffled order.
        // Frequent flushes, so that adds and their removals often travel in different deltas.
        const localOnly = commands
          .filter((c) => c.type !== "deliver" && c.type !== "snapshotState")
          .flatMap((c) => (c.type === "flush" ? [c] : [c, { type: "flush" as const, at: c.at }]));
        const flushes = Array.from({ length: replicas }, (_, at) => ({ type: "flush" as const, at }));
        const sim = simulate(replicas, [...localOnly, ...flushes]);
        const order = sim.pool.map((item, index) => ({ item, rank: randoms.next().value as number, index }));
        order.sort((a, b) => a.rank - b.rank || a.index - b.index);
        for (const { item } of order) sim.sets.forEach((set, i) => i !== item.from && set.merge(item.snapshot));
        const expected = expectedRows(sim);
        for (const set of sim.sets) expect(sortedVisibleRows(set)).toEqual(expected);
      }),
      { numRuns: 200 },
    );
  });

  it("a stale full state merged after convergence changes nothing (phoenix_pubsub #148)", () => {
    fc.assert(
      fc.property(historyArb, ({ replicas, commands }) => {
        const sim = simulate(replicas, commands);
        repairAll(sim.sets);
        const before = sim.sets.map(canonicalState);
        for (const { snapshot } of sim.pool) for (const set of sim.sets) set.merge(snapshot);
        expect(sim.sets.map(canonicalState)).toEqual(before);
        for (const set of sim.sets) expect(sortedVisibleRows(set)).toEqual(expectedRows(sim));
      }),
      { numRuns: 150 },
    );
  });
});
