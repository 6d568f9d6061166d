/**
 * Behind, not gone (docs/operations.md#behind-not-gone): 1,000 subscribers of one topic, 500
 * broadcasts a second of ~1 KB, 100 of the subscribers reading their TCP sockets at a tenth of
 * the stream's byte rate. Variants, each on a fresh node:
 *
 * - `history`: a history topic; the slow ones fall behind and are caught up from history; once the
 *   publisher stops they read freely and must end with every message once, in order;
 * - `conflate`: a conflating topic (key = sequence mod --keys); the slow ones must end with the
 *   latest message of every key;
 * - `off`: the history topic with behindBytes 0 (the behaviour before): the slow ones are cut off
 *   at maxBufferedBytes (1013), and what they never got is counted;
 * - `history-all-fast`, `conflate-all-fast`: the same with the 100 reading at full speed, for
 *   the fast subscribers' latency without slow readers.
 *
 * Runs interleaved (run 1 of every variant, then run 2 …); the table gives each variant's fast
 * p99 per run beside the median, and the ratio of the medians to its baseline (the all-fast one).
 *
 * Node on core 0 (taskset), the clients on core 1 (taskset): one native process,
 * bench/native/behind/behind.c (compiled on first use), subscribers and publisher alike, so a
 * message's send and receive times come from one clock and the 500,000 frames a second of the
 * full size take well under its core (a fifth in a 5 s check) — the Node client (`--client node`,
 * bench/lib/behind-client.ts, same flags and report) took the whole core, and its p99 was its own
 * queueing. `--no-pin` leaves both unpinned.
 *   npm run bench -- behind --runs 3 [--duration 40] [--rate 500] [--bytes 1024] [--client node]
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";

import type { BehindClientReport } from "../lib/behind-client.js";
import { behindClientArgv, type BehindClientKind } from "../lib/behind-client-command.js";
import { parseFlags } from "../lib/flags.js";
import { repoRoot } from "../lib/repo-root.js";
import { sampleProcess } from "../lib/proc-stats.js";
import { startServer, type RunningServer } from "../lib/server-process.js";
import { median } from "../lib/stats.js";
import { UNLIMITED, type Target } from "../lib/targets.js";

export type BehindVariant = "history" | "conflate" | "off" | "history-all-fast" | "conflate-all-fast";

export interface BehindOptions {
  fast: number;
  slow: number;
  rate: number;
  bytes: number;
  durationS: number;
  keys: number;
  /** Pin the node to core 0 and the clients to core 1. */
  pin: boolean;
  /** Server settings beyond the variant's (BEHIND_BYTES, MAX_BUFFERED_BYTES…). */
  env?: Record<string, string>;
  releaseS: number;
  /** Which clients: the native one (the default) or the Node one. */
  client?: BehindClientKind;
}

export interface BehindResult {
  variant: BehindVariant;
  client: BehindClientReport;
  /** The node's peak RSS (VmHWM) over the whole variant, and its RSS when the traffic ended, bytes. */
  rssPeak: number;
  rssAtTrafficEnd: number;
  /** The node's CPU time during the traffic, as a share of one core (near 1: it was the limit). */
  serverCpuShare: number;
  /** Highest cinder_buffered_bytes seen (sampled every 500 ms). */
  bufferedBytesPeak: number;
  /** Counters at the end. */
  metrics: Record<string, number>;
}

const METRICS = [
  "cinder_subscribers_fell_behind_total",
  "cinder_subscribers_caught_up_total",
  "cinder_behind_messages_resent_total",
  "cinder_history_gaps_total",
  "cinder_conflated_superseded_total",
  "cinder_conflation_overflows_total",
  "cinder_slow_consumer_disconnects_total",
  "cinder_buffered_bytes",
];

/** Every process this scenario started and has not seen exit: killed on any way out. */
const running = new Set<ChildProcess>();
let cleanupInstalled = false;
function track(child: ChildProcess): void {
  running.add(child);
  child.once("exit", () => running.delete(child));
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  const killAll = () => {
    for (const c of running) c.kill("SIGKILL");
  };
  process.once("exit", killAll);
  for (const signal of ["SIGINT", "SIGTERM"] as const)
    process.once(signal, () => {
      killAll();
      process.exit(130);
    });
}

/** The sum of each family's samples in Prometheus text. */
function readMetrics(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const m = /^([a-z_]+)(?:\{[^}]*\})? (\S+)/.exec(line);
    if (m && METRICS.includes(m[1])) out[m[1]] = (out[m[1]] ?? 0) + Number(m[2]);
  }
  return out;
}

