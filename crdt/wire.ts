import { CausalContext } from "./causal-context.js";
import { compareDots, isValidCounter } from "./dot.js";
import type { PresenceEntry, PresenceMeta, PresenceSnapshot } from "./entry.js";
import { isReplicaId, type ReplicaId } from "./replica-id.js";
import type { VectorClock } from "./vector-clock.js";

export const WIRE_VERSION = 1;

/** `[replicaIndex, counter, topic, key, owner, meta]`; replicaIndex points into `replicas`. */
export type WireEntry = [number, number, string, string, string, Record<string, unknown>];

/**
 * A delta or state as a plain object: only arrays, strings, numbers and the metas, so it
 * goes through msgpack or JSON unchanged. Replica ids are written once in a table.
 * The encoding is canonical (sorted), so equal snapshots encode to equal objects.
 */
export interface WireSnapshot {
  v: typeof WIRE_VERSION;
  kind: "delta" | "state";
  replicas: ReplicaId[];
  /** Contiguous clock per replica (same index as `replicas`); 0 = none. */
  clock: number[];
  /** Non-contiguous dots per replica, ascending. */
  cloud: number[][];
  entries: WireEntry[];
}

/** A vector clock as sorted `[replica, counter]` pairs. */
export type WireClock = Array<[ReplicaId, number]>;

export class WireFormatError extends Error {
  constructor(message: string) {
    super(`invalid presence wire data: ${message}`);
    this.name = "WireFormatError";
  }
}

export function toWire(snapshot: PresenceSnapshot): WireSnapshot {
  const { context } = snapshot;
  const ids = new Set<ReplicaId>(context.replicas());
  for (const entry of snapshot.entries) ids.add(entry.dot.replica);
  const replicas = [...ids].sort();
  const indexOf = new Map(replicas.map((replica, index) => [replica, index]));
  const entries = [...snapshot.entries]
    .sort((a, b) => compareDots(a.dot, b.dot))
    .map((entry): WireEntry => [
      indexOf.get(entry.dot.replica)!,
      entry.dot.counter,
      entry.topic,
      entry.key,
      entry.owner,
      entry.meta as Record<string, unknown>,
    ]);
  return {
    v: WIRE_VERSION,
    kind: snapshot.kind,
    replicas,
    clock: replicas.map((replica) => context.clockOf(replica)),
    cloud: replicas.map((replica) => [...(context.cloudOf(replica) ?? [])].sort((a, b) => a - b)),
    entries,
  };
}

/** Decodes and validates; throws WireFormatError naming the first problem found. */
export function fromWire(input: unknown): PresenceSnapshot {
  const wire = expectRecord(input, "snapshot");
  if (wire.v !== WIRE_VERSION) throw new WireFormatError(`unsupported version ${JSON.stringify(wire.v)}`);
  if (wire.kind !== "delta" && wire.kind !== "state") throw new WireFormatError("kind must be \"delta\" or \"state\"");
  const replicas = expectArray(wire.replicas, "replicas");
  const clock = expectArray(wire.clock, "clock");
  const cloud = expectArray(wire.cloud, "cloud");
  if (clock.length !== replicas.length || cloud.length !== replicas.length) {
    throw new WireFormatError("replicas, clock and cloud must have the same length");
  }
  const seen = new Set<string>();
  const context = new CausalContext();
  replicas.forEach((replica, index) => {
    if (!isReplicaId(replica)) throw new WireFormatError(`replicas[${index}] is not a replica id`);
    if (seen.has(replica)) throw new WireFormatError(`replicas[${index}] is a duplicate`);
    seen.add(replica);
    const top = clock[index];
    if (!(top === 0 || isValidCounter(top))) throw new WireFormatError(`clock[${index}] is not a counter`);
    // A clock value is contiguous by definition: record it in one step.
    if (top > 0) context.merge(CausalContext.fromClock(new Map([[replica, top]])));
    for (const counter of expectArray(cloud[index], `cloud[${index}]`)) {
      if (!isValidCounter(counter)) throw new WireFormatError(`cloud[${index}] holds a non-counter`);
      context.addDot(replica, counter);
    }
  });
  const entries: PresenceEntry[] = [];
  const dots = new Set<string>();
  expectArray(wire.entries, "entries").forEach((raw, index) => {
    const row = expectArray(raw, `entries[${index}]`);
    const [replicaIndex, counter, topic, key, owner, meta] = row;
    if (row.length !== 6) throw new WireFormatError(`entries[${index}] must have 6 fields`);
    if (typeof replicaIndex !== "number" || !Number.isInteger(replicaIndex) || replicaIndex < 0 || replicaIndex >= replicas.length) {
      throw new WireFormatError(`entries[${index}] has a bad replica index`);
    }
    if (!isValidCounter(counter)) throw new WireFormatError(`entries[${index}] has a bad counter`);
    if (typeof topic !== "string" || typeof key !== "string" || typeof owner !== "string") {
      throw new WireFormatError(`entries[${index}] topic, key and owner must be strings`);
    }
    const replica = replicas[replicaIndex] as ReplicaId;
    const dot = { replica, counter };
    const id = `${replicaIndex}:${counter}`;
    if (dots.has(id)) throw new WireFormatError(`entries[${index}] repeats a dot`);
    dots.add(id);
    if (!context.has(dot)) throw new WireFormatError(`entries[${index}] has a dot outside the context`);
    entries.push({ topic, key, owner, meta: expectRecord(meta, `entries[${index}] meta`) as PresenceMeta, dot });
  });
  return { kind: wire.kind, entries, context };
}

export function clockToWire(clock: VectorClock): WireClock {
  // Zero entries are kept: they tell the receiver which replicas we know of.
  return [...clock].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

export function clockFromWire(input: unknown): Map<ReplicaId, number> {
  const clock = new Map<ReplicaId, number>();
  expectArray(input, "clock").forEach((raw, index) => {
    const pair = expectArray(raw, `clock[${index}]`);
    const [replica, counter] = pair;
    if (pair.length !== 2 || !isReplicaId(replica) || !(counter === 0 || isValidCounter(counter))) {
      throw new WireFormatError(`clock[${index}] must be [replicaId, counter]`);
    }
    clock.set(replica, counter);
  });
  return clock;
}

function expectArray(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw new WireFormatError(`${what} must be an array`);
  return value;
}

function expectRecord(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new WireFormatError(`${what} must be an object`);
  }
  return value as Record<string, unknown>;
}
