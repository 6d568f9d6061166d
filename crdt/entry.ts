import type { ReadonlyCausalContext } from "./causal-context.js";
import type { Dot } from "./dot.js";

/** Application data attached to one presence. Treated as immutable once stored. */
export type PresenceMeta = Readonly<Record<string, unknown>>;

/**
 * One tracked presence. `(topic, owner, key)` is what the application tracks; the dot
 * is the identity of this particular add, so two concurrent adds of the same triple on
 * two replicas are two entries (add-wins, nothing silently overwritten).
 */
export interface PresenceEntry {
  readonly topic: string;
  readonly key: string;
  /** Who holds the presence on its replica, e.g. a socket id. Only meaningful on that replica. */
  readonly owner: string;
  readonly meta: PresenceMeta;
  readonly dot: Dot;
}

/** Visible entries a change added and removed, so callers can report diffs. */
export interface PresenceChanges {
  readonly joins: PresenceEntry[];
  readonly leaves: PresenceEntry[];
}

/**
 * A dot store: entries plus the causal context that says which dots the sender has
 * observed. A dot in the context without an entry means "seen and removed".
 * `delta` is what one replica produced since its last heartbeat; `state` is a (possibly
 * restricted) full state for a transfer. Both merge the same way.
 */
export interface PresenceSnapshot {
  readonly kind: "delta" | "state";
  readonly entries: readonly PresenceEntry[];
  readonly context: ReadonlyCausalContext;
}
