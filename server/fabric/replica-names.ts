import { parseReplicaId, type ReplicaId } from "../../crdt/index.js";

/**
 * Every worker thread is a presence replica named `${node}/w${index}` (a single-thread node is
 * `${node}/w0`), so any replica id tells which node holds it, and which of its threads.
 */
export function workerReplicaName(nodeName: string, index: number): string {
  return `${nodeName}/w${index}`;
}

const WORKER_SUFFIX = /\/w(\d+)$/;

/** The node a replica lives on, or undefined for an id that is not a worker replica's. */
export function nodeOfReplica(replica: ReplicaId): string | undefined {
  let name: string;
  try {
    name = parseReplicaId(replica).nodeName;
  } catch {
    return undefined;
  }
  const match = WORKER_SUFFIX.exec(name);
  return match ? name.slice(0, match.index) : undefined;
}

/** The worker index of a replica of node `nodeName`, or undefined for a replica elsewhere. */
export function workerIndexOf(replica: ReplicaId, nodeName: string): number | undefined {
  if (nodeOfReplica(replica) !== nodeName) return undefined;
  const match = WORKER_SUFFIX.exec(parseReplicaId(replica).nodeName);
  return match ? Number(match[1]) : undefined;
}
