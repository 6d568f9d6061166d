import { describe, expect, it } from "vitest";
import { Presence, type PresenceChannel, type PresenceEntry, type PresenceState } from "../../client/presence.js";

type Ref = string | null | undefined;
type Callback = (payload: unknown, ref: Ref, joinRef: Ref) => void;

/** A channel stub shaped like our Channel: settable join ref, `trigger` runs the bindings. */
class FakeChannel {
  ref = 1;
  bindings: { event: string; callback: Callback }[] = [];
  on(event: string, callback: Callback): number {
    return this.bindings.push({ event, callback });
  }
  joinRef(): string | null {
    return `${this.ref}`;
  }
  trigger(event: string, payload: unknown): void {
    for (const b of this.bindings) if (b.event === event) b.callback(payload, null, this.joinRef());
  }
  simulateDisconnectAndReconnect(): void {
    this.ref++;
  }
}

// Our Channel must be usable wherever Presence wants a channel (checked by tsc, not at run time).
const asPresenceChannel = (channel: FakeChannel): PresenceChannel => channel;

const clone = <T>(obj: T): T => JSON.parse(JSON.stringify(obj));
const listByFirst = (_key: string, { metas: [first] }: PresenceEntry) => first;

const fixtures = {
  joins: () => ({ u1: { metas: [{ id: 1, phx_ref: "1.2" }] } }),
  leaves: () => ({ u2: { metas: [{ id: 2, phx_ref: "2" }] } }),
  state: () => ({
    u1: { metas: [{ id: 1, phx_ref: "1" }] },
    u2: { metas: [{ id: 2, phx_ref: "2" }] },
    u3: { metas: [{ id: 3, phx_ref: "3" }] },
  }),
};

/** Records callback arguments, snapshotted when called (Presence mutates the objects it passes later on). */
const recorder = () => {
  const calls: unknown[][] = [];
  const onJoin = (...args: unknown[]) => void calls.push(["join", ...clone(args)]);
  const onLeave = (...args: unknown[]) => void calls.push(["leave", ...clone(args)]);
  return { calls, onJoin, onLeave };
};

describe("syncState", () => {
  it("does not modify the current state and returns the new one", () => {
    const newState = { u1: { metas: [{ id: 1, phx_ref: "1" }] } };
    const state = {};
    expect(Presence.syncState(state, newState)).toEqual(newState);
    expect(state).toEqual({});
  });

  it("calls onJoin for new keys and onLeave for keys that are gone", () => {
    const { calls, onJoin, onLeave } = recorder();
    const state = Presence.syncState({ u4: { metas: [{ id: 4, phx_ref: "4" }] } }, fixtures.state(), onJoin, onLeave);
    expect(state).toEqual(fixtures.state());
    // JSON turns the `undefined` current presence into null.
    expect(calls).toEqual([
      ["join", "u1", null, { metas: [{ id: 1, phx_ref: "1" }] }],
      ["join", "u2", null, { metas: [{ id: 2, phx_ref: "2" }] }],
      ["join", "u3", null, { metas: [{ id: 3, phx_ref: "3" }] }],
      ["leave", "u4", { metas: [] }, { metas: [{ id: 4, phx_ref: "4" }] }],
    ]);
  });

  it("joins only the newly added metas and leaves only the missing ones, by phx_ref", () => {
    const { calls, onJoin, onLeave } = recorder();
    const current = { u3: { metas: [{ id: 3, phx_ref: "3" }, { id: 3, phx_ref: "3.old" }] } };
    const newState = { u3: { metas: [{ id: 3, phx_ref: "3" }, { id: 3, phx_ref: "3.new" }] } };
    const state = Presence.syncState(current, newState, onJoin, onLeave);
    expect(state).toEqual(newState);
    expect(calls).toEqual([
      ["join", "u3", { metas: [{ id: 3, phx_ref: "3" }, { id: 3, phx_ref: "3.old" }] }, { metas: [{ id: 3, phx_ref: "3.new" }] }],
      ["leave", "u3", { metas: [{ id: 3, phx_ref: "3" }, { id: 3, phx_ref: "3.new" }] }, { metas: [{ id: 3, phx_ref: "3.old" }] }],
    ]);
  });

  it("calls nothing when the refs are unchanged, even if the meta fields changed", () => {
    const { calls, onJoin, onLeave } = recorder();
    const state = Presence.syncState({ u: { metas: [{ v: 1, phx_ref: "1" }] } }, { u: { metas: [{ v: 2, phx_ref: "1" }] } }, onJoin, onLeave);
    expect(calls).toEqual([]);
    // ...and the current meta is kept, since the state is only changed through the diff.
    expect(state).toEqual({ u: { metas: [{ v: 1, phx_ref: "1" }] } });
  });

  it("leaves the caller's newState untouched (phoenix reassigns its metas) and aliases none of it", () => {
    const newState = { u: { metas: [{ id: 1, phx_ref: "1" }, { id: 2, phx_ref: "2" }] } };
    const before = clone(newState);
    const state = Presence.syncState({ u: { metas: [{ id: 1, phx_ref: "1" }] } }, newState);
    expect(newState).toEqual(before);
    newState.u.metas[1]!.id = 99;
    expect(state).toEqual(before);
  });
});

