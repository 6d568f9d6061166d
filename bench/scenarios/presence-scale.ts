/**
 * Presence at scale: one room of `--members` sockets (default 100,000) over Cinder nodes sharing
 * one port through a redis-server of its own, each member a native socket that joins as itself
 * (tracked) and follows the room as a count (`{presence: "count"}`; `--mode list`: as the list,
 * but for the samples). Once the room is full, members leave and new ones join at `--churn`
 * changes a second for `--churn-s`; sample sockets on every node time each presence_count they
 * receive against the truth (every join and leave acknowledged). Reports how stale the counts
 * were (max, p99, clients ever more than 1 s behind; per node), node and Redis CPU, and bytes to
 * the clients and through Redis per member per change; and each node's presence replica from its
 * /metrics (entries; lag and gossip delay read every `--scrape-s` of the churn; deltas and
 * transfers in the window), to tell why a node's counts lag: deltas lost, repeated state
 * transfers, or a node too busy to read its gossip in time.
 *   npm run bench -- presence-scale [--members 100000] [--churn 1000] [--churn-s 30] [--runs 1]
 *                                   [--mode count|list] [--nodes N] [--join-rate 4000]
 *                                   [--samples 50] [--timeout-s 300] [--count-interval-ms 1000]
 *                                   [--scrape-s 5] [--settle-s 0] [--no-pin] [--json]
 * `--settle-s S`: each node's replica is read again S seconds after the churn, nothing changing
 * meanwhile; every replica should hold the truth by then: every change acknowledged by that read,
 * and, while joins still wait in a node's backlog, up to every change sent (both bounds shown).
 * Joins and leaves are reported as sent, acknowledged and unanswered at the window's end, at the
 * settle read and when the clients quit: the truth holds acknowledged changes only.
 * `--members` takes a list (1000,5000,10000): one run per entry, for list mode's ceiling.
 * Pinning (taskset -c): redis-server and the nodes on core 0, the client processes on core 1.
 */
import { parseFlags } from "../lib/flags.js";
import type { ChangeTally, RoomBounds } from "../lib/change-accounting.js";
import { measurePresenceScale, stopAll, type NodeTracker, type PresenceScaleResult } from "../lib/presence-scale-run.js";
import { CLIENT_CORE, SERVER_CORE } from "../lib/measure.js";
import { median } from "../lib/stats.js";

const ms = (n: number): string => (Number.isFinite(n) ? `${Math.round(n)} ms` : "–");
const kib = (n: number): string => `${(n / 1024).toFixed(1)} KiB`;
const num = (n: number): string => n.toLocaleString("en");

/** The room at one moment: the acknowledged truth, and with joins or leaves unanswered the room they make when answered. */
function truthOf(room: RoomBounds): string {
  if (room.unansweredJoins === 0 && room.unansweredLeaves === 0) return `truth ${num(room.acked)}`;
  return `truth ${num(room.acked)} acknowledged to ${num(room.sent)} sent: ${num(room.unansweredJoins)} joins and ${num(room.unansweredLeaves)} leaves unanswered`;
}

/** Joins and leaves sent, acknowledged (and joins voided) over a stretch, and how many were still unanswered at its end. */
function changesOf(c: ChangeTally, unanswered: string): string {
  return (
    `joins sent ${num(c.joins.sent)}, acknowledged ${num(c.joins.acked)}, answered without effect ${num(c.joins.voided)}; ` +
    `leaves sent ${num(c.leaves.sent)}, acknowledged ${num(c.leaves.acked)}; ${unanswered} ${num(c.joins.unanswered)} joins and ${num(c.leaves.unanswered)} leaves`
  );
}

/** The room as acknowledged, and as the changes sent make it. */
const roomOf = (room: RoomBounds): string => `room ${num(room.acked)} acknowledged, ${num(room.sent)} with every change sent`;

/** At rest, a replica that is right holds the acknowledged room, or while changes wait unanswered, between the two bounds. */
const atRest = (room: RoomBounds): string =>
  room.unansweredJoins + room.unansweredLeaves > 0 ? `${roomOf(room)}: changes still unanswered at the read, a replica that is right holds between the two` : roomOf(room);

/** Per member per change: a figure ÷ (members × changes). */
function perMemberChange(total: number, r: PresenceScaleResult): number {
  return total / (((r.membersAtStart + r.membersAtEnd) / 2) * r.changes);
}

