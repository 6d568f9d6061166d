/**
 * Differential property tests: our Presence against phoenix.js's own, on random states and diffs whose
 * keys and refs come from small pools (so joins, leaves and updates collide often), including keys that
 * collide with Object.prototype and integer-like keys that reorder.
 */
import fc from "fast-check";
import { Presence as PhoenixPresence } from "phoenix";
import { describe, expect, it } from "vitest";
import { Presence, type PresenceChannel, type PresenceDiff, type PresenceState } from "../../client/presence.js";

const KEYS = ["__proto__", "1", "10", "2", "constructor", "hasOwnProperty", "a", "b"];
const REFS = ["r1", "r2", "r3", "r4"];
const RUNS = 300;

type Obj = Record<string, unknown>;

/** Builds an object with own properties in the given order ("__proto__" included), optionally null-prototype. */
const build = (pairs: [string, unknown][], nullProto: boolean): Obj => {
  const obj: Obj = nullProto ? Object.create(null) : {};
  for (const [k, v] of pairs) Object.defineProperty(obj, k, { value: v, enumerable: true, writable: true, configurable: true });
  return obj;
};

/** Deep copy keeping own-key order and null prototypes, so each implementation gets its own input. */
const dup = <T>(v: T): T => {
  if (Array.isArray(v)) return v.map(dup) as T;
  if (v && typeof v === "object") {
    const o = v as Obj;
    return build(Object.getOwnPropertyNames(o).map((k) => [k, dup(o[k])]), Object.getPrototypeOf(o) === null) as T;
  }
  return v;
};

/** A comparable picture of a value: key order and null prototypes are part of it. */
const snap = (v: unknown): unknown => {
  if (Array.isArray(v)) return v.map(snap);
  if (v && typeof v === "object") {
    const o = v as Obj;
    return { nullProto: Object.getPrototypeOf(o) === null, entries: Object.getOwnPropertyNames(o).map((k) => [k, snap(o[k])]) };
  }
  return v;
};

const metaArb = fc
  .record({ phx_ref: fc.constantFrom(...REFS), v: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.constant(undefined)) }, { requiredKeys: ["phx_ref"] })
  .chain((m) => fc.option(fc.constantFrom(...REFS), { nil: undefined }).map((prev) => (prev ? { ...m, phx_ref_prev: prev } : m)));
const entryArb = fc
  .tuple(fc.array(metaArb, { maxLength: 3 }), fc.option(fc.integer({ min: 0, max: 9 }), { nil: undefined }))
  .map(([metas, extra]) => (extra === undefined ? { metas } : { metas, extra }));
const stateArb = fc
  .tuple(fc.array(fc.tuple(fc.constantFrom(...KEYS), entryArb), { maxLength: 6 }), fc.boolean())
  .map(([pairs, nullProto]) => build(pairs, nullProto) as PresenceState);
const diffArb = fc.record({ joins: stateArb, leaves: stateArb }) as fc.Arbitrary<PresenceDiff>;

/** onJoin/onLeave that log their arguments (all of them, snapshotted when called). */
const recorder = () => {
  const log: unknown[] = [];
  return {
    log,
    onJoin: (...args: unknown[]) => void log.push(["join", ...args.map(snap)]),
    onLeave: (...args: unknown[]) => void log.push(["leave", ...args.map(snap)]),
  };
};

// phoenix's Presence, typed loosely (its @types use `object`/`any`).
type Statics = {
  syncState(a: Obj, b: Obj, j?: unknown, l?: unknown): Obj;
  syncDiff(a: Obj, b: Obj, j?: unknown, l?: unknown): Obj;
  list(a: Obj, c?: (k: string, p: unknown) => unknown): unknown[];
};
const theirs = PhoenixPresence as unknown as Statics;
const ours = Presence as unknown as Statics;

type Step = { kind: "state"; state: PresenceState } | { kind: "diff"; diff: PresenceDiff };
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  stateArb.map((state) => ({ kind: "state" as const, state })),
  diffArb.map((diff) => ({ kind: "diff" as const, diff })),
);

