import { decode, encode } from "@msgpack/msgpack";
import { parseReplicaId, type ReplicaId } from "../../crdt/index.js";
import type { GossipMessage } from "../../server/presence/messages.js";
import type { GossipLane } from "../../server/presence/index.js";

export interface Faults {
  /** Probability that one delivery is lost. */
  drop: number;
  /** Probability that one delivery arrives twice. */
  duplicate: number;
  /** Each copy is delayed by a uniform 0..maxDelay ms, so messages overtake each other. */
  maxDelay: number;
}

/** Small deterministic PRNG (mulberry32), so a failing seed can be replayed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * In-memory gossip between trackers, with injected faults. Every message goes through
 * msgpack on the way, as it would over Redis. Partitions are between node names, so
 * they also hold for a restarted node's new incarnation. Delivery uses setTimeout, so
 * vitest fake timers drive it.
 */
export class FakeNetwork {
  faults: Faults;
  readonly sent = new Map<GossipMessage["type"], number>();
  private readonly random: () => number;
  private readonly endpoints = new Map<ReplicaId, (message: GossipMessage) => void>();
  private readonly blocked = new Set<string>();

  constructor(seed: number, faults: Partial<Faults> = {}) {
    this.random = seededRandom(seed);
    this.faults = { drop: 0, duplicate: 0, maxDelay: 0, ...faults };
  }

  /** The gossip lane of `replica`: it reaches every other replica that registered a handler. */
  gossip = (replica: ReplicaId): GossipLane => ({
    broadcast: (message) => {
      for (const target of this.endpoints.keys()) if (target !== replica) this.send(replica, target, message);
    },
    sendTo: (target, message) => this.send(replica, target, message),
    onMessage: (handler) => {
      this.endpoints.set(replica, handler);
    },
  });

  /** Cuts every link between the two groups of node names. */
  partition(groupA: string[], groupB: string[]): void {
    for (const a of groupA) for (const b of groupB) this.blocked.add(`${a}|${b}`).add(`${b}|${a}`);
  }

  heal(): void {
    this.blocked.clear();
  }

  /** A node that crashed: it neither sends nor receives any more. */
  disconnect(replica: ReplicaId): void {
    this.endpoints.delete(replica);
  }

  count(type: GossipMessage["type"]): number {
    return this.sent.get(type) ?? 0;
  }

  private send(from: ReplicaId, to: ReplicaId, message: GossipMessage): void {
    this.sent.set(message.type, this.count(message.type) + 1);
    if (this.blocked.has(`${parseReplicaId(from).nodeName}|${parseReplicaId(to).nodeName}`)) return;
    if (!this.endpoints.has(from)) return;
    if (this.random() < this.faults.drop) return;
    const copies = this.random() < this.faults.duplicate ? 2 : 1;
    const bytes = encode(message);
    for (let i = 0; i < copies; i++) {
      const delay = Math.floor(this.random() * this.faults.maxDelay);
      setTimeout(() => {
        if (this.blocked.has(`${parseReplicaId(from).nodeName}|${parseReplicaId(to).nodeName}`)) return;
        this.endpoints.get(to)?.(decode(bytes) as GossipMessage);
      }, delay);
    }
  }
}
