import fc from "fast-check";
import { PresenceSet, toWire, type PresenceEntry, type PresenceSnapshot } from "../../crdt/index.js";

/**
 * A small cluster of PresenceSet replicas driven by generated commands, next to a
 * sequential reference model. Deltas go into a pool and are delivered later, in any
 * order, any number of times (or never); `repair` runs a full-state transfer.
 */

export const TOPICS = ["t0", "t1", "t2"];
const KEYS = ["k0", "k1", "k2"];
const OWNERS = ["o0", "o1"];

export type Command =
  | { type: "join"; at: number; topic: string; key: string; owner: string; value: number }
  | { type: "update"; at: number; topic: string; key: string; owner: string; value: number }
  | { type: "leave"; at: number; topic: string; key: string; owner: string }
  | { type: "leaveOwner"; at: number; owner: string; topic: string | undefined }
  | { type: "flush"; at: number }
  | { type: "deliver"; pick: number; to: number }
  | { type: "snapshotState"; at: number };

const slot = { at: fc.nat(4), topic: fc.constantFrom(...TOPICS), key: fc.constantFrom(...KEYS), owner: fc.constantFrom(...OWNERS) };

export const commandArb: fc.Arbitrary<Command> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ type: fc.constant("join" as const), ...slot, value: fc.nat(9) }) },
  { weight: 2, arbitrary: fc.record({ type: fc.constant("update" as const), ...slot, value: fc.nat(9) }) },
  { weight: 2, arbitrary: fc.record({ type: fc.constant("leave" as const), ...slot }) },
  {
    weight: 1,
    arbitrary: fc.record({
      type: fc.constant("leaveOwner" as const),
      at: fc.nat(4),
      owner: fc.constantFrom(...OWNERS),
      topic: fc.option(fc.constantFrom(...TOPICS), { nil: undefined }),
    }),
  },
  { weight: 3, arbitrary: fc.record({ type: fc.constant("flush" as const), at: fc.nat(4) }) },
  { weight: 5, arbitrary: fc.record({ type: fc.constant("deliver" as const), pick: fc.nat(), to: fc.nat(4) }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant("snapshotState" as const), at: fc.nat(4) }) },
);

export const historyArb = fc.record({
  replicas: fc.integer({ min: 2, max: 5 }),
  commands: fc.array(commandArb, { maxLength: 60 }),
});

type ModelEntry = { topic: string; key: string; owner: string; meta: { v: number } };

export interface Simulation {
  sets: PresenceSet[];
  /** replica index → (topic|owner|key → meta): what each replica itself currently tracks. */
  models: Map<string, ModelEntry>[];
  /** Every delta ever flushed and every state snapshot taken, with the index of its replica. */
  pool: Array<{ from: number; snapshot: PresenceSnapshot }>;
  /** Stale full states captured during the run. */
  states: Array<{ from: number; snapshot: PresenceSnapshot }>;
}

export function replicaName(index: number): string {
  return `n${index}#1`;
}

export function simulate(replicas: number, commands: readonly Command[]): Simulation {
  const sets = Array.from({ length: replicas }, (_, i) => new PresenceSet(replicaName(i)));
  const models = sets.map(() => new Map<string, ModelEntry>());
  const pool: Simulation["pool"] = [];
  const states: Simulation["states"] = [];
  for (const command of commands) {
    if (command.type === "deliver") {
      if (pool.length === 0) continue;
      const item = pool[command.pick % pool.length];
      const to = command.to % replicas;
      sets[to].merge(item.snapshot); // also a replica's own old delta or state: must be harmless
      continue;
    }
    const at = command.at % replicas;
    const set = sets[at];
    const model = models[at];
    switch (command.type) {
      case "join": {
        const id = `${command.topic}|${command.owner}|${command.key}`;
        const result = set.join(command.topic, command.key, command.owner, { v: command.value });
        if (result.ok !== !model.has(id)) throw new Error(`join result disagrees with the model for ${id}`);
        if (result.ok) model.set(id, { topic: command.topic, key: command.key, owner: command.owner, meta: { v: command.value } });
        break;
      }
      case "update": {
        const id = `${command.topic}|${command.owner}|${command.key}`;
        const result = set.update(command.topic, command.key, command.owner, { v: command.value });
        if (result.ok !== model.has(id)) throw new Error(`update result disagrees with the model for ${id}`);
        if (result.ok) model.set(id, { topic: command.topic, key: command.key, owner: command.owner, meta: { v: command.value } });
        break;
      }
      case "leave": {
        const id = `${command.topic}|${command.owner}|${command.key}`;
        const { leaves } = set.leave(command.topic, command.key, command.owner);
        if (leaves.length !== (model.has(id) ? 1 : 0)) throw new Error(`leave result disagrees with the model for ${id}`);
        model.delete(id);
        break;
      }
      case "leaveOwner": {
        const { leaves } = set.leaveOwner(command.owner, command.topic);
        let expected = 0;
        for (const [id, entry] of model) {
          if (entry.owner === command.owner && (command.topic === undefined || entry.topic === command.topic)) {
            model.delete(id);
            expected++;
          }
        }
        if (leaves.length !== expected) throw new Error("leaveOwner result disagrees with the model");
        break;
      }
      case "flush": {
        const delta = set.takeDelta();
        if (delta) pool.push({ from: at, snapshot: delta });
        break;
      }
      case "snapshotState": {
        const snapshot = set.extract();
        pool.push({ from: at, snapshot });
        states.push({ from: at, snapshot });
        break;
      }
    }
  }
  return { sets, models, pool, states };
}

/** Full-state transfer between every pair: afterwards every replica holds the join of all. */
export function repairAll(sets: readonly PresenceSet[]): void {
  const states = sets.map((set) => set.extract());
  sets.forEach((set, i) => states.forEach((state, j) => i !== j && set.merge(state)));
}

export type VisibleRow = [replica: string, topic: string, key: string, owner: string, meta: string];

export function visibleRows(set: PresenceSet): VisibleRow[] {
  return set.listAll().map(rowOf);
}

function rowOf(entry: PresenceEntry): VisibleRow {
  return [entry.dot.replica, entry.topic, entry.key, entry.owner, JSON.stringify(entry.meta)];
}

function sortRows(rows: VisibleRow[]): VisibleRow[] {
  return rows.sort((a, b) => (a.join("\u0000") < b.join("\u0000") ? -1 : 1));
}

/** The reference: the union of what every replica itself tracks (add-wins, nothing lost). */
export function expectedRows(sim: Simulation, excluded: ReadonlySet<number> = new Set()): VisibleRow[] {
  const rows: VisibleRow[] = [];
  sim.models.forEach((model, i) => {
    if (excluded.has(i)) return;
    for (const entry of model.values()) rows.push([replicaName(i), entry.topic, entry.key, entry.owner, JSON.stringify(entry.meta)]);
  });
  return sortRows(rows);
}

export function sortedVisibleRows(set: PresenceSet): VisibleRow[] {
  return sortRows(visibleRows(set));
}

/** Canonical text of a replica's whole state (entries, hidden ones too, and context). */
export function canonicalState(set: PresenceSet): string {
  return JSON.stringify(toWire(set.extract()));
}

/** Canonical text of a snapshot. */
export function canonicalSnapshot(snapshot: PresenceSnapshot): string {
  return JSON.stringify({ ...toWire(snapshot), kind: "state" });
}
