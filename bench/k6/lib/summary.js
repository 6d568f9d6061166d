// The end-of-test summary as text, for handleSummary: every metric with its values and every
// threshold marked ✓ or ✗, like k6's own summary. Local, so scripts run on hosts without
// internet access (a remote import fails already at `k6 inspect`).

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
        .map((stat) => `${stat}=${number(v[stat], metric.contains)}`)
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
  const names = Object.keys(summary.metrics).sort();
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
