/**
 * The one metric reader of the tests, over Prometheus text (what /metrics serves).
 *
 * `metricValue(text, name, labels)` is the SUM of the samples named `name` whose labels include
 * every pair of `labels` (other labels are free): no labels sums the whole family, all of a
 * sample's labels pick that one sample. A family that is declared (# TYPE) but has no matching
 * sample reads 0, as Prometheus reads a labelled counter nobody has incremented yet. A name that
 * is not in the text at all reads `undefined`. Histogram and summary series are read by their
 * sample names (`_count`, `_sum`, `_bucket` with its `le`).
 *
 * `metricGroup(historyMetrics)` declares one feature's group on a registry of its own, for a test
 * of that feature alone; a test of a whole thread reads the server's metrics instead.
 */
import { metricsRegistry, type Registry } from "../../server/ops/metrics.js";

export type MetricLabels = Record<string, string>;

/** Where metrics are read: a server in this process, a registry, or anything listening on a loopback port (a node process: GET /metrics). */
export type MetricSource = { metricsText(): Promise<string> } | { registry: { metrics(): Promise<string> } } | { port: number };

export function metricValue(text: string, name: string, labels: MetricLabels = {}): number | undefined {
  const family = name.replace(/_(bucket|sum|count)$/, "");
  let declared = false;
  let sum = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) {
      const [, keyword, declaredName] = line.split(" ");
      if (keyword === "TYPE" && (declaredName === name || declaredName === family)) declared = true;
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!sample || sample[1] !== name) continue;
    declared = true;
    const have = parseLabels(sample[2] ?? "");
    if (Object.entries(labels).every(([key, value]) => have[key] === value)) sum += Number(sample[3]);
  }
  return declared ? sum : undefined;
}

/** `metricValue` of the source's current metrics; a metric the source does not expose at all fails the test (a misspelt name reads nothing, silently). */
export async function metricOf(source: MetricSource, name: string, labels: MetricLabels = {}): Promise<number> {
  const text = await metricsText(source);
  const value = metricValue(text, name, labels);
  if (value === undefined) throw new Error(`no metric ${name} in ${describe(source)}`);
  return value;
}

/** The source's metrics as Prometheus text. */
export async function metricsText(source: MetricSource): Promise<string> {
  if ("metricsText" in source) return source.metricsText();
  if ("registry" in source) return source.registry.metrics();
  return (await fetch(`http://127.0.0.1:${source.port}/metrics`)).text();
}

function describe(source: MetricSource): string {
  if ("metricsText" in source) return "the server's metrics";
  if ("registry" in source) return "the registry";
  return `/metrics of port ${source.port}`;
}

/** A feature's metric group on a fresh registry (no process metrics), readable with `metricOf`. */
export function metricGroup<G extends object>(declare: (registry: Registry) => G): G & { registry: Registry } {
  const registry = metricsRegistry();
  return { registry, ...declare(registry) };
}

/** `a="1",b="x \"y\""` → {a: "1", b: 'x "y"'}. */
function parseLabels(text: string): MetricLabels {
  const labels: MetricLabels = {};
  for (const [, key, value] of text.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
    labels[key] = value.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
  }
  return labels;
}
