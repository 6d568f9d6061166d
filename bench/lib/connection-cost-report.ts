/** The connection-cost benchmark's tables: medians per target, every run, and the heap census. */
import type { CensusEntry } from "./heap-census.js";
import type { ConnectionCostRun, PerConnection } from "./connection-cost.js";
import { median } from "./stats.js";

/** Every row of the medians table: where in the run, and what was measured. */
export const PARTS: ReadonlyArray<{ label: string; span: "total" | "upgrade" | "join" | "settled"; key: keyof PerConnection }> = [
  { label: "RSS as found (no forced GC)", span: "total", key: "rssAsFound" },
  { label: "RSS after full GC", span: "total", key: "rss" },
  { label: "V8 heap used", span: "total", key: "heapUsed" },
  { label: "V8 heap pages resident", span: "total", key: "heapPhysical" },
  { label: "external (native memory V8 knows of)", span: "total", key: "external" },
  { label: "  of which ArrayBuffers", span: "total", key: "arrayBuffers" },
  { label: "native: RSS − V8 heap pages", span: "total", key: "native" },
  { label: "  of which V8's own malloc", span: "total", key: "v8Malloced" },
  { label: "upgrade: RSS", span: "upgrade", key: "rss" },
  { label: "upgrade: V8 heap used", span: "upgrade", key: "heapUsed" },
  { label: "join: RSS", span: "join", key: "rss" },
  { label: "join: V8 heap used", span: "join", key: "heapUsed" },
  { label: "RSS once V8 gave back the young generation", span: "settled", key: "rss" },
  { label: "  V8 heap pages resident then", span: "settled", key: "heapPhysical" },
];

export interface ConnectionCostSummary {
  targets: string[];
  /** Target → part label → median bytes per connection. */
  medians: Record<string, Record<string, number>>;
  /** Target → part label → every run's bytes per connection, in run order. */
  runs: Record<string, Record<string, number[]>>;
}

export function summarize(runs: readonly ConnectionCostRun[]): ConnectionCostSummary {
  const targets = [...new Set(runs.map((r) => r.target))];
  const summary: ConnectionCostSummary = { targets, medians: {}, runs: {} };
  for (const target of targets) {
    const mine = runs.filter((r) => r.target === target);
    summary.medians[target] = {};
    summary.runs[target] = {};
    for (const part of PARTS) {
      // A run without a settled sample has none of its rows.
      const values = mine.map((r) => r[part.span]?.[part.key]).filter((v): v is number => v !== undefined);
      summary.runs[target][part.label] = values;
      summary.medians[target][part.label] = median(values);
    }
  }
  return summary;
}

const bytes = (n: number): string => (Number.isFinite(n) ? n.toFixed(0) : String(n));

function table(head: string[], rows: string[][]): string {
  return [`| ${head.join(" | ")} |`, `|${head.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n");
}

/** Medians, bytes per connection, one column per target (all runs in brackets). */
export function mediansTable(summary: ConnectionCostSummary): string {
  const rows = PARTS.map((part) => [
    part.label,
    ...summary.targets.map((t) => `${bytes(summary.medians[t][part.label])} (${summary.runs[t][part.label].map(bytes).join(", ")})`),
  ]);
  return table(["bytes per connection, median (runs)", ...summary.targets], rows);
}

/** Heap objects per connection by kind, for every target that has a census; the largest first. */
export function censusTable(runs: readonly ConnectionCostRun[], span: "upgrade" | "join"): string {
  const withCensus = runs.filter((r) => r.census);
  const targets = [...new Set(withCensus.map((r) => r.target))];
  const byTarget = new Map(targets.map((t) => [t, withCensus.find((r) => r.target === t)?.census?.[span] ?? {}]));
  const kinds = new Set(targets.flatMap((t) => Object.keys(byTarget.get(t) ?? {})));
  const largest = (kind: string): number => Math.max(...targets.map((t) => Math.abs(byTarget.get(t)?.[kind]?.bytes ?? 0)));
  const cell = (entry: CensusEntry | undefined): string => (entry ? `${bytes(entry.bytes)} B × ${entry.count.toFixed(2)}` : "");
  const rows = [...kinds].sort((a, b) => largest(b) - largest(a)).map((kind) => [kind, ...targets.map((t) => cell(byTarget.get(t)?.[kind]))]);
  const sum = (t: string): number => Object.values(byTarget.get(t) ?? {}).reduce((total, e) => total + e.bytes, 0);
  rows.push(["all kinds above", ...targets.map((t) => `${bytes(sum(t))} B`)]);
  return table([`${span}: heap objects per connection`, ...targets], rows);
}

/**
 * Per V8 heap space, idle → joined, per connection: live bytes and resident pages (medians over
 * runs). Pages beyond live bytes are room the heap keeps: a grown young generation, fragments.
 */
export function spacesTable(runs: readonly ConnectionCostRun[]): string {
  const targets = [...new Set(runs.map((r) => r.target))];
  const names = [...new Set(runs.flatMap((r) => Object.keys(r.samples.joined.spaces ?? {})))];
  const per = (run: ConnectionCostRun, name: string, key: "used" | "physical"): number =>
    ((run.samples.joined.spaces?.[name]?.[key] ?? 0) - (run.samples.idle.spaces?.[name]?.[key] ?? 0)) / run.connected;
  const rows = names.map((name) => [
    name,
    ...targets.map((t) => {
      const mine = runs.filter((r) => r.target === t);
      return `${bytes(median(mine.map((r) => per(r, name, "used"))))} / ${bytes(median(mine.map((r) => per(r, name, "physical"))))}`;
    }),
  ]);
  return table(["V8 heap space: live / resident bytes per connection, median", ...targets], rows);
}
