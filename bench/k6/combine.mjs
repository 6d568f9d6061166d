#!/usr/bin/env node
// One result from the k6 processes of a split run (k6 run --execution-segment …): adds up the
// summaries each process wrote (handleSummary's *-summary.json, or --summary-export) and checks
// the thresholds again on the sums.
//   node bench/k6/combine.mjs [--json combined.json] part-1.json part-2.json …
//
// What adds up exactly: counters (counts; rates per second add, the processes ran side by side),
// rates (passes and fails), a trend's count, min, max and, given its count, its mean, and the
// latency bucket counters (lib/latency-histogram.js), from which percentiles are read to within
// one bucket. What does not: a trend's percentiles. The median of medians is not the median, so
// for those the result is a range — the combined q-percentile lies between the lowest and the
// highest process's q-percentile (each process has a share q of its samples at or below its own,
// so all of them together have a share q at or below the highest; likewise above the lowest).
// A threshold on such a range passes when the whole range passes, fails when none of it does,
// and is otherwise reported as undecided. Gauges (vus …) are last values: their sum is the total
// at the end, the sum of the per-process maxima only an upper bound of the total's maximum.
import { readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";

import { BUCKET_METRIC, countsFrom, quantileRange } from "./lib/buckets.js";

/** One input in the handleSummary shape: {metrics: {name: {type, contains, values, thresholds}}, cinder?}. */
function load(file) {
  let raw;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    console.error(`cannot read ${file}: ${error.message}`);
    process.exit(2);
  }
  if (!raw.metrics) throw new Error(`${file}: not a k6 summary (no "metrics")`);
  const metrics = {};
  for (const [name, m] of Object.entries(raw.metrics)) metrics[name] = m.values ? m : fromSummaryExport(m);
  return { file, metrics, cinder: raw.cinder || null };
}

/** --summary-export writes values flat, thresholds as {expression: failed}, and no type. */
function fromSummaryExport(m) {
  const { thresholds = {}, ...values } = m;
  const type = "passes" in values ? "rate" : "value" in values ? "gauge" : Object.keys(values).sort().join() === "count,rate" ? "counter" : "trend";
  if (type === "rate") values.rate = values.value;
  const marked = {};
  for (const [expr, failed] of Object.entries(thresholds)) marked[expr] = { ok: !failed };
  return { type, contains: "default", values, thresholds: marked };
}

// ---- execution segments: the processes together must run the whole test, once ----

/** "1/3", "0.25", "25%" → [numerator, denominator] as BigInts. */
function fraction(text) {
  const t = text.trim();
  if (t.endsWith("%")) {
    const [n, d] = fraction(t.slice(0, -1));
    return [n, d * 100n];
  }
  if (t.includes("/")) {
    const [n, d] = t.split("/");
    return [BigInt(n), BigInt(d)];
  }
  const [whole, decimals = ""] = t.split(".");
  return [BigInt(whole + decimals), 10n ** BigInt(decimals.length)];
}
const less = ([a, b], [c, d]) => a * d < c * b;
const same = ([a, b], [c, d]) => a * d === c * b;

function checkSplit(parts) {
  const split = parts.map((p) => p.cinder && p.cinder.split);
  if (split.every((s) => s === undefined || s === null)) {
    return parts.length === 1 ? "one process, the whole test" : "segments unknown (inputs carry no execution segment): check them yourself";
  }
  if (split.some((s) => !s)) return "PROBLEM: some inputs ran the whole test, others a segment";
  const sequences = new Set(split.map((s) => s.sequence));
  const ranges = split.map((s) => s.segment.split(":").map(fraction)).sort((x, y) => (less(x[0], y[0]) ? -1 : 1));
  let at = [0n, 1n];
  for (const [from, to] of ranges) {
    if (!same(from, at)) return `PROBLEM: segments ${split.map((s) => s.segment).join(", ")} leave a gap or overlap`;
    at = to;
  }
  if (!same(at, [1n, 1n])) return `PROBLEM: segments ${split.map((s) => s.segment).join(", ")} stop short of 1`;
  const seq = sequences.size === 1 ? ` of sequence ${[...sequences][0] || "(none given)"}` : " (PROBLEM: different sequences)";
  return `${parts.length} segments ${split.map((s) => s.segment).join(", ")}${seq}: the whole test once`;
}

// ---- metrics ----

const exact = (v) => ({ lo: v, hi: v });