/** One node's presence replica: its state at the end, and its gossip in the window. */
function describeTracker(t: NodeTracker | undefined, atEnd: RoomBounds, atSettle: RoomBounds | undefined, settleSeconds: number): string {
  if (!t) return "not reached";
  const end = (name: string): number => t.atEnd[name] ?? 0;
  const inWindow = (name: string): number => end(name) - (t.atStart[name] ?? 0);
  const labelled = (family: string, label: string, values: string[]): string => values.map((value) => inWindow(`${family}{${label}="${value}"}`)).join("/");
  return (
    `entries ${end("cinder_presence_entries").toLocaleString("en")} (${truthOf(atEnd)}), ` +
    `lag ${end("cinder_presence_replica_lag")} (peak ${t.peakLag} at ${t.peakLagAtSeconds.toFixed(0)} s${t.lagSamples.length ? `; read ${t.lagSamples.join(" ")}` : ""}), ` +
    `gossip read up to ${t.peakDelaySeconds.toFixed(1)} s late (at ${t.peakDelayAtSeconds.toFixed(0)} s), ` +
    `peers up ${end('cinder_presence_replicas{state="up"}')} down ${end('cinder_presence_replicas{state="down"}')}; ` +
    (t.settled
      ? `${settleSeconds} s later entries ${(t.settled.cinder_presence_entries ?? 0).toLocaleString("en")}${atSettle ? ` (${truthOf(atSettle)})` : ""} ` +
        `and peers down ${t.settled['cinder_presence_replicas{state="down"}'] ?? 0}; `
      : "") +
    `in the window: ` +
    `deltas sent/received ${labelled("cinder_presence_deltas_total", "direction", ["sent", "received"])} ` +
    `(entries ${labelled("cinder_presence_delta_entries_total", "direction", ["sent", "received"])}), ` +
    `transfer requests behind/gap/start ${labelled("cinder_presence_transfer_requests_total", "reason", ["behind", "gap", "start"])}, ` +
    `transfers sent/received ${labelled("cinder_presence_transfers_total", "direction", ["sent", "received"])} ` +
    `(entries ${labelled("cinder_presence_transfer_entries_total", "direction", ["sent", "received"])})`
  );
}

/** The report of one run, as printed. */
export function describeRun(r: PresenceScaleResult): string {
  const s = r.staleness;
  const b = r.stalenessAtLeast;
  const perSecond = (n: number): number => n / r.windowSeconds;
  const lines = [
    `${r.mode} mode, ${r.membersAtStart.toLocaleString("en")} → ${r.membersAtEnd.toLocaleString("en")} members on ${r.nodes} nodes (${r.clients} client processes), ` +
      `room filled in ${r.fillSeconds.toFixed(1)} s; ${r.changes.toLocaleString("en")} joins+leaves acknowledged in ${r.windowSeconds.toFixed(1)} s (${Math.round(perSecond(r.changes))}/s)`,
    `  changes in the window: ${changesOf(r.changesInWindow, "unanswered at its end")} (${roomOf(r.roomAtEnd)}); ` +
      `the counts' ages go by acknowledged changes only`,
    ...(r.changesUntilSettle && r.roomAtSettle
      ? [`  by the settle read ${r.settleSeconds} s after the window: ${changesOf(r.changesUntilSettle, "unanswered then")} (${atRest(r.roomAtSettle)})`]
      : []),
    `  by the time the clients quit: ${changesOf(r.changesUntilQuit, "never answered")}`,
    `  counts seen by ${s.clients} sample clients: ${s.counts} counts, age when received p50 ${ms(s.p50Ms)}, p99 ${ms(s.p99Ms)}, max ${ms(s.maxMs)}; ` +
      `${s.clientsOverLimit} clients ever received one more than 1 s old; ${s.unmatched} counts the truth never held`,
    `  age of the count shown, just before the next replaced it: p99 ${ms(s.shownP99Ms)}, max ${ms(s.shownMaxMs)}; ${s.clientsShownOverLimit} clients ever showed one more than 1 s old`,
    `  the same counts against the band the room was in (each join and leave anywhere between its send and its reply: the least age a count can have): ` +
      `age when received p50 ${ms(b.p50Ms)}, p99 ${ms(b.p99Ms)}, max ${ms(b.maxMs)}; ${b.clientsOverLimit} clients certainly received one more than 1 s old; ` +
      `shown p99 ${ms(b.shownP99Ms)}, max ${ms(b.shownMaxMs)}; ${b.unmatched} counts the band never held`,
    `  per node: ` +
      r.perNode.map((n, i) => `#${i} ${n.samples} samples max ${ms(n.staleness.maxMs)} p99 ${ms(n.staleness.p99Ms)}`).join("; ") +
      (r.samplesUnplaced ? ` (${r.samplesUnplaced} samples not placed)` : ""),
    ...r.perNode.map((n, i) => `  presence replica #${i}: ${describeTracker(n.tracker, r.roomAtEnd, r.roomAtSettle, r.settleSeconds)}`),
    `  node CPU ${(perSecond(r.nodeCpuSeconds) * 100).toFixed(0)} % of a core (all nodes), redis-server ${(perSecond(r.redisCpuSeconds) * 100).toFixed(0)} %, client processes ${(perSecond(r.clientCpuSeconds) * 100).toFixed(0)} %; ` +
      `per member per change: node CPU ${(perMemberChange(r.nodeCpuSeconds, r) * 1e9).toFixed(2)} ns`,
    `  bytes to clients ${kib(perSecond(r.bytesToClients))}/s = ${perMemberChange(r.bytesToClients, r).toFixed(4)} B per member per change; ` +
      `Redis in ${kib(perSecond(r.redisBytesIn))}/s, out ${kib(perSecond(r.redisBytesOut))}/s = ${(r.redisBytesIn / r.changes).toFixed(0)} B in and ${(r.redisBytesOut / r.changes).toFixed(0)} B out per change ` +
      `(${perMemberChange(r.redisBytesIn + r.redisBytesOut, r).toFixed(5)} B per member per change)`,
    `  node RSS ${Math.round(r.nodeRssBytes / 1024 / 1024)} MiB in all; sockets closed by the server ${r.clientReports.reduce((n, c) => n + c.closed, 0)}, ` +
      `join errors ${r.clientReports.reduce((n, c) => n + c.joinErrors, 0)}, joins skipped (no spare socket) ${r.clientReports.reduce((n, c) => n + c.skippedJoins, 0)}; load average ${r.loadAverage}`,
  ];
  return lines.join("\n");
}

