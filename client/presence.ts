/**
 * Presence: the client-side view of who is on a channel, kept in sync from the server's
 * `presence_state` / `presence_diff` pushes. A port of phoenix.js's presence.js with the same API and
 * semantics (docs/presence.md).
 */

/** One meta of a presence: the user's fields plus the refs the server stamps on it. */
export type PresenceMeta<Meta extends object = Record<string, unknown>> = Meta & { phx_ref: string; phx_ref_prev?: string };

/** A presence: its metas (oldest first) plus any fields the server's `fetch/2` added beside them. */
export type PresenceEntry<Meta extends object = Record<string, unknown>> = { metas: PresenceMeta<Meta>[]; [field: string]: unknown };

/** Presences by key. Objects built here have a null prototype, so any key is safe. */
export type PresenceState<Meta extends object = Record<string, unknown>> = Record<string, PresenceEntry<Meta>>;

export type PresenceDiff<Meta extends object = Record<string, unknown>> = { joins: PresenceState<Meta>; leaves: PresenceState<Meta> };

/** `current` is the presence before the join (undefined if the key is new); `joined` holds the joined metas. */
export type PresenceOnJoin<Meta extends object = Record<string, unknown>> = (key: string, current: PresenceEntry<Meta> | undefined, joined: PresenceEntry<Meta>) => void;

/** `current` is the presence with the left metas already removed (possibly none left); `left` holds the left metas. */
export type PresenceOnLeave<Meta extends object = Record<string, unknown>> = (key: string, current: PresenceEntry<Meta>, left: PresenceEntry<Meta>) => void;

export type PresenceOnSync = () => void;

export interface PresenceOpts {
  events?: { state: string; diff: string } | undefined;
}

/** What Presence needs from a Channel. */
export interface PresenceChannel {
  on(event: string, callback: (payload: unknown) => void): unknown;
  joinRef(): string | null | undefined;
}

const noop = () => {};

// JSON deep clone, as phoenix does: callers' objects are never aliased into the state.
const clone = <T>(obj: T): T => JSON.parse(JSON.stringify(obj));

// Own-property order: integer-like keys ascending, then the rest in insertion order (list order depends on it).
const map = <V, R>(obj: Record<string, V>, fn: (key: string, value: V) => R): R[] =>
  Object.getOwnPropertyNames(obj).map((key) => fn(key, obj[key]));

// Presence keys are chosen on the server and may be "__proto__", "constructor", ..., so every object
// indexed by key has no prototype chain.
const nullProto = <T extends object>(obj: T): T => {
  if (Object.getPrototypeOf(obj) === null) return obj;
  const out = Object.create(null);
  map(obj as Record<string, unknown>, (key, value) => (out[key] = value));
  return out;
};

const refs = (presence: PresenceEntry<object>) => presence.metas.map((m) => m.phx_ref);

export class Presence<Meta extends object = Record<string, unknown>> {
  // Kept under phoenix's property names: plain JS code sometimes reads them. `declare` + assignment in the
  // constructor avoids class-field helpers when bundling for older targets.
  private declare state: PresenceState<Meta>;
  private declare pendingDiffs: PresenceDiff<Meta>[];
  private declare channel: PresenceChannel;
  private declare joinRef: string | null | undefined;
  private declare caller: { onJoin: PresenceOnJoin<Meta>; onLeave: PresenceOnLeave<Meta>; onSync: PresenceOnSync };

  constructor(channel: PresenceChannel, opts: PresenceOpts = {}) {
    const events = opts.events || { state: "presence_state", diff: "presence_diff" };
    this.state = Object.create(null);
    this.pendingDiffs = [];
    this.channel = channel;
    this.joinRef = null;
    this.caller = { onJoin: noop, onLeave: noop, onSync: noop };

    channel.on(events.state, (newState) => {
      const { onJoin, onLeave, onSync } = this.caller;
      this.joinRef = this.channel.joinRef();
      this.state = Presence.syncState(this.state, newState as PresenceState<Meta>, onJoin, onLeave);
      // Diffs that arrived before this state (e.g. just after a rejoin) were held back; they apply on top of it.
      this.pendingDiffs.forEach((diff) => {
        this.state = Presence.syncDiff(this.state, diff, onJoin, onLeave);
      });
      this.pendingDiffs = [];
      onSync();
    });

    channel.on(events.diff, (diff) => {
      const { onJoin, onLeave, onSync } = this.caller;
      if (this.inPendingSyncState()) {
        this.pendingDiffs.push(diff as PresenceDiff<Meta>);
      } else {
        this.state = Presence.syncDiff(this.state, diff as PresenceDiff<Meta>, onJoin, onLeave);
        onSync();
      }
    });
  }