/** {stat: {lo, hi}} of one metric over every process that has it. */
function combineMetric(type, all) {
  const sum = (stat) => all.reduce((a, v) => a + (v[stat] || 0), 0);
  const has = (stat) => all.every((v) => typeof v[stat] === "number");
  switch (type) {
    case "counter":
      return { count: exact(sum("count")), rate: exact(sum("rate")) };
    case "rate": {
      const passes = sum("passes");
      const fails = sum("fails");
      return { rate: exact(passes + fails > 0 ? passes / (passes + fails) : 0), passes: exact(passes), fails: exact(fails) };
    }
    case "gauge":
      return { value: exact(sum("value")), max: { lo: Math.max(...all.map((v) => v.max)), hi: sum("max") } };
    default: {
      const out = {};
      if (has("count")) out.count = exact(sum("count"));
      if (has("min")) out.min = exact(Math.min(...all.map((v) => v.min)));
      if (has("max")) out.max = exact(Math.max(...all.map((v) => v.max)));
      if (has("avg") && has("count") && out.count.lo > 0) out.avg = exact(all.reduce((a, v) => a + v.avg * v.count, 0) / out.count.lo);
      for (const stat of Object.keys(all[0])) {
        if (stat in out || !has(stat)) continue;
        if (stat === "avg") out.avg = { lo: Math.min(...all.map((v) => v.avg)), hi: Math.max(...all.map((v) => v.avg)) };
        else out[stat] = { lo: Math.min(...all.map((v) => v[stat])), hi: Math.max(...all.map((v) => v[stat])) };
      }
      return out;
    }
  }
}

/** Percentile stats of histogram-backed trends, from the summed bucket counters. */
function fromBuckets(name, combined) {
  const counterValues = {};
  for (const [metric, c] of Object.entries(combined)) if (c.type === "counter") counterValues[metric] = c.stats.count.lo;
  const counts = countsFrom(name, counterValues);
  const stat = (q) => {
    const r = quantileRange(counts, q);
    return r && { lo: r.above, hi: r.atMost };
  };
  return { med: stat(0.5), max: stat(1), percentile: (p) => stat(p / 100) };
}

function combineAll(parts) {
  const names = new Set(parts.flatMap((p) => Object.keys(p.metrics)));
  const combined = {};
  for (const name of names) {
    const present = parts.map((p) => p.metrics[name]).filter(Boolean);
    const type = present[0].type;
    combined[name] = { type, contains: present[0].contains, processes: present.length, stats: combineMetric(type, present.map((m) => m.values)) };
    combined[name].thresholds = [...new Set(present.flatMap((m) => Object.keys(m.thresholds || {})))];
  }
  const histograms = new Set([...names].map((n) => BUCKET_METRIC.exec(n)).filter(Boolean).map((m) => m[1] || m[3]));
  for (const name of histograms) {
    const trend = combined[name];
    if (!trend || trend.type !== "trend") continue;
    const buckets = fromBuckets(name, combined);
    trend.fromBuckets = true;
    for (const stat of Object.keys(trend.stats)) {
      const p = /^p\((\d+(?:\.\d+)?)\)$/.exec(stat);
      const r = stat === "med" ? buckets.med : p ? buckets.percentile(parseFloat(p[1])) : null;
      if (r) trend.stats[stat] = r;
    }
  }
  return combined;
}

// ---- thresholds ----

const COMPARE = {
  "<": (a, b) => a < b,
  "<=": (a, b) => a <= b,
  ">": (a, b) => a > b,
  ">=": (a, b) => a >= b,
  "==": (a, b) => a === b,
  "===": (a, b) => a === b,
  "!=": (a, b) => a !== b,
};

/** "pass", "fail" or "undecided" for a threshold on a {lo, hi} range. */
function judge(expr, stats) {
  const m = /^\s*([a-z]+(?:\(\s*[\d.]+\s*\))?)\s*(<=|>=|===|==|!=|<|>)\s*(-?[\d.eE+]+)\s*$/.exec(expr);
  if (!m) return { verdict: "undecided", why: "expression not understood" };
  const stat = m[1].replace(/\s/g, "") === "p(50)" && !stats["p(50)"] ? "med" : m[1].replace(/\s/g, "");
  const range = stats[stat];
  if (!range) return { verdict: "undecided", why: `${stat} not in the summaries (add it to summaryTrendStats)` };
  const test = COMPARE[m[2]];
  const limit = parseFloat(m[3]);
  const lo = test(range.lo, limit);
  const hi = test(range.hi, limit);
  const verdict = lo && hi ? "pass" : !lo && !hi ? "fail" : "undecided";
  return { verdict, stat, range };
}

// ---- what the scripts promise, in the whole test ----

