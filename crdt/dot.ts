import type { ReplicaId } from "./replica-id.js";

/** A dot is the unique tag of one event: the n-th event created by one replica (n ≥ 1). */
export interface Dot {
  readonly replica: ReplicaId;
  readonly counter: number;
}

export function makeDot(replica: ReplicaId, counter: number): Dot {
  return { replica, counter };
}

/** Total order on dots: by replica id, then by counter. Used for deterministic listing. */
export function compareDots(a: Dot, b: Dot): number {
  if (a.replica !== b.replica) return a.replica < b.replica ? -1 : 1;
  return a.counter - b.counter;
}

export function dotsEqual(a: Dot, b: Dot): boolean {
  return a.replica === b.replica && a.counter === b.counter;
}

export function isValidCounter(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 1;
}