export async function run(args: string[]): Promise<void> {
  const f = parseFlags(args);
  const memberCounts = f.numbers("members", [100_000]);
  const runs = f.number("runs", 1);
  const mode = f.string("mode", "count");
  if (mode !== "count" && mode !== "list") throw new Error("--mode count|list");
  const pin = !f.has("no-pin");
  const countIntervalMs = f.number("count-interval-ms", 0);
  const onSignal = (): void => void stopAll().finally(() => process.exit(130));
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const all: PresenceScaleResult[] = [];
  try {
    for (const members of memberCounts) {
      const results: PresenceScaleResult[] = [];
      for (let i = 0; i < runs; i++) {
        const result = await measurePresenceScale({
          members,
          nodes: f.has("nodes") ? f.number("nodes", 1) : undefined,
          churnRate: f.number("churn", 1000),
          churnSeconds: f.number("churn-s", 30),
          joinRate: f.number("join-rate", 4000),
          samplesPerClient: f.number("samples", 50),
          mode,
          pin,
          timeoutSeconds: f.number("timeout-s", 300),
          nodeEnv: countIntervalMs > 0 ? { COUNT_INTERVAL_MS: String(countIntervalMs) } : {},
          scrapeSeconds: f.number("scrape-s", 5),
          settleSeconds: f.number("settle-s", 0),
        });
        results.push(result);
        console.log(`run ${i + 1}/${runs}: ${describeRun(result)}`);
      }
      if (runs > 1) {
        const pick = (g: (r: PresenceScaleResult) => number): number => median(results.map(g));
        console.log(
          `${members.toLocaleString("en")} members, medians of ${runs}: age max ${ms(pick((r) => r.staleness.maxMs))}, p99 ${ms(pick((r) => r.staleness.p99Ms))}, ` +
            `node CPU ${(pick((r) => r.nodeCpuSeconds / r.windowSeconds) * 100).toFixed(0)} %, ` +
            `bytes to clients per member per change ${pick((r) => perMemberChange(r.bytesToClients, r)).toFixed(4)} B`,
        );
      }
      all.push(...results);
    }
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  console.log(pin ? `Pinning (taskset -c): redis-server and the nodes on core ${SERVER_CORE}, the client processes on core ${CLIENT_CORE}.` : "Not pinned.");
  if (f.has("json")) console.log(JSON.stringify(all.map(({ clientReports: _, ...rest }) => rest)));
}