const SCRIPT_CHECKS = {
  subscribers(count, params) {
    return [`sockets: ${count("sockets_planned")} planned of ${params.SOCKETS}, ${count("sockets_opened")} opened, ` +
      `${count("sockets_fully_joined")} joined every topic, ${count("sockets_failed")} failed, ${count("sockets_closed_early")} closed early`];
  },
  fanout(count, params) {
    const expected = count("broadcasts_sent") * count("subscribers_joined");
    const got = count("broadcasts_received");
    return [
      `subscribers: ${count("sockets_planned")} planned of ${params.SOCKETS}, ${count("subscribers_joined")} joined before the first ` +
        `broadcast, ${count("subscribers_joined_late")} later, ${count("sockets_failed")} failed, ${count("sockets_closed_early")} closed early`,
      `broadcasts sent ${count("broadcasts_sent")}, deliveries ${got} of ${expected} expected, missing ${expected - got}` +
        (expected ? ` (${((100 * got) / expected).toFixed(3)} % delivered)` : ""),
    ];
  },
  presence(count, params) {
    const expected = count("presence_churns") * params.MEMBERS;
    return [`churns ${count("presence_churns")}: joins seen ${count("presence_joins_seen")} / leaves seen ${count("presence_leaves_seen")} of ~${expected} each`];
  },
  "presence-storm"(count, params) {
    return [`members that saw the full list: ${count("storm_list_completed")} of ${params.MEMBERS}`];
  },
};

// ---- output ----

function show(v, contains) {
  if (v === Infinity) return "∞";
  if (!Number.isFinite(v)) return String(v);
  if (contains === "time") return v >= 1000 ? `${(v / 1000).toFixed(2)}s` : `${+v.toFixed(2)}ms`;
  return Number.isInteger(v) ? String(v) : v.toFixed(4).replace(/\.?0+$/, "");
}

/** count, avg, min, med, max, then percentiles in rising order (k6's own summary order). */
function statOrder(stat) {
  const p = /^p\((.+)\)$/.exec(stat);
  return p ? 10 + parseFloat(p[1]) : ["count", "rate", "passes", "fails", "value", "avg", "min", "med", "max"].indexOf(stat);
}

function line(name, m) {
  const ordered = Object.entries(m.stats).sort(([a], [b]) => statOrder(a) - statOrder(b));
  const stats = ordered.map(([stat, r]) => {
    const contains = stat === "count" || m.type !== "trend" ? "default" : m.contains;
    return r.lo === r.hi ? `${stat}=${show(r.lo, contains)}` : `${stat}=${show(r.lo, contains)}…${show(r.hi, contains)}`;
  });
  const note = m.fromBuckets ? " (percentiles from buckets)" : "";
  return `  ${name.padEnd(32, ".")} ${stats.join("  ")}${note}`;
}

function main() {
  const { values, positionals } = parseArgs({ options: { json: { type: "string" } }, allowPositionals: true });
  if (positionals.length === 0) {
    console.error("usage: node bench/k6/combine.mjs [--json combined.json] summary.json …");
    process.exit(2);
  }
  const parts = positionals.map(load);
  const scripts = new Set(parts.map((p) => p.cinder && p.cinder.script));
  const params = new Set(parts.map((p) => JSON.stringify(p.cinder && p.cinder.params)));
  const out = [`${parts.length} summaries: ${checkSplit(parts)}`];
  if (scripts.size > 1 || params.size > 1) out.push("PROBLEM: the inputs come from different scripts or parameters");
  const combined = combineAll(parts);
  out.push("", "metrics (a…b: the combined value lies in this range; see the top of combine.mjs)");
  for (const name of Object.keys(combined).sort()) if (!BUCKET_METRIC.test(name)) out.push(line(name, combined[name]));

  const thresholds = [];
  for (const [name, m] of Object.entries(combined)) for (const expr of m.thresholds) thresholds.push({ metric: name, expr, ...judge(expr, m.stats) });
  out.push("", "thresholds on the combined result");
  const mark = { pass: "✓", fail: "✗", undecided: "?" };
  for (const t of thresholds) {
    const value = t.range ? (t.range.lo === t.range.hi ? show(t.range.lo) : `${show(t.range.lo)}…${show(t.range.hi)}`) : t.why;
    out.push(`  ${mark[t.verdict]} ${t.metric} ${t.expr}  (${value})`);
  }

  const script = parts[0].cinder && parts[0].cinder.script;
  const derived = SCRIPT_CHECKS[script] ? SCRIPT_CHECKS[script]((n) => (combined[n] ? combined[n].stats.count?.lo ?? combined[n].stats.passes?.lo ?? 0 : 0), parts[0].cinder.params) : [];
  if (derived.length) out.push("", `${script}, whole test`, ...derived.map((l) => `  ${l}`));
  console.log(out.join("\n"));

  if (values.json) {
    writeFileSync(values.json, JSON.stringify({ inputs: positionals, split: checkSplit(parts), script, metrics: combined, thresholds, derived }, null, 2));
  }
  process.exit(thresholds.some((t) => t.verdict === "fail") ? 99 : 0);
}

main();
