import { parseReplicaId, type ReplicaId } from "../../crdt/index.js";

export type ReplicaStatus = "up" | "down";

export interface ReplicaInfo {
  status: ReplicaStatus;
  lastHeardAt: number;
}

/** What one replica knows about its peers: status, last time heard from, and name → current incarnation. */
export class ReplicaTable {
  private readonly replicas = new Map<ReplicaId, ReplicaInfo>();
  private readonly byNodeName = new Map<string, ReplicaId>();

  get(replica: ReplicaId): ReplicaInfo | undefined {
    return this.replicas.get(replica);
  }

  /** The incarnation of the same node we currently know, if it is a different one. */
  otherIncarnationOf(replica: ReplicaId): ReplicaId | undefined {
    const known = this.byNodeName.get(parseReplicaId(replica).nodeName);
    return known !== undefined && known !== replica ? known : undefined;
  }

  add(replica: ReplicaId, now: number): ReplicaInfo {
    const info: ReplicaInfo = { status: "up", lastHeardAt: now };
    this.replicas.set(replica, info);
    this.byNodeName.set(parseReplicaId(replica).nodeName, replica);
    return info;
  }

  delete(replica: ReplicaId): void {
    this.replicas.delete(replica);
    const name = parseReplicaId(replica).nodeName;
    if (this.byNodeName.get(name) === replica) this.byNodeName.delete(name);
  }

  isUp(replica: ReplicaId): boolean {
    return this.replicas.get(replica)?.status === "up";
  }

  entries(): IterableIterator<[ReplicaId, ReplicaInfo]> {
    return this.replicas.entries();
  }

  upReplicas(): ReplicaId[] {
    return [...this.replicas].filter(([, info]) => info.status === "up").map(([id]) => id);
  }
}

/**
 * True when `a` is an older incarnation than `b` of the same node. Incarnations are
 * made to sort by start time (see makeIncarnation), so a late message from a previous
 * life can be told apart from a restart.
 */
export function isOlderIncarnation(a: ReplicaId, b: ReplicaId): boolean {
  return parseReplicaId(a).incarnation < parseReplicaId(b).incarnation;
}