describe("syncDiff", () => {
  it("syncs into an empty state, returning a null-prototype object", () => {
    const joins = { u1: { metas: [{ id: 1, phx_ref: "1" }] } };
    const state = Presence.syncDiff({}, { joins, leaves: {} });
    expect(state).toEqual(joins);
    expect(Object.getPrototypeOf(state)).toBe(null);
  });

  it("removes a presence with no metas left and appends joined metas after the existing ones", () => {
    const state = Presence.syncDiff(fixtures.state(), { joins: fixtures.joins(), leaves: fixtures.leaves() });
    expect(state).toEqual({
      u1: { metas: [{ id: 1, phx_ref: "1" }, { id: 1, phx_ref: "1.2" }] },
      u3: { metas: [{ id: 3, phx_ref: "3" }] },
    });
    expect(Object.getOwnPropertyNames(state)).toEqual(["u1", "u3"]);
  });

  it("removes a meta but keeps the key while other metas exist", () => {
    const state = Presence.syncDiff(
      { u1: { metas: [{ id: 1, phx_ref: "1" }, { id: 1, phx_ref: "1.2" }] } },
      { joins: {}, leaves: { u1: { metas: [{ id: 1, phx_ref: "1" }] } } },
    );
    expect(state).toEqual({ u1: { metas: [{ id: 1, phx_ref: "1.2" }] } });
  });

  it("update (leave old ref + join new ref) ends with only the new meta, joins before leaves", () => {
    const { calls, onJoin, onLeave } = recorder();
    const state = Presence.syncDiff(
      { u2: { metas: [{ name: "chris", phx_ref: "2" }] } },
      {
        joins: { u2: { metas: [{ name: "chris.2", phx_ref: "2.2", phx_ref_prev: "2" }] } },
        leaves: { u2: { metas: [{ name: "chris", phx_ref: "2" }] } },
      },
      onJoin,
      onLeave,
    );
    expect(state).toEqual({ u2: { metas: [{ name: "chris.2", phx_ref: "2.2", phx_ref_prev: "2" }] } });
    expect(calls).toEqual([
      ["join", "u2", { metas: [{ name: "chris", phx_ref: "2" }] }, { metas: [{ name: "chris.2", phx_ref: "2.2", phx_ref_prev: "2" }] }],
      ["leave", "u2", { metas: [{ name: "chris.2", phx_ref: "2.2", phx_ref_prev: "2" }] }, { metas: [{ name: "chris", phx_ref: "2" }] }],
    ]);
  });

  it("a joined meta replaces an existing meta with the same ref, older metas first", () => {
    const state = Presence.syncDiff(
      { u: { metas: [{ v: 1, phx_ref: "a" }, { v: 1, phx_ref: "b" }] } },
      { joins: { u: { metas: [{ v: 2, phx_ref: "a" }, { v: 2, phx_ref: "c" }] } }, leaves: {} },
    );
    expect(state.u!.metas).toEqual([{ v: 1, phx_ref: "b" }, { v: 2, phx_ref: "a" }, { v: 2, phx_ref: "c" }]);
  });

  it("calls onLeave even when no ref matched, and not at all for an absent key", () => {
    const { calls, onJoin, onLeave } = recorder();
    const state = Presence.syncDiff(
      { u: { metas: [{ phx_ref: "1" }] } },
      { joins: {}, leaves: { u: { metas: [{ phx_ref: "nope" }] }, absent: { metas: [{ phx_ref: "1" }] } } },
      onJoin,
      onLeave,
    );
    expect(state).toEqual({ u: { metas: [{ phx_ref: "1" }] } });
    expect(calls).toEqual([["leave", "u", { metas: [{ phx_ref: "1" }] }, { metas: [{ phx_ref: "nope" }] }]]);
  });

  it("keeps fields that fetch/2 put beside metas", () => {
    const state = Presence.syncDiff({}, { joins: { u: { metas: [{ phx_ref: "1" }], user: { name: "ann" } } }, leaves: {} });
    expect(Presence.list(state, (_k, p) => p.user)).toEqual([{ name: "ann" }]);
  });

  it("clones the diff, so the caller's objects are not aliased into the state", () => {
    const diff = { joins: { u: { metas: [{ id: 1, phx_ref: "1" }] } }, leaves: {} };
    const state = Presence.syncDiff({}, diff);
    diff.joins.u.metas[0]!.id = 2;
    expect(state).toEqual({ u: { metas: [{ id: 1, phx_ref: "1" }] } });
  });

  it("updates a null-prototype state in place, like phoenix", () => {
    const state: PresenceState = Presence.syncDiff({}, { joins: { a: { metas: [{ phx_ref: "1" }] } }, leaves: {} });
    const same = Presence.syncDiff(state, { joins: { b: { metas: [{ phx_ref: "2" }] } }, leaves: {} });
    expect(same).toBe(state);
    expect(Object.keys(state)).toEqual(["a", "b"]);
  });

  it("works without callbacks (undefined or null)", () => {
    const diff = { joins: { u: { metas: [{ phx_ref: "1" }] } }, leaves: { u: { metas: [{ phx_ref: "0" }] } } };
    expect(Presence.syncDiff({}, diff)).toEqual({ u: { metas: [{ phx_ref: "1" }] } });
    // Plain JS callers pass null; phoenix treats any falsy callback as none.
    const nil = null as unknown as undefined;
    expect(Presence.syncDiff({}, diff, nil, nil)).toEqual({ u: { metas: [{ phx_ref: "1" }] } });
  });
});