async function metricsOf(port: number): Promise<Record<string, number>> {
  return readMetrics(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
}

function peakRss(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("VmHWM:"));
  return line ? Number(line.split(/\s+/)[1]) * 1024 : 0;
}

function currentRss(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/statm`, "utf8").split(" ")[1]) * 4096;
}

function node(env: Record<string, string>): Target {
  return {
    name: "cinder",
    label: "Cinder (WORKERS=1)",
    protocol: "phoenix",
    path: "/socket/websocket?vsn=2.0.0",
    command: (port) => ({
      args: [join(repoRoot(), "dist", "server", "cli.js"), "--port", String(port), "--host", "127.0.0.1"],
      env: { WORKERS: "1", LOG_LEVEL: "warn", ...UNLIMITED, APP: join(repoRoot(), "dist", "bench", "lib", "behind-app.js"), ...env },
    }),
  };
}

/** One variant on a fresh node: its clients' report, the node's memory and counters. */
export async function measureBehind(variant: BehindVariant, options: BehindOptions): Promise<BehindResult> {
  const conflating = variant.startsWith("conflate");
  const env: Record<string, string> = { ...options.env, ...(variant === "off" ? { BEHIND_BYTES: "0" } : {}) };
  let server: RunningServer | undefined;
  let client: ChildProcess | undefined;
  try {
    server = await startServer(node(env), options.pin ? 0 : undefined);
    track(server.child);
    const port = server.port;
    const flags = [
      ...["--port", String(port), "--topic", conflating ? "bc:1" : "bh:1", "--kind", conflating ? "conflate" : "history"],
      ...["--fast", String(options.fast), "--slow", String(options.slow), "--rate", String(options.rate), "--bytes", String(options.bytes)],
      ...["--duration", String(options.durationS), "--keys", String(options.keys), "--release-s", String(options.releaseS)],
      ...["--slow-share", variant.endsWith("all-fast") ? "1000" : "0.1"],
    ];
    const argv = behindClientArgv(options.client ?? "native", flags, options.pin ? 1 : undefined);
    const started = spawn(argv[0], argv.slice(1), { stdio: ["ignore", "pipe", "inherit"] });
    client = started;
    track(started);
    const pid = server.pid;
    let bufferedBytesPeak = 0;
    let rssAtTrafficEnd = 0;
    let trafficFrom = { at: 0, cpu: 0 };
    let serverCpuShare = 0;
    const sampler = setInterval(() => {
      metricsOf(port).then(
        (m) => (bufferedBytesPeak = Math.max(bufferedBytesPeak, m.cinder_buffered_bytes ?? 0)),
        () => {},
      );
    }, 500);
    const report = await new Promise<BehindClientReport>((resolve, reject) => {
      const timeout = setTimeout(() => reject(new Error(`${variant}: no report within the run's bound`)), (options.durationS + options.releaseS + 90) * 1000);
      createInterface({ input: started.stdout }).on("line", (line) => {
        if (line === "ready") trafficFrom = { at: performance.now(), cpu: sampleProcess(pid).cpuSeconds };
        else if (line === "traffic-end") {
          rssAtTrafficEnd = currentRss(pid);
          serverCpuShare = (sampleProcess(pid).cpuSeconds - trafficFrom.cpu) / ((performance.now() - trafficFrom.at) / 1000);
        }
        else if (line.startsWith("{")) {
          clearTimeout(timeout);
          resolve(JSON.parse(line) as BehindClientReport);
        }
      });
      started.once("exit", (code) => {
        clearTimeout(timeout);
        reject(new Error(`${variant}: the clients exited with ${code}`));
      });
    });
    clearInterval(sampler);
    const metrics = await metricsOf(port);
    return { variant, client: report, rssPeak: peakRss(pid), rssAtTrafficEnd, serverCpuShare, bufferedBytesPeak, metrics };
  } finally {
    client?.kill("SIGKILL");
    await server?.stop();
  }
}

const MiB = 1024 * 1024;
const ms = (n: number) => n.toFixed(2);

/** The variant each slow variant's fast p99 is laid against (the same topic, nobody slow). */
const BASELINE: Partial<Record<BehindVariant, BehindVariant>> = { history: "history-all-fast", conflate: "conflate-all-fast" };

