/**
 * The side-by-side run: raw uWS (ceiling), Socket.IO and Cinder under the same
 * client, payload and cores, at several subscriber counts, K=1 and K=32 in
 * flight, medians of --runs; then the held-subscriptions test (10,000 × 100).
 * Writes bench/results/compare.{json,md,svg}.
 *   npm run bench -- compare [--targets raw-uws,socketio,cinder,cinder-w2] [--subscribers 1000,10000,19000]
 *                            [--inflight 1,32] [--runs 3] [--duration 5] [--warmup 1]
 *                            [--million-targets raw-uws,cinder] [--million-sockets 10000] [--million-topics 100]
 *                            [--out compare]   (bench/results/<out>.{json,md,svg}: one name per runtime compared)
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { type CompareResults, fanoutCells, type MillionResult, sizeCell } from "../lib/compare-results.js";
import { printMeasurement } from "../lib/console-table.js";
import { parseFlags } from "../lib/flags.js";
import { machineInfo } from "../lib/machine-info.js";
import { CLIENT_CORE, type Measurement, measure, SERVER_CORE } from "../lib/measure.js";
import { repoRoot } from "../lib/repo-root.js";
import { renderChart } from "../lib/results-chart.js";
import { renderMarkdown } from "../lib/results-markdown.js";
import { findTarget, type Target } from "../lib/targets.js";

const BODY_SIZE = 100;

async function million(target: Target, sockets: number, topics: number): Promise<MillionResult> {
  const base = { target: target.name, sockets, topics, subscriptions: 0, broadcasts: 0, deliveries: 0, missing: 0 };
  try {
    const m = await measure(target, {
      sockets,
      topics,
      inflight: [4],
      messages: topics,
      durationSeconds: 120,
      holdSeconds: 2,
      settleSeconds: 1,
      bodySize: BODY_SIZE,
    });
    printMeasurement(m);
    const round = m.rounds[0];
    return {
      ...base,
      subscriptions: m.subscriptions,
      broadcasts: round?.broadcasts ?? 0,
      deliveries: round?.deliveries ?? 0,
      missing: (round?.missing ?? 0) + (round ? 0 : m.subscriptions),
      seconds_to_deliver: round?.window_s ?? 0,
      server_rss_bytes: m.server_rss_bytes.joined,
      bytes_per_subscription: m.bytes_per_subscription,
    };
  } catch (err) {
    return { ...base, seconds_to_deliver: 0, server_rss_bytes: 0, bytes_per_subscription: 0, error: (err as Error).message };
  }
}

export async function run(args: string[]): Promise<void> {
  const f = parseFlags(args);
  const targets = f.strings("targets", ["raw-uws", "socketio", "cinder", "cinder-w2"]).map(findTarget);
  const sizes = f.numbers("subscribers", [1000, 10_000, 19_000]);
  const inflight = f.numbers("inflight", [1, 32]);
  const runs = f.number("runs", 3);
  const duration = f.number("duration", 5);
  const warmup = f.number("warmup", 1);
  const results: CompareResults = {
    date: new Date().toISOString(),
    machine: machineInfo(),
    settings: { duration_s: duration, warmup_s: warmup, runs, body_size: BODY_SIZE, server_core: SERVER_CORE, client_core: CLIENT_CORE },
    fanout: [],
    sizes: [],
    million: [],
    errors: [],
  };
  for (const target of targets) {
    for (const subscribers of sizes) {
      const done: Measurement[] = [];
      for (let i = 0; i < runs; i++) {
        try {
          const m = await measure(target, {
            sockets: subscribers,
            topics: 1,
            inflight,
            warmupSeconds: warmup,
            durationSeconds: duration,
            bodySize: BODY_SIZE,
          });
          printMeasurement(m);
          done.push(m);
        } catch (err) {
          console.error(`${target.name} at ${subscribers}: ${(err as Error).message}`);
          results.errors.push({ target: target.name, subscribers, error: (err as Error).message });
        }
      }
      if (done.length === 0) continue;
      results.fanout.push(...fanoutCells(target.name, subscribers, done));
      results.sizes.push(sizeCell(target.name, subscribers, done));
    }
  }
  const millionSockets = f.number("million-sockets", 10_000);
  const millionTopics = f.number("million-topics", 100);
  for (const name of f.strings("million-targets", ["raw-uws", "cinder"])) {
    if (!targets.some((t) => t.name === name)) continue;
    results.million.push(await million(findTarget(name), millionSockets, millionTopics));
  }
  const dir = join(repoRoot(), "bench", "results");
  const out = f.string("out", "compare");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${out}.json`), JSON.stringify(results, null, 2) + "\n");
  writeFileSync(join(dir, `${out}.md`), renderMarkdown(results, `${out}.svg`));
  writeFileSync(join(dir, `${out}.svg`), renderChart(results));
  console.log(renderMarkdown(results, `${out}.svg`));
}