describe("keys colliding with Object.prototype properties", () => {
  // JSON.parse makes "__proto__" an own key, as a decoded channel payload would.
  const payload = (keys: string[]): PresenceState<{ id: string }> =>
    JSON.parse(JSON.stringify(Object.fromEntries(keys.map((k, i) => [k, { metas: [{ id: k, phx_ref: `${i}` }] }]))));
  const keys = ["__proto__", "constructor", "hasOwnProperty", "toString"];

  it("syncState and list treat them as ordinary keys", () => {
    const newState = payload(keys);
    expect(Object.getOwnPropertyNames(newState)).toEqual(keys);
    const { calls, onJoin, onLeave } = recorder();
    const state = Presence.syncState({}, newState, onJoin, onLeave);
    expect(Object.getPrototypeOf(state)).toBe(null);
    expect(Presence.list(state, (key, p) => [key, p.metas[0]!.id])).toEqual(keys.map((k) => [k, k]));
    expect(calls.map((c) => c[1])).toEqual(keys);

    // A second sync against the same keys sees them as present, not as inherited junk.
    const { calls: again, onJoin: j2, onLeave: l2 } = recorder();
    const next = Presence.syncState(state, payload(["constructor", "__proto__"]), j2, l2);
    // Joins (in newState order) come before leaves (gone keys first, in state order).
    expect(again).toEqual([
      ["join", "constructor", { metas: [{ id: "constructor", phx_ref: "1" }] }, { metas: [{ id: "constructor", phx_ref: "0" }] }],
      ["join", "__proto__", { metas: [{ id: "__proto__", phx_ref: "0" }] }, { metas: [{ id: "__proto__", phx_ref: "1" }] }],
      ["leave", "hasOwnProperty", { metas: [] }, { metas: [{ id: "hasOwnProperty", phx_ref: "2" }] }],
      ["leave", "toString", { metas: [] }, { metas: [{ id: "toString", phx_ref: "3" }] }],
      ["leave", "constructor", { metas: [{ id: "constructor", phx_ref: "0" }] }, { metas: [{ id: "constructor", phx_ref: "1" }] }],
      ["leave", "__proto__", { metas: [{ id: "__proto__", phx_ref: "1" }] }, { metas: [{ id: "__proto__", phx_ref: "0" }] }],
    ]);
    expect(Object.getOwnPropertyNames(next)).toEqual(["__proto__", "constructor"]);
  });

  it("syncDiff joins and leaves them without touching Object.prototype", () => {
    let state = Presence.syncDiff({}, { joins: payload(keys), leaves: {} });
    expect(Object.getOwnPropertyNames(state)).toEqual(keys);
    state = Presence.syncDiff(state, { joins: {}, leaves: payload(["__proto__", "constructor"]) });
    expect(Object.getOwnPropertyNames(state)).toEqual(["hasOwnProperty", "toString"]);
    // A leave for a key that is absent must not pick up an inherited property.
    const { calls, onJoin, onLeave } = recorder();
    state = Presence.syncDiff(state, { joins: {}, leaves: payload(["__proto__", "constructor"]) }, onJoin, onLeave);
    expect(calls).toEqual([]);
    expect(Object.getOwnPropertyNames(state)).toEqual(["hasOwnProperty", "toString"]);
    expect(({} as Record<string, unknown>).metas).toBeUndefined();
    expect(typeof Object.prototype.hasOwnProperty).toBe("function");
  });
});

