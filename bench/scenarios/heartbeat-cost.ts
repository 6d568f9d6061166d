/**
 * The server CPU one phoenix heartbeat costs: N idle sockets (default 300) joined to one topic,
 * each sending a heartbeat every second for --hold-s seconds (default 20), no broadcasts; server
 * CPU time over the hold ÷ heartbeat replies received. Each target in turn, --runs times
 * alternating targets; medians and every run.
 *   npm run bench -- heartbeat-cost [--targets raw-uws,cinder] [--sockets 300] [--hold-s 20] [--runs 3]
 *                                   [--heartbeat-s 1] [--before DIR] [--no-pin] [--json]
 * `--heartbeat-s 0`: no heartbeats; the server CPU per second of the hold is what it spends idle.
 * `--before DIR` adds "cinder-before": the build of another checkout (DIR/dist/server/cli.js).
 */
import { parseFlags } from "../lib/flags.js";
import { type HeartbeatCostRun, measureHeartbeatCost } from "../lib/heartbeat-cost.js";
import { median } from "../lib/stats.js";
import { cinderFrom, findTarget } from "../lib/targets.js";

export async function run(args: string[]): Promise<void> {
  const f = parseFlags(args);
  const targets = f.strings("targets", ["raw-uws", "cinder"]).map(findTarget);
  if (f.has("before")) targets.push(cinderFrom(f.string("before", "")));
  const options = { sockets: f.number("sockets", 300), holdSeconds: f.number("hold-s", 20), heartbeatSeconds: f.number("heartbeat-s", 1), pin: !f.has("no-pin") };
  const runs: HeartbeatCostRun[] = [];
  for (let i = 0; i < f.number("runs", 3); i++) {
    for (const target of targets) {
      const r = await measureHeartbeatCost(target, options);
      runs.push(r);
      console.error(
        `${r.target}: ${r.joined} joined, failures ${r.failures}; ${r.heartbeats} heartbeats, ` +
          `server ${r.serverCpuSeconds.toFixed(3)} s CPU (${r.serverCpuMsPerSecond.toFixed(2)} ms/s), ${r.microsPerHeartbeat.toFixed(1)} µs/heartbeat`,
      );
    }
  }
  console.log(`\n${options.sockets} sockets, a heartbeat each every ${options.heartbeatSeconds} s for ${options.holdSeconds} s, node ${process.version}\n`);
  console.log("| target | µs server CPU per heartbeat (median) | server CPU ms per second of the hold (median) | runs (µs; ms/s) |");
  console.log("|---|---:|---:|---|");
  for (const target of targets) {
    const mine = runs.filter((r) => r.target === target.name);
    const micros = mine.map((r) => r.microsPerHeartbeat);
    const perSecond = mine.map((r) => r.serverCpuMsPerSecond);
    const each = `${micros.map((v) => v.toFixed(1)).join(", ")}; ${perSecond.map((v) => v.toFixed(2)).join(", ")}`;
    console.log(`| ${target.label} | ${median(micros).toFixed(1)} | ${median(perSecond).toFixed(2)} | ${each} |`);
  }
  if (f.has("json")) console.log(JSON.stringify({ sockets: options.sockets, holdSeconds: options.holdSeconds, node: process.version, runs }));
}
