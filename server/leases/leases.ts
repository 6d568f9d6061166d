import type { EncodedBroadcast } from "../fabric/encoded-broadcast.js";

/**
 * Leases: at most one holder per topic across the cluster, for topic workers
 * (docs/topic-workers.md). A claimant is a thread (a worker thread, or a single-thread node's). A lease carries a fencing
 * number that grows with every grant, and its token (`claimant|fence`) is what fenced effects
 * present: an effect whose token is no longer the topic's lease has no effect at all.
 *
 * One interface, one implementation per medium beside it:
 *   leases-memory.ts  — one node without Redis (this thread, or the node's main thread)
 *   leases-redis.ts   — a cluster: Lua scripts on the node's Redis connections
 *   leases-workers.ts — a worker thread: asks the node's main thread
 */
export interface Leases {
  /**
   * Registers (or withdraws) `claimant`'s interest in the topic — it has subscribers of it — and
   * then takes the lease if it is free (`token` omitted) or extends it if `token` is still the
   * lease (a renewal). Interest registrations expire `ttlMs` after the claim.
   */
  claim(claim: LeaseClaim): Promise<LeaseView>;
  /**
   * Gives the lease up (compare-and-delete). With `ifIdle`, only while no other claimant has
   * interest in the topic: then the answer is "busy" and the lease stays. Releasing tells every
   * node (`onFree`), so a claimant elsewhere takes over at once.
   */
  release(release: LeaseRelease): Promise<ReleaseOutcome>;
  /** A fenced broadcast: sent on to the other nodes only while `token` is the topic's lease. */
  publish(token: string, message: EncodedBroadcast): Promise<boolean>;
  /** One value of a topic worker's checkpoint state (JSON text), or null. */
  readState(topic: string, name: string): Promise<string | null>;
  /** A fenced state write: stored only while `token` is the topic's lease. */
  writeState(write: StateWrite): Promise<boolean>;
  /**
   * A lease was released somewhere (not when one expired: claimants retry at its expiry).
   * Resolves once releases announced from then on reach `listener`: with Redis, once this node's
   * subscription to the announcements is in place. An announcement reaches only those listening
   * when it is made; a claimant that was not (its node still subscribing, or reconnecting) finds
   * the lease free at its next try, at most TTL/3 later.
   */
  onFree(listener: (topic: string) => void): Promise<void>;
}

export interface LeaseClaim {
  topic: string;
  claimant: string;
  ttlMs: number;
  /** The claimant has subscribers of the topic. */
  interested: boolean;
  /**
   * The claimant's token when it renews a lease it holds: then the lease is only extended, never
   * taken. (A token that cannot be the lease, such as "-", thus only updates the interest.)
   */
  token?: string;
}

/** A topic's lease as one claim left it. */
export interface LeaseView {
  /** The claimant holds the lease (it took it or extended it). */
  held: boolean;
  /** The lease's token ("" when nobody holds it). */
  token: string;
  /** Milliseconds until the lease expires (0 when nobody holds it). */
  ttlLeft: number;
  /** Claimants with live interest in the topic, this one included when it registered. */
  interest: number;
}

export interface LeaseRelease {
  topic: string;
  token: string;
  claimant: string;
  ifIdle: boolean;
}

/** released: the lease is free; busy: kept, others have interest (`ifIdle`); lost: it was not ours any more. */
export type ReleaseOutcome = "released" | "busy" | "lost";

export interface StateWrite {
  topic: string;
  token: string;
  name: string;
  value: string;
}

/** Every call as it crosses from a worker thread to the node's main thread. */
export type LeaseCall =
  | { op: "claim"; claim: LeaseClaim }
  | { op: "release"; release: LeaseRelease }
  | { op: "publish"; token: string; message: EncodedBroadcast }
  | { op: "readState"; topic: string; name: string }
  | { op: "writeState"; write: StateWrite };

export type LeaseResult = LeaseView | ReleaseOutcome | boolean | string | null;

/** Runs a call that crossed from a worker on the node's own leases. */
export function runLeaseCall(leases: Leases, call: LeaseCall): Promise<LeaseResult> {
  switch (call.op) {
    case "claim":
      return leases.claim(call.claim);
    case "release":
      return leases.release(call.release);
    case "publish":
      return leases.publish(call.token, call.message);
    case "readState":
      return leases.readState(call.topic, call.name);
    case "writeState":
      return leases.writeState(call.write);
  }
}

/** The token of a grant: who holds it, and its fencing number. */
export function leaseToken(claimant: string, fence: number): string {
  return `${claimant}|${fence}`;
}

/** The fencing number inside a token (0 for "" or anything else). */
export function fenceOf(token: string): number {
  const bar = token.lastIndexOf("|");
  const fence = bar < 0 ? NaN : Number(token.slice(bar + 1));
  return Number.isSafeInteger(fence) ? fence : 0;
}

/** Checkpoint state limits (docs/topic-workers.md): per value, per topic, and how long it is kept after its last write. */
export const STATE_LIMITS = {
  maxValueBytes: 64 * 1024,
  maxNames: 100,
  ttlMs: 24 * 3600 * 1000,
};