describe("list", () => {
  it("lists full presences by default", () => {
    expect(Presence.list(fixtures.state())).toEqual(Object.values(fixtures.state()));
  });

  it("lists with a chooser, passing key and presence", () => {
    const state = { u1: { metas: [{ id: 1, phx_ref: "1.first" }, { id: 1, phx_ref: "1.second" }] }, u2: { metas: [{ id: 2, phx_ref: "2" }] } };
    expect(Presence.list(state, listByFirst)).toEqual([{ id: 1, phx_ref: "1.first" }, { id: 2, phx_ref: "2" }]);
    expect(Presence.list(state, (key, p) => `${key}:${p.metas.length}`)).toEqual(["u1:2", "u2:1"]);
  });

  it("orders integer-like keys first, ascending, then the rest in insertion order", () => {
    const keys = ["b", "10", "a", "2", "-1", "1", "01", "4294967295", "0"];
    const joins = Object.fromEntries(keys.map((k) => [k, { metas: [{ phx_ref: k }] }]));
    const state = Presence.syncDiff({}, { joins, leaves: {} });
    // "-1", "01" and 2^32-1 are not array indices, so they stay in insertion order.
    const expected = ["0", "1", "2", "10", "b", "a", "-1", "01", "4294967295"];
    expect(Presence.list(state, (key) => key)).toEqual(expected);
    // Same through syncState, and a key that leaves and re-joins moves to the end of the non-integer keys.
    const synced = Presence.syncState({}, clone(joins));
    expect(Presence.list(synced, (key) => key)).toEqual(expected);
    let next = Presence.syncDiff(synced, { joins: {}, leaves: { b: { metas: [{ phx_ref: "b" }] } } });
    next = Presence.syncDiff(next, { joins: { b: { metas: [{ phx_ref: "b2" }] } }, leaves: {} });
    expect(Presence.list(next, (key) => key)).toEqual(["0", "1", "2", "10", "a", "-1", "01", "4294967295", "b"]);
  });
});

