import { decode, encode } from "@msgpack/msgpack";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PresenceSet, WireFormatError, clockFromWire, clockToWire, fromWire, toWire } from "../../crdt/index.js";
import { canonicalSnapshot, historyArb, simulate } from "./simulation.js";

describe("wire encoding", () => {
  it("round-trips every delta and state through msgpack unchanged", () => {
    fc.assert(
      fc.property(historyArb, ({ replicas, commands }) => {
        const sim = simulate(replicas, commands);
        for (const snapshot of [...sim.pool.map((p) => p.snapshot), ...sim.sets.map((s) => s.extract())]) {
          const decoded = fromWire(decode(encode(toWire(snapshot))));
          expect(canonicalSnapshot(decoded)).toBe(canonicalSnapshot(snapshot));
          expect(decoded.kind).toBe(snapshot.kind);
        }
      }),
      { numRuns: 100 },
    );
  });

  it("round-trips clocks, keeping zero entries", () => {
    const clock = new Map([["b#1", 0], ["a#1", 3]]);
    expect(clockToWire(clock)).toEqual([["a#1", 3], ["b#1", 0]]);
    expect(clockFromWire(clockToWire(clock))).toEqual(clock);
    expect(() => clockFromWire([["a#1", -1]])).toThrow(WireFormatError);
  });

  it("rejects malformed input with a clear error", () => {
    const set = new PresenceSet("a#1");
    set.join("t", "k", "s", { n: 1 });
    const good = toWire(set.extract());
    const bad: Array<[unknown, RegExp]> = [
      [null, /snapshot must be an object/],
      [{ ...good, v: 2 }, /unsupported version/],
      [{ ...good, kind: "other" }, /kind/],
      [{ ...good, replicas: ["no-hash"] }, /not a replica id/],
      [{ ...good, clock: [-1] }, /clock\[0\]/],
      [{ ...good, cloud: [[0]] }, /non-counter/],
      [{ ...good, entries: [[5, 1, "t", "k", "s", {}]] }, /replica index/],
      [{ ...good, entries: [[0, 9, "t", "k", "s", {}]] }, /outside the context/],
      [{ ...good, entries: [[0, 1, "t", "k", "s", [1]]] }, /meta must be an object/],
      [{ ...good, entries: [[0, 1, "t", 7, "s", {}]] }, /must be strings/],
      [{ ...good, entries: [good.entries[0], good.entries[0]] }, /repeats a dot/],
    ];
    for (const [input, message] of bad) expect(() => fromWire(input)).toThrow(message);
  });
});
