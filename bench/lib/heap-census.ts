/**
 * A count of a V8 heap snapshot's objects by kind: a constructor's instances, closures by function
 * name, strings, arrays and V8's internal parts, with their number and own (shallow) size.
 * Two censuses taken before and after N sockets connect tell what each socket adds, part by part.
 */
import { readFileSync } from "node:fs";

export interface CensusEntry {
  count: number;
  bytes: number;
}

/** Kind → objects of that kind. */
export type HeapCensus = Map<string, CensusEntry>;

interface SnapshotFile {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

/** Node types whose name says nothing shared across instances (a string's name is its text). */
const ANONYMOUS_TYPES = new Set(["string", "concatenated string", "sliced string", "number", "code", "regexp", "bigint"]);

/** The kind an object is counted under: its type, and for objects, closures and V8's parts, its name. */
function kindOf(type: string, name: string): string {
  if (ANONYMOUS_TYPES.has(type)) return `(${type})`;
  if (type === "object") return name;
  if (type === "closure") return `closure ${name || "(anonymous)"}`;
  return `${type} ${name}`;
}

export function censusOf(snapshotPath: string): HeapCensus {
  const file = JSON.parse(readFileSync(snapshotPath, "utf8")) as SnapshotFile;
  const fields = file.snapshot.meta.node_fields;
  const types = file.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf("type");
  const nameAt = fields.indexOf("name");
  const sizeAt = fields.indexOf("self_size");
  const census: HeapCensus = new Map();
  const { nodes, strings } = file;
  for (let at = 0; at < nodes.length; at += width) {
    const kind = kindOf(types[nodes[at + typeAt]], strings[nodes[at + nameAt]]);
    const entry = census.get(kind);
    if (entry) {
      entry.count++;
      entry.bytes += nodes[at + sizeAt];
    } else {
      census.set(kind, { count: 1, bytes: nodes[at + sizeAt] });
    }
  }
  return census;
}

/** What `after` has more of than `before`, per unit (a socket), kind by kind; kinds below `minBytes` per unit are left out. */
export function censusDelta(before: HeapCensus, after: HeapCensus, units: number, minBytes = 0.5): Map<string, CensusEntry> {
  const delta = new Map<string, CensusEntry>();
  for (const kind of new Set([...before.keys(), ...after.keys()])) {
    const a = after.get(kind) ?? { count: 0, bytes: 0 };
    const b = before.get(kind) ?? { count: 0, bytes: 0 };
    const bytes = (a.bytes - b.bytes) / units;
    if (Math.abs(bytes) < minBytes) continue;
    delta.set(kind, { count: (a.count - b.count) / units, bytes });
  }
  return delta;
}