describe("instance", () => {
  it("syncs state and diffs", () => {
    const channel = new FakeChannel();
    const presence = new Presence(asPresenceChannel(channel));
    const user1 = { metas: [{ id: 1, phx_ref: "1" }] };
    const user2 = { metas: [{ id: 2, phx_ref: "2" }] };
    channel.trigger("presence_state", { u1: user1, u2: user2 });
    expect(presence.list(listByFirst)).toEqual([{ id: 1, phx_ref: "1" }, { id: 2, phx_ref: "2" }]);
    channel.trigger("presence_diff", { joins: {}, leaves: { u1: user1 } });
    expect(presence.list(listByFirst)).toEqual([{ id: 2, phx_ref: "2" }]);
    expect(presence.list()).toEqual([user2]);
  });

  it("applies pending diff if state is not yet synced", () => {
    const channel = new FakeChannel();
    const presence = new Presence(channel);
    const { calls, onJoin, onLeave } = recorder();
    presence.onJoin(onJoin);
    presence.onLeave(onLeave);

    // new connection
    const user1 = { metas: [{ id: 1, phx_ref: "1" }] };
    const user2 = { metas: [{ id: 2, phx_ref: "2" }] };
    const user3 = { metas: [{ id: 3, phx_ref: "3" }] };
    const leaves = { u2: user2 };

    channel.trigger("presence_diff", { joins: {}, leaves });
    expect(presence.list(listByFirst)).toEqual([]);
    expect(calls).toEqual([]);
    expect(presence.inPendingSyncState()).toBe(true);

    channel.trigger("presence_state", { u1: user1, u2: user2 });
    expect(calls).toEqual([
      ["join", "u1", null, { metas: [{ id: 1, phx_ref: "1" }] }],
      ["join", "u2", null, { metas: [{ id: 2, phx_ref: "2" }] }],
      ["leave", "u2", { metas: [] }, { metas: [{ id: 2, phx_ref: "2" }] }],
    ]);
    expect(presence.list(listByFirst)).toEqual([{ id: 1, phx_ref: "1" }]);

    // disconnect and reconnect: the old state stays visible, diffs wait for the new state
    expect(presence.inPendingSyncState()).toBe(false);
    channel.simulateDisconnectAndReconnect();
    expect(presence.inPendingSyncState()).toBe(true);

    channel.trigger("presence_diff", { joins: {}, leaves: { u1: user1 } });
    expect(presence.list(listByFirst)).toEqual([{ id: 1, phx_ref: "1" }]);

    channel.trigger("presence_state", { u1: user1, u3: user3 });
    expect(presence.list(listByFirst)).toEqual([{ id: 3, phx_ref: "3" }]);
    expect(presence.inPendingSyncState()).toBe(false);
  });

  it("is pending until the first state even if the channel has no join ref yet", () => {
    const channel = new FakeChannel();
    channel.joinRef = () => null;
    const presence = new Presence(channel);
    expect(presence.inPendingSyncState()).toBe(true);
    channel.trigger("presence_state", {});
    // joinRef null never counts as synced
    expect(presence.inPendingSyncState()).toBe(true);
  });

  it("calls onSync once per state and per applied diff, not for held diffs", () => {
    const channel = new FakeChannel();
    const presence = new Presence(channel);
    let syncs = 0;
    presence.onSync(() => syncs++);
    channel.trigger("presence_diff", { joins: { a: { metas: [{ phx_ref: "1" }] } }, leaves: {} });
    channel.trigger("presence_diff", { joins: { b: { metas: [{ phx_ref: "2" }] } }, leaves: {} });
    expect(syncs).toBe(0);
    channel.trigger("presence_state", {});
    expect(syncs).toBe(1);
    expect(presence.list((key) => key)).toEqual(["a", "b"]);
    channel.trigger("presence_diff", { joins: {}, leaves: {} });
    expect(syncs).toBe(2);
    channel.trigger("presence_state", {});
    expect(syncs).toBe(3);
    expect(presence.list()).toEqual([]);
  });

  it("update (leave + join) keeps the single new meta and reports it", () => {
    const channel = new FakeChannel();
    const presence = new Presence<{ id: number; name?: string }>(channel);
    channel.trigger("presence_state", { u1: { metas: [{ id: 1, phx_ref: "1" }] }, u2: { metas: [{ id: 2, name: "chris", phx_ref: "2" }] } });
    const { calls, onJoin, onLeave } = recorder();
    presence.onJoin(onJoin);
    presence.onLeave(onLeave);

    const joined = { metas: [{ id: 2, name: "chris.2", phx_ref: "2.2", phx_ref_prev: "2" }] };
    channel.trigger("presence_diff", { joins: { u2: joined }, leaves: { u2: { metas: [{ id: 2, name: "chris", phx_ref: "2" }] } } });
    expect(presence.list((_id, { metas }) => metas)).toEqual([[{ id: 1, phx_ref: "1" }], joined.metas]);
    expect(calls).toEqual([
      ["join", "u2", { metas: [{ id: 2, name: "chris", phx_ref: "2" }] }, joined],
      ["leave", "u2", joined, { metas: [{ id: 2, name: "chris", phx_ref: "2" }] }],
    ]);
  });

  it("allows custom channel events", () => {
    const channel = new FakeChannel();
    const presence = new Presence(channel, { events: { state: "the_state", diff: "the_diff" } });
    const user1 = { metas: [{ id: 1, phx_ref: "1" }] };
    channel.trigger("presence_state", { ignored: user1 });
    channel.trigger("the_state", { user1 });
    expect(presence.list(listByFirst)).toEqual([{ id: 1, phx_ref: "1" }]);
    channel.trigger("the_diff", { joins: {}, leaves: { user1 } });
    expect(presence.list(listByFirst)).toEqual([]);
  });

  it("does not modify the payloads other bindings on the channel see", () => {
    const channel = new FakeChannel();
    const presence = new Presence(channel);
    channel.trigger("presence_state", { u: { metas: [{ phx_ref: "1" }] } });
    const payload = { u: { metas: [{ phx_ref: "1" }, { phx_ref: "2" }] } };
    channel.trigger("presence_state", payload);
    expect(payload).toEqual({ u: { metas: [{ phx_ref: "1" }, { phx_ref: "2" }] } });
    expect(presence.list()).toEqual([payload.u]);
  });
});
