import type { ReplicaId } from "./replica-id.js";

/** A version vector: for each replica, the highest contiguous counter observed. Missing = 0. */
export type VectorClock = ReadonlyMap<ReplicaId, number>;

export type ClockOrder = "before" | "after" | "equal" | "concurrent";

function at(clock: VectorClock, replica: ReplicaId): number {
  return clock.get(replica) ?? 0;
}

/** True when every entry of `b` is ≤ the same entry of `a` (so `a` has seen all `b` has). */
export function dominates(a: VectorClock, b: VectorClock): boolean {
  for (const [replica, counter] of b) {
    if (counter > at(a, replica)) return false;
  }
  return true;
}

/** How `a` relates to `b`: "before" means a < b. */
export function compareClocks(a: VectorClock, b: VectorClock): ClockOrder {
  const aCoversB = dominates(a, b);
  const bCoversA = dominates(b, a);
  if (aCoversB && bCoversA) return "equal";
  if (aCoversB) return "after";
  if (bCoversA) return "before";
  return "concurrent";
}

/** Pointwise maximum. */
export function upperBound(a: VectorClock, b: VectorClock): Map<ReplicaId, number> {
  const result = new Map(a);
  for (const [replica, counter] of b) {
    if (counter > at(result, replica)) result.set(replica, counter);
  }
  return result;
}

/** The clock restricted to replicas accepted by `keep`. */
export function projectClock(clock: VectorClock, keep: (replica: ReplicaId) => boolean): Map<ReplicaId, number> {
  const result = new Map<ReplicaId, number>();
  for (const [replica, counter] of clock) if (keep(replica)) result.set(replica, counter);
  return result;
}