/** Runs a sequence of syncState/syncDiff/list calls and returns everything observable about it. */
const runStatics = (impl: Statics, start: Obj, steps: Step[]) => {
  const rec = recorder();
  const trace: unknown[] = [];
  let state = start;
  for (const step of steps) {
    if (step.kind === "state") {
      const before = state;
      state = impl.syncState(before, step.state, rec.onJoin, rec.onLeave);
      // syncState must leave the current state alone (it clones it first).
      trace.push(["state-input-after", snap(before)]);
    } else {
      const before = state;
      state = impl.syncDiff(before, step.diff, rec.onJoin, rec.onLeave);
      // syncDiff updates a null-prototype state in place; ours must do the same to the same objects.
      trace.push(["diff-input-after", snap(before), snap(step.diff)]);
    }
    trace.push(["state", snap(state)]);
    trace.push(["list", snap(impl.list(state))]);
    const chosen: unknown[] = [];
    impl.list(state, (...args) => chosen.push(args.map(snap)));
    trace.push(["chooser-args", chosen]);
  }
  return { trace, callbacks: rec.log };
};

type Callback = (payload: unknown, ref: string | null | undefined, joinRef: string | null | undefined) => void;
class FakeChannel {
  ref = 1;
  bindings: [string, Callback][] = [];
  on(event: string, callback: Callback): number {
    return this.bindings.push([event, callback]);
  }
  joinRef(): string | null {
    return this.ref === 0 ? null : `${this.ref}`;
  }
  trigger(event: string, payload: unknown): void {
    for (const [e, cb] of this.bindings) if (e === event) cb(payload, null, this.joinRef());
  }
}

type Event = Step | { kind: "rejoin"; ref: number };
const eventArb: fc.Arbitrary<Event> = fc.oneof(
  { weight: 3, arbitrary: stepArb },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 3 }).map((ref) => ({ kind: "rejoin" as const, ref })) },
);

/** Drives a Presence instance through channel events and returns everything observable about it. */
const runInstance = (make: (channel: PresenceChannel) => Presence | PhoenixPresence, events: Event[]) => {
  const channel = new FakeChannel();
  const presence = make(channel);
  const rec = recorder();
  let syncs = 0;
  presence.onJoin(rec.onJoin);
  presence.onLeave(rec.onLeave);
  presence.onSync(() => void rec.log.push(["sync", ++syncs]));
  const trace: unknown[] = [];
  for (const event of events) {
    if (event.kind === "rejoin") channel.ref = event.ref;
    else if (event.kind === "state") channel.trigger("presence_state", dup(event.state));
    else channel.trigger("presence_diff", dup(event.diff));
    trace.push([presence.inPendingSyncState(), snap(presence.list()), snap(presence.list((key) => key))]);
  }
  return { trace, callbacks: rec.log };
};

describe("Presence matches phoenix.js (differential)", () => {
  it("imports phoenix's own Presence", () => {
    expect(typeof PhoenixPresence.syncDiff).toBe("function");
  });

  it("syncState / syncDiff / list: same states, key order, callbacks and input mutations", () => {
    fc.assert(
      fc.property(stateArb, fc.array(stepArb, { maxLength: 6 }), (start, steps) => {
        const expected = runStatics(theirs, dup(start), dup(steps));
        const actual = runStatics(ours, dup(start), dup(steps));
        expect(actual).toEqual(expected);
      }),
      { numRuns: RUNS },
    );
  });

  it("instances: same lists, pending-sync state and callback sequences across rejoins", () => {
    fc.assert(
      fc.property(fc.array(eventArb, { maxLength: 10 }), (events) => {
        const expected = runInstance((ch) => new PhoenixPresence(ch as never), events);
        const actual = runInstance((ch) => new Presence(ch), events);
        expect(actual).toEqual(expected);
      }),
      { numRuns: RUNS },
    );
  });
});