export async function run(args: string[]): Promise<void> {
  const f = parseFlags(args);
  const runs = f.number("runs", 3);
  const client = f.string("client", "native");
  if (client !== "native" && client !== "node") throw new Error(`--client native|node, got ${client}`);
  const options: BehindOptions = {
    fast: f.number("fast", 900),
    slow: f.number("slow", 100),
    rate: f.number("rate", 500),
    bytes: f.number("bytes", 1024),
    durationS: f.number("duration", 40),
    keys: f.number("keys", 100),
    pin: !f.has("no-pin"),
    releaseS: f.number("release-s", 120),
    client,
  };
  const variants = f.strings("variants", ["history", "history-all-fast", "conflate", "conflate-all-fast", "off"]) as BehindVariant[];
  const results = new Map<BehindVariant, BehindResult[]>(variants.map((v) => [v, []]));
  // Interleaved: run i of every variant before run i + 1 of any, so what drifts over the
  // measurement (the machine, its caches) falls on every variant alike and medians compare.
  for (let i = 0; i < runs; i++) {
    for (const variant of variants) {
      const result = await measureBehind(variant, options);
      results.get(variant)?.push(result);
      console.log(`run ${i + 1} ${variant}: ${JSON.stringify(result)}`);
    }
  }
  const m = (list: BehindResult[], pick: (r: BehindResult) => number) => median(list.map(pick));
  const p99 = (r: BehindResult) => r.client.latencyMs.p99;
  const clientLabel = client === "native" ? "native client (bench/native/behind/behind.c)" : "Node client (bench/lib/behind-client.ts)";
  console.log(`\n${options.fast + options.slow} subscribers of one topic, ${options.rate} broadcasts/s of ${options.bytes} B for ${options.durationS} s, ${options.slow} reading at a tenth; node on core ${options.pin ? 0 : "any"}, ${clientLabel} on core ${options.pin ? 1 : "any"}; medians of ${runs} interleaved runs:`);
  console.log("| variant | fast p50 ms | fast p99 ms | fast p99 ms per run | fast p99 ÷ baseline (medians) | fast p99.9 ms | complete p99 ms | slow: missing / dup / out of order | history_gap | wrong keys | slow cut off (1013) | slow lost msgs | fell behind | caught up | resent | RSS peak MiB | RSS at end of traffic MiB | buffered peak MiB | node CPU | client CPU |");
  console.log("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
  for (const [variant, list] of results) {
    const slowClosed = (r: BehindResult) => Object.values(r.client.slow.closed).reduce((a, b) => a + b, 0);
    const baseline = BASELINE[variant];
    const baselineRuns = baseline ? results.get(baseline) : undefined;
    const ratio = baseline && baselineRuns?.length ? `${(m(list, p99) / m(baselineRuns, p99)).toFixed(2)} (÷ ${baseline})` : "—";
    const row = [
      variant,
      ms(m(list, (r) => r.client.latencyMs.p50)),
      ms(m(list, p99)),
      list.map((r) => ms(p99(r))).join(" / "),
      ratio,
      ms(m(list, (r) => r.client.latencyMs.p999)),
      ms(m(list, (r) => r.client.completeMs.p99)),
      `${m(list, (r) => r.client.slow.missing)} / ${m(list, (r) => r.client.slow.duplicates)} / ${m(list, (r) => r.client.slow.outOfOrder)}`,
      m(list, (r) => r.client.slow.historyGaps),
      m(list, (r) => r.client.slow.wrongKeys),
      m(list, slowClosed),
      m(list, (r) => r.client.slow.missing),
      m(list, (r) => r.metrics.cinder_subscribers_fell_behind_total ?? 0),
      m(list, (r) => r.metrics.cinder_subscribers_caught_up_total ?? 0),
      m(list, (r) => r.metrics.cinder_behind_messages_resent_total ?? 0),
      (m(list, (r) => r.rssPeak) / MiB).toFixed(0),
      (m(list, (r) => r.rssAtTrafficEnd) / MiB).toFixed(0),
      (m(list, (r) => r.bufferedBytesPeak) / MiB).toFixed(1),
      `${(m(list, (r) => r.serverCpuShare) * 100).toFixed(0)} %`,
      `${(m(list, (r) => r.client.clientCpuShare) * 100).toFixed(0)} %`,
    ];
    console.log(`| ${row.join(" | ")} |`);
  }
  for (const [slowVariant, fastVariant] of Object.entries(BASELINE) as Array<[BehindVariant, BehindVariant]>) {
    const slow = results.get(slowVariant);
    const fast = results.get(fastVariant);
    if (!slow?.length || !fast?.length) continue;
    const ratio = m(slow, p99) / m(fast, p99);
    console.log(`${slowVariant}: fast subscribers' p99 with slow readers ÷ without (medians): ${ratio.toFixed(2)}${ratio <= 1.1 ? ", within 10 %" : ", more than 10 % above"}`);
  }
}
