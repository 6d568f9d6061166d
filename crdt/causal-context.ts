import type { Dot } from "./dot.js";
import type { ReplicaId } from "./replica-id.js";
import type { VectorClock } from "./vector-clock.js";

/** Read-only view of a causal context, for code that must not change it. */
export interface ReadonlyCausalContext {
  hasDot(replica: ReplicaId, counter: number): boolean;
  has(dot: Dot): boolean;
  /** Highest contiguous counter seen from `replica` (0 when none). */
  clockOf(replica: ReplicaId): number;
  /** Observed counters above `clockOf(replica) + 1`, not yet contiguous. */
  cloudOf(replica: ReplicaId): ReadonlySet<number> | undefined;
  /** Every replica with a clock or a cloud. */
  replicas(): IterableIterator<ReplicaId>;
  /** Number of dots of `replica` this context covers. */
  coveredCount(replica: ReplicaId): number;
  /** Every covered counter of `replica`: 1..clock, then the cloud. */
  coveredCounters(replica: ReplicaId): Generator<number>;
  /** The contiguous part as a vector clock (a copy). */
  vectorClock(): Map<ReplicaId, number>;
  isEmpty(): boolean;
  clone(): CausalContext;
  project(keep: (replica: ReplicaId) => boolean): CausalContext;
}

/**
 * The set of dots a replica has observed (created, received or seen removed), stored
 * compactly as a vector clock plus a "cloud" of dots that are not contiguous yet.
 *
 * Invariant, kept by every mutation (eager compaction): a cloud never holds a counter
 * ≤ clock + 1, and an empty cloud is not stored. Two contexts covering the same dots
 * therefore have the same representation.
 */
export class CausalContext implements ReadonlyCausalContext {
  private readonly clock = new Map<ReplicaId, number>();
  private readonly cloud = new Map<ReplicaId, Set<number>>();

  static fromClock(clock: VectorClock): CausalContext {
    const context = new CausalContext();
    for (const [replica, counter] of clock) if (counter > 0) context.clock.set(replica, counter);
    return context;
  }

  hasDot(replica: ReplicaId, counter: number): boolean {
    if (counter <= (this.clock.get(replica) ?? 0)) return true;
    return this.cloud.get(replica)?.has(counter) ?? false;
  }

  has(dot: Dot): boolean {
    return this.hasDot(dot.replica, dot.counter);
  }

  clockOf(replica: ReplicaId): number {
    return this.clock.get(replica) ?? 0;
  }

  cloudOf(replica: ReplicaId): ReadonlySet<number> | undefined {
    return this.cloud.get(replica);
  }

  *replicas(): IterableIterator<ReplicaId> {
    yield* this.clock.keys();
    for (const replica of this.cloud.keys()) if (!this.clock.has(replica)) yield replica;
  }

  coveredCount(replica: ReplicaId): number {
    return this.clockOf(replica) + (this.cloud.get(replica)?.size ?? 0);
  }

  *coveredCounters(replica: ReplicaId): Generator<number> {
    const top = this.clockOf(replica);
    for (let counter = 1; counter <= top; counter++) yield counter;
    const cloud = this.cloud.get(replica);
    if (cloud) yield* cloud;
  }

  vectorClock(): Map<ReplicaId, number> {
    return new Map(this.clock);
  }

  isEmpty(): boolean {
    return this.clock.size === 0 && this.cloud.size === 0;
  }

  /** Records one dot; a dot that closes a gap advances the clock over the cloud. */
  addDot(replica: ReplicaId, counter: number): void {
    const top = this.clock.get(replica) ?? 0;
    if (counter <= top) return;
    if (counter === top + 1) {
      this.clock.set(replica, counter);
      this.compact(replica);
      return;
    }
    let cloud = this.cloud.get(replica);
    if (!cloud) this.cloud.set(replica, (cloud = new Set()));
    cloud.add(counter);
  }

  add(dot: Dot): void {
    this.addDot(dot.replica, dot.counter);
  }

  /** Union with another context (in place). */
  merge(other: ReadonlyCausalContext): void {
    for (const replica of other.replicas()) {
      const theirs = other.clockOf(replica);
      if (theirs > (this.clock.get(replica) ?? 0)) this.clock.set(replica, theirs);
      const theirCloud = other.cloudOf(replica);
      if (theirCloud) {
        let cloud = this.cloud.get(replica);
        if (!cloud) this.cloud.set(replica, (cloud = new Set()));
        for (const counter of theirCloud) cloud.add(counter);
      }
      this.compact(replica);
    }
  }

  /** Drops everything known about `replica`. */
  forget(replica: ReplicaId): void {
    this.clock.delete(replica);
    this.cloud.delete(replica);
  }

  clone(): CausalContext {
    return this.project(() => true);
  }

  project(keep: (replica: ReplicaId) => boolean): CausalContext {
    const copy = new CausalContext();
    for (const [replica, counter] of this.clock) if (keep(replica)) copy.clock.set(replica, counter);
    for (const [replica, cloud] of this.cloud) if (keep(replica)) copy.cloud.set(replica, new Set(cloud));
    return copy;
  }

  /** Restores the invariant for one replica: advance over contiguous cloud dots, drop covered ones. */
  private compact(replica: ReplicaId): void {
    const cloud = this.cloud.get(replica);
    if (!cloud) return;
    let top = this.clock.get(replica) ?? 0;
    while (cloud.delete(top + 1)) top++;
    if (top > 0) this.clock.set(replica, top);
    for (const counter of cloud) if (counter <= top) cloud.delete(counter);
    if (cloud.size === 0) this.cloud.delete(replica);
  }
}
