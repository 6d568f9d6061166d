// The end-of-test summary as text, for handleSummary: every metric with its values and every
// threshold marked ✓ or ✗, like k6's own summary. Local, so scripts run on hosts without
// internet access (a remote import fails already at `k6 inspect`).
import { BUCKET_METRIC, countsFrom, quantileRange } from "./buckets.js";
import { segmentOfThisProcess } from "./segment.js";

function number(value, contains) {
  if (typeof value !== "number" || !isFinite(value)) return String(value);
  if (contains === "time") return value >= 1000 ? `${(value / 1000).toFixed(2)}s` : `${value.toFixed(2)}ms`;
  if (contains === "data") return value >= 1048576 ? `${(value / 1048576).toFixed(1)} MiB` : value >= 1024 ? `${(value / 1024).toFixed(1)} KiB` : `${value} B`;
  return Number.isInteger(value) ? String(value) : value.toFixed(2);
}

function values(metric) {
  const v = metric.values;
  switch (metric.type) {
    case "counter":
      return `${number(v.count, metric.contains)}  ${number(v.rate, "default")}/s`;
    case "rate":
      return `${(100 * v.rate).toFixed(2)}%  ✓ ${v.passes}  ✗ ${v.fails}`;
    case "gauge":
      return `${number(v.value, metric.contains)}  min=${number(v.min, metric.contains)}  max=${number(v.max, metric.contains)}`;
    default:
      return Object.keys(v)
        .map((stat) => `${stat}=${number(v[stat], stat === "count" ? "default" : metric.contains)}`)
        .join("  ");
  }
}

function checkLines(group, indent, out) {
  for (const c of group.checks || []) {
    const mark = c.fails === 0 ? "✓" : "✗";
    out.push(`${indent}${mark} ${c.name}  (${c.passes} passed, ${c.fails} failed)`);
  }
  for (const g of group.groups || []) {
    out.push(`${indent}█ ${g.name}`);
    checkLines(g, indent + "  ", out);
  }
}

/** `textSummary(summary, {indent})`: the same use as jslib's k6-summary (colors are not used). */
export function textSummary(summary, options) {
  const indent = (options && options.indent) || " ";
  const out = [];
  checkLines(summary.root_group || {}, indent, out);
  if (out.length > 0) out.push("");
  // Histogram buckets are for combine.mjs; they show as one line of percentiles below.
  const names = Object.keys(summary.metrics)
    .filter((name) => !BUCKET_METRIC.test(name))
    .sort();
  const width = names.reduce((w, name) => Math.max(w, name.length), 0) + 2;
  for (const name of names) {
    const metric = summary.metrics[name];
    const thresholds = metric.thresholds || {};
    const failed = Object.keys(thresholds).some((t) => !thresholds[t].ok);
    const mark = Object.keys(thresholds).length === 0 ? " " : failed ? "✗" : "✓";
    out.push(`${indent}${mark} ${(name + " ").padEnd(width, ".")}: ${values(metric)}`);
    for (const t of Object.keys(thresholds)) out.push(`${indent}    ${thresholds[t].ok ? "✓" : "✗"} ${t}`);
  }
  return out.join("\n") + "\n";
}

function histogramLines(metrics, indent) {
  const counterValues = {};
  const histograms = new Set();
  for (const name of Object.keys(metrics)) {
    const m = BUCKET_METRIC.exec(name);
    if (!m) continue;
    histograms.add(m[1] || m[3]);
    counterValues[name] = metrics[name].values.count;
  }
  const ms = (v) => (v === Infinity ? "∞" : `${v}ms`);
  return [...histograms].sort().map((name) => {
    const counts = countsFrom(name, counterValues);
    const parts = [0.5, 0.9, 0.99, 1].map((q) => {
      const r = quantileRange(counts, q);
      return `${q === 1 ? "max" : `p(${q * 100})`} ${ms(r.above)}…${ms(r.atMost)}`;
    });
    return `${indent}  ${name} (buckets, mergeable): ${parts.join("  ")}`;
  });
}

/**
 * handleSummary's outputs: the text summary and `lines` on stdout, and the whole summary as JSON
 * in SUMMARY (default `<script>-summary.json`), tagged with the script, its parameters and this
 * process's execution segment so that combine.mjs can add up the processes of a split run.
 */
export function summaryOutputs(summary, script, params, lines) {
  const file = __ENV.SUMMARY || `${script}-summary.json`;
  const tagged = Object.assign({}, summary, { cinder: { script, params, split: segmentOfThisProcess() } });
  const text = textSummary(summary, { indent: " " }) + histogramLines(summary.metrics, " ").concat(lines).join("\n") + "\n";
  return { stdout: text, [file]: JSON.stringify(tagged, null, 2) };
}
