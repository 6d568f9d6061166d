/** The markdown tables of `npm run bench -- history`: medians over the runs. */
import { fmtBytes, fmtMicros, fmtRate } from "./format.js";
import type { FanoutRound, RedisCost } from "./history-fanout.js";
import type { MemoryResult } from "./history-memory.js";
import { totalCalls } from "./history-redis-stats.js";
import type { RecoveryResult } from "./history-recovery.js";
import { median } from "./stats.js";

/** Nearest-rank percentile (as the native client reports its latencies). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.round(p * (sorted.length - 1))];
}

/** Items grouped by key, in first-seen order. */
function groupBy<T>(items: readonly T[], key: (item: T) => string): T[][] {
  const groups = new Map<string, T[]>();
  for (const item of items) groups.set(key(item), [...(groups.get(key(item)) ?? []), item]);
  return [...groups.values()];
}

const ms = (n: number): string => fmtMicros(n * 1000);

/** Lines under a table, after a blank one. */
function footnote(...lines: string[]): void {
  console.log(`\n${lines.join("\n")}`);
}

// ── part 1 ──

export function printFanout(rounds: readonly FanoutRound[], sockets: number): void {
  console.log(`\n### 1. Fan-out with history on (room:) vs off (bench:), ${sockets.toLocaleString("en")} subscribers on one topic\n`);
  console.log(
    "| setup | in flight | deliveries/s off | deliveries/s on | on/off | p50 off | p50 on | p99 off | p99 on | " +
      "node CPU ms/1,000 broadcasts off | on | missing off / on |",
  );
  console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const group of groupBy(rounds, (r) => `${r.setup}|${r.inflight}`)) {
    const side = (history: boolean) => group.filter((r) => r.history === history);
    const m = (history: boolean, pick: (r: FanoutRound) => number): number => median(side(history).map(pick));
    const missing = (history: boolean): number => Math.max(0, ...side(history).map((r) => r.missing));
    const off = m(false, (r) => r.deliveriesPerS);
    const on = m(true, (r) => r.deliveriesPerS);
    console.log(
      `| ${group[0].setup} | ${group[0].inflight} | ${fmtRate(off)} | ${fmtRate(on)} | ${off > 0 ? (on / off).toFixed(2) : "–"} | ` +
        `${ms(m(false, (r) => r.p50Ms))} | ${ms(m(true, (r) => r.p50Ms))} | ${ms(m(false, (r) => r.p99Ms))} | ${ms(m(true, (r) => r.p99Ms))} | ` +
        `${m(false, (r) => r.nodeCpuMsPer1k).toFixed(0)} | ${m(true, (r) => r.nodeCpuMsPer1k).toFixed(0)} | ${missing(false)} / ${missing(true)} |`,
    );
  }
  footnote(
    "complete = from the push until the last subscriber has the broadcast. Node CPU: user+sys of all node processes",
    "over the measured window / broadcasts completed in it (two nodes: their sum).",
  );
}

// ── part 2 ──

const LISTED_COMMANDS = ["eval", "publish", "xadd", "incr", "expire", "get"] as const;

export function printRedisCost(costs: readonly RedisCost[], setup: string): void {
  console.log(`\n### 2. Redis per broadcast, ${setup}, history off vs on\n`);
  const header = LISTED_COMMANDS.map((c) => c.toUpperCase()).join(" | ");
  console.log(`| history | broadcasts per run | ${header} | other | all commands | Redis CPU ms per 1,000 broadcasts |`);
  console.log(`|---|---:|${LISTED_COMMANDS.map(() => "---:|").join("")}---:|---:|---:|`);
  for (const group of groupBy(costs, (c) => String(c.history))) {
    const per = (pick: (c: RedisCost) => number): number => median(group.map((c) => (c.broadcasts > 0 ? pick(c) / c.broadcasts : 0)));
    const listed = LISTED_COMMANDS.map((name) => per((c) => c.work.calls.get(name) ?? 0));
    const all = per((c) => totalCalls(c.work));
    const other = all - listed.reduce((a, b) => a + b, 0);
    console.log(
      `| ${group[0].history ? "on" : "off"} | ${median(group.map((c) => c.broadcasts)).toFixed(0)} | ` +
        `${listed.map((n) => n.toFixed(2)).join(" | ")} | ${other.toFixed(2)} | ${all.toFixed(2)} | ` +
        `${(per((c) => c.work.cpuSeconds) * 1e6).toFixed(1)} |`,
    );
  }
  const rate = (pick: (c: RedisCost) => number): string => median(costs.map((c) => (c.background.seconds > 0 ? pick(c) / c.background.seconds : 0))).toFixed(1);
  footnote(
    "INFO commandstats and INFO cpu (used_cpu_sys + used_cpu_user) from the moment every socket had joined to the",
    "client's exit (both in-flight rounds, warm-ups included), / the broadcasts of that run. Commands a Lua script runs are",
    "counted under their own names (the history script's GET, INCR, XADD, EXPIRE and PUBLISH), its EVAL once more.",
    "The idle cluster's background (liveness keys, gossip), measured for 2 s before each client run, is taken off: median",
    `${rate((c) => totalCalls(c.background))} commands/s and ${rate((c) => c.background.cpuSeconds * 1000)} ms of Redis CPU per second.`,
  );
}

