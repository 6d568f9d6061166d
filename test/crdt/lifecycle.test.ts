import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { expectedRows, historyArb, repairAll, replicaName, simulate, sortedVisibleRows, canonicalState } from "./simulation.js";

describe("replica lifecycle", () => {
  it("down hides a replica's entries, merges while down stay hidden, up restores them", () => {
    fc.assert(
      fc.property(historyArb, fc.nat(), ({ replicas, commands }, pick) => {
        const sim = simulate(replicas, commands);
        const victim = pick % replicas;
        const id = replicaName(victim);
        const observers = sim.sets.filter((_, i) => i !== victim);
        repairAll(sim.sets);
        for (const set of observers) {
          const visibleBefore = set.listAll().filter((e) => e.dot.replica === id).length;
          const { leaves } = set.replicaDown(id);
          expect(leaves.length).toBe(visibleBefore);
          expect(set.isDown(id)).toBe(true);
        }
        const withoutVictim = expectedRows(sim, new Set([victim]));
        for (const set of observers) expect(sortedVisibleRows(set)).toEqual(withoutVictim);
        // Everything the victim ever sent, merged while it is down, stays hidden.
        for (const { snapshot } of sim.pool) for (const set of observers) set.merge(snapshot);
        repairAll(sim.sets);
        for (const set of observers) {
          expect(sortedVisibleRows(set)).toEqual(withoutVictim);
          for (const topic of set.topicNames()) expect(set.list(topic).some((e) => e.dot.replica === id)).toBe(false);
        }
        for (const set of observers) {
          const { joins } = set.replicaUp(id);
          expect(joins.length).toBe(sim.models[victim].size);
        }
        for (const set of sim.sets) expect(sortedVisibleRows(set)).toEqual(expectedRows(sim));
      }),
      { numRuns: 150 },
    );
  });

  it("permdown purges a replica and nothing it ever sent resurrects it", () => {
    fc.assert(
      fc.property(historyArb, fc.nat(), fc.boolean(), ({ replicas, commands }, pick, downFirst) => {
        const sim = simulate(replicas, commands);
        const victim = pick % replicas;
        const id = replicaName(victim);
        const observers = sim.sets.filter((_, i) => i !== victim);
        repairAll(sim.sets);
        for (const set of observers) {
          if (downFirst) set.replicaDown(id);
          const { leaves } = set.replicaPermdown(id);
          expect(leaves.length).toBe(downFirst ? 0 : sim.models[victim].size);
          expect(set.isGone(id)).toBe(true);
          expect(set.isDown(id)).toBe(false);
        }
        // Stale deltas, stale states and the victim's current full state all arrive late.
        for (const { snapshot } of sim.pool) for (const set of observers) set.merge(snapshot);
        const victimState = sim.sets[victim].extract();
        for (const set of observers) set.merge(victimState);
        const withoutVictim = expectedRows(sim, new Set([victim]));
        for (const set of observers) {
          expect(sortedVisibleRows(set)).toEqual(withoutVictim);
          expect(set.size).toBe(withoutVictim.length);
          expect(set.extract().entries.some((e) => e.dot.replica === id)).toBe(false);
          expect([...set.extract().context.replicas()]).not.toContain(id);
        }
        // Observers still agree with each other.
        const first = canonicalState(observers[0]).replace(/"kind":"state"/, "");
        for (const set of observers) expect(canonicalState(set).replace(/"kind":"state"/, "")).toBe(first);
      }),
      { numRuns: 150 },
    );
  });
});
