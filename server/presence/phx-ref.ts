import { createHash } from "node:crypto";
import type { Dot, ReplicaId } from "../../crdt/index.js";

const replicaPrefixes = new Map<ReplicaId, string>();

/**
 * The `phx_ref` of a presence, derived from its dot: 8 URL-safe characters naming the
 * replica (48 bits of a hash of its id) followed by the counter in base 36. Dots are
 * unique cluster-wide and never reused, so refs are too; being derived, every node
 * computes the same ref for the same entry. Example: `q3Vf0x_A1b`.
 */
export function phxRefOf(dot: Dot): string {
  return replicaPrefix(dot.replica) + dot.counter.toString(36);
}

function replicaPrefix(replica: ReplicaId): string {
  let prefix = replicaPrefixes.get(replica);
  if (prefix === undefined) {
    prefix = createHash("sha1").update(replica).digest().subarray(0, 6).toString("base64url");
    // A node sees a handful of replicas in its life; the cap only guards against misuse.
    if (replicaPrefixes.size > 10_000) replicaPrefixes.clear();
    replicaPrefixes.set(replica, prefix);
  }
  return prefix;
}
