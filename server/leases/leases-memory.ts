import type { EncodedBroadcast } from "../fabric/encoded-broadcast.js";
import { leaseToken, STATE_LIMITS, type LeaseClaim, type LeaseRelease, type Leases, type LeaseView, type ReleaseOutcome, type StateWrite } from "./leases.js";

interface Held {
  token: string;
  expiresAt: number;
}

/** Claims between two sweeps of expired leases: the sweep's cost spread thin. */
const SWEEP_EVERY = 1000;

/** Topics whose checkpoint state a node keeps in memory; past it the least recently written goes. */
export const MEMORY_STATE_TOPICS = 10_000;

/**
 * The leases of a node without Redis, kept by the one thread every claimant asks (the only
 * thread, or the node's main thread). The same rules as in Redis, on this process's clock.
 * Every map is bounded by the topics with a claimant (a local subscriber; what a claimant that
 * died left behind is swept every SWEEP_EVERY claims), except the state, bounded by
 * MEMORY_STATE_TOPICS.
 */
export class MemoryLeases implements Leases {
  private readonly leases = new Map<string, Held>();
  /** Claimants with interest, and when their interest expires, by topic. */
  private readonly interest = new Map<string, Map<string, number>>();
  private readonly states = new Map<string, { values: Map<string, string>; expiresAt: number }>();
  private readonly freeListeners: Array<(topic: string) => void> = [];
  /** Fencing numbers grow across all topics (so they grow per topic too), from the clock (in µs) up. */
  private lastFence = 0;
  /** Claims since the last sweep of expired leases (a holder that died never releases). */
  private claimsSinceSweep = 0;

  constructor(
    private readonly now: () => number = Date.now,
    /** Told when a topic's state is forgotten to stay within MEMORY_STATE_TOPICS (counted in metrics). */
    private readonly onStateEvicted: () => void = () => {},
  ) {}

  async claim(claim: LeaseClaim): Promise<LeaseView> {
    const now = this.now();
    if (++this.claimsSinceSweep >= SWEEP_EVERY) this.sweep(now);
    const interest = this.liveInterest(claim.topic, now);
    if (claim.interested) interest.set(claim.claimant, now + claim.ttlMs);
    else interest.delete(claim.claimant);
    if (interest.size === 0) this.interest.delete(claim.topic);
    const held = this.current(claim.topic, now);
    if (claim.token !== undefined) {
      if (held?.token !== claim.token) return view(false, held, now, interest.size);
      held.expiresAt = now + claim.ttlMs;
      return view(true, held, now, interest.size);
    }
    if (held) return view(false, held, now, interest.size);
    this.lastFence = Math.max(this.lastFence + 1, now * 1000);
    const granted = { token: leaseToken(claim.claimant, this.lastFence), expiresAt: now + claim.ttlMs };
    this.leases.set(claim.topic, granted);
    return view(true, granted, now, interest.size);
  }

  async release(release: LeaseRelease): Promise<ReleaseOutcome> {
    const now = this.now();
    if (this.current(release.topic, now)?.token !== release.token) return "lost";
    const interest = this.liveInterest(release.topic, now);
    interest.delete(release.claimant);
    if (interest.size === 0) this.interest.delete(release.topic);
    if (release.ifIdle && interest.size > 0) return "busy";
    this.leases.delete(release.topic);
    for (const listener of this.freeListeners) listener(release.topic);
    return "released";
  }

  async publish(token: string, message: EncodedBroadcast): Promise<boolean> {
    // Nobody else to send it to: the caller delivers it on this node.
    return this.current(message.topic, this.now())?.token === token;
  }

  async readState(topic: string, name: string): Promise<string | null> {
    const state = this.states.get(topic);
    if (!state || state.expiresAt <= this.now()) return null;
    return state.values.get(name) ?? null;
  }

  async writeState(write: StateWrite): Promise<boolean> {
    const now = this.now();
    if (this.current(write.topic, now)?.token !== write.token) return false;
    let state = this.states.get(write.topic);
    if (!state || state.expiresAt <= now) state = { values: new Map(), expiresAt: 0 };
    if (!state.values.has(write.name) && state.values.size >= STATE_LIMITS.maxNames) {
      throw new RangeError(`a topic worker keeps at most ${STATE_LIMITS.maxNames} state values`);
    }
    state.values.set(write.name, write.value);
    state.expiresAt = now + STATE_LIMITS.ttlMs;
    // Re-inserted: the map's order is the order of last writes, oldest first.
    this.states.delete(write.topic);
    this.states.set(write.topic, state);
    if (this.states.size > MEMORY_STATE_TOPICS) {
      this.states.delete(this.states.keys().next().value as string);
      this.onStateEvicted();
    }
    return true;
  }

  onFree(listener: (topic: string) => void): Promise<void> {
    this.freeListeners.push(listener);
    return Promise.resolve();
  }

  /** Forgets expired leases and interest nobody asked about again. */
  private sweep(now: number): void {
    this.claimsSinceSweep = 0;
    for (const topic of this.leases.keys()) this.current(topic, now);
    for (const topic of this.interest.keys()) if (this.liveInterest(topic, now).size === 0) this.interest.delete(topic);
  }

  private current(topic: string, now: number): Held | undefined {
    const held = this.leases.get(topic);
    if (held && held.expiresAt <= now) {
      this.leases.delete(topic);
      return undefined;
    }
    return held;
  }

  private liveInterest(topic: string, now: number): Map<string, number> {
    let interest = this.interest.get(topic);
    if (!interest) this.interest.set(topic, (interest = new Map()));
    for (const [claimant, expiresAt] of interest) if (expiresAt <= now) interest.delete(claimant);
    return interest;
  }
}

function view(held: boolean, lease: Held | undefined, now: number, interest: number): LeaseView {
  return { held, token: lease?.token ?? "", ttlLeft: lease ? Math.max(0, lease.expiresAt - now) : 0, interest };
}