  onJoin(callback: PresenceOnJoin<Meta>): void {
    this.caller.onJoin = callback;
  }

  onLeave(callback: PresenceOnLeave<Meta>): void {
    this.caller.onLeave = callback;
  }

  onSync(callback: PresenceOnSync): void {
    this.caller.onSync = callback;
  }

  list<T = PresenceEntry<Meta>>(chooser?: (key: string, presence: PresenceEntry<Meta>) => T): T[] {
    return Presence.list(this.state, chooser);
  }

  /** True until the `presence_state` of the current join arrives; diffs are held meanwhile. */
  inPendingSyncState(): boolean {
    return !this.joinRef || this.joinRef !== this.channel.joinRef();
  }

  /**
   * Syncs a full state from the server into `currentState` (not modified), calling onJoin/onLeave for the
   * metas that appeared/disappeared by `phx_ref`. Returns the new state.
   */
  static syncState<M extends object>(
    currentState: PresenceState<M>,
    newState: PresenceState<M>,
    onJoin?: PresenceOnJoin<M>,
    onLeave?: PresenceOnLeave<M>,
  ): PresenceState<M> {
    const state = nullProto(clone(currentState));
    const next = nullProto(newState);
    const joins: PresenceState<M> = Object.create(null);
    const leaves: PresenceState<M> = Object.create(null);

    map(state, (key, presence) => {
      if (!next[key]) leaves[key] = presence;
    });
    map(next, (key, newPresence) => {
      const current = state[key];
      if (current) {
        const newRefs = refs(newPresence);
        const curRefs = refs(current);
        const joinedMetas = newPresence.metas.filter((m) => curRefs.indexOf(m.phx_ref) < 0);
        const leftMetas = current.metas.filter((m) => newRefs.indexOf(m.phx_ref) < 0);
        // phoenix assigns joinedMetas onto the caller's newState entry (mutating e.g. the channel payload);
        // a copy gives the same result, since syncDiff clones the diff anyway.
        if (joinedMetas.length > 0) joins[key] = { ...newPresence, metas: joinedMetas };
        if (leftMetas.length > 0) leaves[key] = { ...current, metas: leftMetas };
      } else {
        joins[key] = newPresence;
      }
    });
    return Presence.syncDiff(state, { joins, leaves }, onJoin, onLeave);
  }

  /**
   * Applies a diff to `state` and returns it. As in phoenix, a null-prototype `state` is updated in
   * place (and a plain one shallow-copied), so always use the return value.
   * Joins run before leaves, so an update (leave old ref + join new ref) ends with the new meta only.
   */
  static syncDiff<M extends object>(
    state: PresenceState<M>,
    diff: PresenceDiff<M>,
    onJoin?: PresenceOnJoin<M>,
    onLeave?: PresenceOnLeave<M>,
  ): PresenceState<M> {
    state = nullProto(state);
    const { joins, leaves } = clone(diff);

    map(joins, (key, newPresence) => {
      const current = state[key];
      const joined = (state[key] = clone(newPresence));
      if (current) {
        // Metas this key already had stay, in front: metas run oldest first.
        const joinedRefs = refs(joined);
        joined.metas.unshift(...current.metas.filter((m) => joinedRefs.indexOf(m.phx_ref) < 0));
      }
      (onJoin || noop)(key, current, newPresence);
    });
    map(leaves, (key, leftPresence) => {
      const current = state[key];
      if (!current) return;
      const refsToRemove = refs(leftPresence);
      current.metas = current.metas.filter((m) => refsToRemove.indexOf(m.phx_ref) < 0);
      // Fires even when no ref matched.
      (onLeave || noop)(key, current, leftPresence);
      if (current.metas.length === 0) delete state[key];
    });
    return state;
  }

  /** Maps the presences in own-property order (integer-like keys first), by default to the entries themselves. */
  static list<M extends object, T = PresenceEntry<M>>(
    presences: PresenceState<M>,
    chooser?: (key: string, presence: PresenceEntry<M>) => T,
  ): T[] {
    return map(presences, chooser || ((_key, presence) => presence as T));
  }
}