// ── part 3 ──

export function printRecovery(results: readonly RecoveryResult[]): void {
  const first = results[0];
  console.log(`\n### 3. Recovery: ${first.clients.toLocaleString("en")} clients rejoin at once, ${first.missed} missed messages each\n`);
  console.log(
    "| setup | join reply p50 | join reply p99 | all replayed p50 | all replayed p99 | last client (total) | " +
      "recovered: true | exactly the missed offsets | bench client CPU share | opening the sockets (not counted) |",
  );
  console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const group of groupBy(results, (r) => r.setup)) {
    const m = (pick: (r: RecoveryResult) => number): number => median(group.map(pick));
    const worst = (pick: (r: RecoveryResult) => number): number => Math.min(...group.map(pick));
    console.log(
      `| ${group[0].setup} | ${ms(m((r) => percentile(r.replyMs, 0.5)))} | ${ms(m((r) => percentile(r.replyMs, 0.99)))} | ` +
        `${ms(m((r) => percentile(r.doneMs, 0.5)))} | ${ms(m((r) => percentile(r.doneMs, 0.99)))} | ${ms(m((r) => Math.max(...r.doneMs)))} | ` +
        `${worst((r) => r.recovered)}/${first.clients} | ${worst((r) => r.exact)}/${first.clients} | ` +
        `${m((r) => r.clientCpuShare).toFixed(2)} | ${ms(m((r) => r.connectMs))} |`,
    );
  }
  footnote(
    "From sending the rejoins (all in one go, on fresh sockets) until each client's join reply / its last replayed message;",
    "recovered and exact: the worst run. CPU share: the bench process's CPU time / wall time over the rejoin (near 1.00:",
    "the Node client, parsing every frame, was the limit). room:* keeps max(200, missed) messages here (demo: 200).",
  );
}

// ── part 4 ──

export function printMemory(results: readonly MemoryResult[]): void {
  console.log(`\n### 4. Memory per retained message (${results[0].retained.toLocaleString("en")} messages, history on room:*)\n`);
  console.log(
    "| setup | stored frame | node RSS per message | node heap per message (after GC) | " +
      "Redis used_memory per message | Redis stream per entry | Redis :seq + :epoch per topic |",
  );
  console.log("|---|---:|---:|---:|---:|---:|---:|");
  for (const group of groupBy(results, (r) => r.setup)) {
    const m = (pick: (r: MemoryResult) => number): number => median(group.map(pick));
    const redis = (pick: (r: NonNullable<MemoryResult["redis"]>) => number): string =>
      group[0].redis ? fmtBytes(m((r) => (r.redis ? pick(r.redis) : 0))) : "–";
    console.log(
      `| ${group[0].setup} | ${m((r) => r.frameChars)} chars | ${fmtBytes(m((r) => r.rssPerMessage))} | ` +
        `${fmtBytes(m((r) => r.heapPerMessage))} | ${redis((r) => r.usedPerMessage)} | ${redis((r) => r.streamPerEntry)} | ` +
        `${redis((r) => r.topicKeysBytes)} |`,
    );
  }
  footnote(
    "Before and after the fill (every topic joined by the filling client in both): node RSS, and the V8 heap after a",
    "full GC through the node's inspector; INFO memory used_memory; MEMORY USAGE … SAMPLES 0 of room:m0's keys / XLEN.",
    "With Redis, the node keeps each subscribed topic's recent frames too (to close the gap of a join's read).",
  );
}
