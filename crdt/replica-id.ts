/**
 * A replica id names one incarnation of one node: `${nodeName}#${incarnation}`.
 *
 * A node that restarts gets a new incarnation, hence a new replica id, so the dots
 * it creates never collide with the dots of its previous life. That is what makes it
 * safe to remember a permanently-down replica forever and ignore its dots.
 */
export type ReplicaId = string;

export interface ReplicaIdParts {
  readonly nodeName: string;
  readonly incarnation: string;
}

const SEPARATOR = "#";

/** Builds a replica id. The incarnation may not contain `#`; the node name may. */
export function makeReplicaId(nodeName: string, incarnation: string): ReplicaId {
  if (nodeName.length === 0) throw new Error("replica id: node name must not be empty");
  if (incarnation.length === 0 || incarnation.includes(SEPARATOR)) {
    throw new Error(`replica id: invalid incarnation ${JSON.stringify(incarnation)}`);
  }
  return `${nodeName}${SEPARATOR}${incarnation}`;
}

/** Splits a replica id at its last `#`. Throws on a string that is not a replica id. */
export function parseReplicaId(id: string): ReplicaIdParts {
  const at = id.lastIndexOf(SEPARATOR);
  if (at <= 0 || at === id.length - 1) {
    throw new Error(`replica id: ${JSON.stringify(id)} is not of the form name#incarnation`);
  }
  return { nodeName: id.slice(0, at), incarnation: id.slice(at + 1) };
}

export function isReplicaId(value: unknown): value is ReplicaId {
  if (typeof value !== "string") return false;
  const at = value.lastIndexOf(SEPARATOR);
  return at > 0 && at < value.length - 1;
}

/**
 * A fresh incarnation from a wall-clock reading and a random number, both passed in
 * so this module stays free of I/O. Fixed width base36 time first, so incarnations
 * of one node sort by start time.
 */
export function makeIncarnation(nowMs: number, random: number): string {
  const time = Math.floor(nowMs).toString(36).padStart(9, "0");
  const noise = Math.floor(random * 36 ** 5).toString(36).padStart(5, "0");
  return `${time}${noise}`;
}
