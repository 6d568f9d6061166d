/**
 * The cost of one connection: N idle sockets (default 19,000), each joined to one channel
 * (presence off), against each target in turn, --runs times alternating targets; then one run
 * per target with heap snapshots, whose objects are counted by kind. Reports bytes per
 * connection (RSS, V8 heap, external, native = RSS − V8 heap pages), medians and every run.
 *   npm run bench -- connection-cost [--targets raw-uws,cinder] [--sockets 19000] [--runs 3]
 *                                    [--before DIR] [--channel plain|demo] [--settle-s 90] [--no-census] [--no-pin] [--json]
 * `--before DIR` adds "cinder-before": the build of another checkout (DIR/dist/server/cli.js), with
 * the same settings as `cinder`, alternated with the others in the same runs.
 * `--channel plain` (the default): Cinder serves `bench:*` with the channel raw uWS serves
 * (servers/plain-channel-app.ts, which keeps the user name, as raw uWS does); `demo`: the demo
 * app's `bench:*`, which also keeps a presence flag.
 * `--settle-s S`: after "joined", wait up to S seconds for V8 to give back the young generation it
 * grew during the storms (its memory reducer, once the server is idle) and sample again (0: not).
 */
import { join } from "node:path";

import { measureConnectionCost, type ConnectionCostRun } from "../lib/connection-cost.js";
import { censusTable, mediansTable, spacesTable, summarize } from "../lib/connection-cost-report.js";
import { parseFlags } from "../lib/flags.js";
import { fmtBytes } from "../lib/format.js";
import { repoRoot } from "../lib/repo-root.js";
import { cinderFrom, findTarget, type Target } from "../lib/targets.js";

/** Cinder serving the plain channel (servers/plain-channel-app.ts) instead of the demo app. */
function withPlainChannel(target: Target): Target {
  const app = join(repoRoot(), "dist", "bench", "servers", "plain-channel-app.js");
  return {
    ...target,
    command: (port) => {
      const { args, env } = target.command(port);
      return { args: [...args, "--app", app], env };
    },
  };
}

export interface ConnectionCostResult {
  sockets: number;
  node: string;
  runs: ConnectionCostRun[];
}

export async function measureAll(args: string[]): Promise<ConnectionCostResult> {
  const f = parseFlags(args);
  const targets = f.strings("targets", ["raw-uws", "cinder"]).map(findTarget);
  if (f.has("before")) targets.push(cinderFrom(f.string("before", "")));
  const channel = f.string("channel", "plain");
  if (channel !== "plain" && channel !== "demo") throw new Error(`--channel plain or demo, not ${channel}`);
  if (channel === "plain") for (const [i, target] of targets.entries()) if (target.name.startsWith("cinder")) targets[i] = withPlainChannel(target);
  const sockets = f.number("sockets", 19_000);
  const pin = !f.has("no-pin");
  const settleMs = f.number("settle-s", 90) * 1000;
  const runs: ConnectionCostRun[] = [];
  const once = async (target: Target, snapshots: boolean): Promise<void> => {
    // Runs with snapshots are for the census: no settled sample.
    const run = await measureConnectionCost(target, { sockets, pin, snapshots, settleMs: snapshots ? 0 : settleMs });
    runs.push(run);
    console.error(
      `${run.target}${snapshots ? " (snapshots)" : ""}: ${run.connected} connected, ${run.joined} joined, failures ${run.failures}; ` +
        `per connection RSS ${fmtBytes(run.total.rss)} (as found ${fmtBytes(run.total.rssAsFound)}), heap ${fmtBytes(run.total.heapUsed)}, native ${fmtBytes(run.total.native)}` +
        (run.samples.idle.settledAfterMs !== undefined ? `; idle sampled after ${(run.samples.idle.settledAfterMs / 1000).toFixed(1)} s${run.samples.idle.settled ? "" : " (young generation still grown)"}` : "") +
        (run.settled ? `; ${run.settled.settled ? "young generation given back" : "young generation still grown"} after ${(run.settled.waitedMs / 1000).toFixed(1)} s: RSS ${fmtBytes(run.settled.rss)}` : ""),
    );
  };
  for (let i = 0; i < f.number("runs", 3); i++) for (const target of targets) await once(target, false);
  const measured = [...runs];
  if (!f.has("no-census")) for (const target of targets) await once(target, true);
  // The medians come from runs without snapshots, which disturb RSS.
  return { sockets, node: process.version, runs: [...measured, ...runs.filter((r) => !measured.includes(r))] };
}

export async function run(args: string[]): Promise<void> {
  const result = await measureAll(args);
  const plain = result.runs.filter((r) => !r.census);
  console.log(`\n${result.sockets} sockets, one channel each, node ${result.node}\n`);
  console.log(mediansTable(summarize(plain)));
  console.log(`\n${spacesTable(plain)}`);
  if (result.runs.some((r) => r.census)) {
    console.log(`\n${censusTable(result.runs, "upgrade")}\n\n${censusTable(result.runs, "join")}`);
  }
  if (parseFlags(args).has("json")) console.log(JSON.stringify(result));
}
