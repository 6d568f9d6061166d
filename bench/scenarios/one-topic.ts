/**
 * One topic, many subscribers across several processes (by default 100,000): Cinder nodes
 * sharing one port and linked through a local redis-server, against raw uWebSockets.js
 * processes sharing one port and fanning out through a redis-server the same way, in one run.
 *   npm run bench -- one-topic --sockets 100000 --runs 3
 * Flags: --sockets N (default 100,000); --nodes N (server processes per side, default one per
 * 15,000 sockets: a process may hold 20,000 open files); --inflight 1,8 (one round each);
 * --broadcasts N (per round, default 20: a round ends when every subscriber has them all);
 * --timeout s (bound of a round, default 120); --body-size B; --runs N (medians); --targets
 * cinder,raw-uws; --no-pin (else redis-server and the servers on core 0, the client on core 1).
 * Each run stops by itself: the client bounds connect, join and every round, and every process
 * it started is stopped when a run ends or fails, or when the bench is interrupted.
 */
import { startLocalCluster } from "../lib/cluster-processes.js";
import { parseFlags } from "../lib/flags.js";
import type { LoadReport } from "../lib/load-report.js";
import { CLIENT_CORE, SERVER_CORE } from "../lib/measure.js";
import { runNativeClient } from "../lib/native-client.js";
import { trySampleProcess } from "../lib/proc-stats.js";
import { startRawUwsGroup } from "../lib/raw-uws-group.js";
import { median } from "../lib/stats.js";
import { BENCH_JOIN_PAYLOAD } from "../lib/targets.js";

const TARGETS = ["cinder", "raw-uws"] as const;
export type TargetName = (typeof TARGETS)[number];

/** Sockets per server process by default: under the 20,000 open files, with room for the kernel's uneven spread. */
const SOCKETS_PER_NODE = 15_000;

interface Servers {
  port: number;
  /** the server processes (not redis-server), for RSS */
  pids: number[];
  stop(): Promise<void>;
}

export interface RoundRow {
  inflight: number;
  deliveries: number;
  incomplete_broadcasts: number;
  deliveries_per_s: number;
  p50_ms: number;
  p99_ms: number;
  broadcasts: number;
  missing: number;
  client_cpu_share: number;
}

export interface RunResult {
  target: TargetName;
  connected: number;
  subscriptions: number;
  failures: number;
  rss_per_connection: number;
  rounds: RoundRow[];
}

/** Every server group alive, so an interrupted bench still stops them. */
const running = new Set<Servers>();

export async function run(args: string[]): Promise<void> {
  const f = parseFlags(args);
  const sockets = f.number("sockets", 100_000);
  const nodes = f.number("nodes", Math.max(1, Math.ceil(sockets / SOCKETS_PER_NODE)));
  const runs = f.number("runs", 1);
  const targets = f.strings("targets", [...TARGETS]).map(checkTarget);
  const pin = !f.has("no-pin");
  const onSignal = (): void => void Promise.all([...running].map((s) => s.stop())).finally(() => process.exit(130));
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const results: RunResult[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      for (const target of targets) {
        const result = await measureOneTopic(target, {
          sockets,
          nodes,
          pin,
          inflight: f.numbers("inflight", [1, 8]),
          broadcasts: f.number("broadcasts", 20),
          timeoutSeconds: f.number("timeout", 120),
          bodySize: f.number("body-size", 100),
        });
        results.push(result);
        console.log(`run ${i + 1}/${runs} ${describeRun(result)}`);
      }
    }
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  printTable(results, targets);
  console.log(
    `\n${sockets.toLocaleString("en")} subscribers of one topic on ${nodes} server processes per side, sharing one port, ` +
      `fanning out through one local redis-server; medians of ${runs} run(s). ` +
      (pin ? `Pinning (taskset -c): redis-server and the servers on core ${SERVER_CORE}, the load client on core ${CLIENT_CORE}.` : "Not pinned."),
  );
  if (f.has("json")) console.log(JSON.stringify(results));
}

function checkTarget(name: string): TargetName {
  if (!(TARGETS as readonly string[]).includes(name)) throw new Error(`unknown target ${name}; known: ${TARGETS.join(", ")}`);
  return name as TargetName;
}

async function startServers(target: TargetName, nodes: number, pin: boolean): Promise<Servers> {
  const redisCore = pin ? SERVER_CORE : undefined;
  const cpus = pin ? String(SERVER_CORE) : undefined;
  if (target === "raw-uws") return startRawUwsGroup(nodes, redisCore, cpus);
  const cluster = await startLocalCluster(nodes, redisCore, true, { cpus });
  return { port: cluster.port, pids: cluster.nodePids, stop: () => cluster.stop() };
}

export interface OneTopicShape {
  sockets: number;
  /** server processes */
  nodes: number;
  pin: boolean;
  inflight: number[];
  /** broadcasts per round: a round ends once every subscriber has all of them… */
  broadcasts: number;
  /** …or after this long (what is left counts as missing) */
  timeoutSeconds: number;
  bodySize: number;
}

/** One run against one target: start its processes, load them, stop them (also on failure). */
export async function measureOneTopic(target: TargetName, shape: OneTopicShape): Promise<RunResult> {
  const { sockets, pin } = shape;
  const servers = await startServers(target, shape.nodes, pin);
  running.add(servers);
  const rssOfServers = (): number => servers.pids.reduce((sum, pid) => sum + (trySampleProcess(pid)?.rssBytes ?? 0), 0);
  const rss = new Map<string, number>();
  try {
    const report = await runNativeClient(
      {
        port: servers.port,
        path: "/socket/websocket?vsn=2.0.0&user=bench",
        protocol: "phoenix",
        joinPayload: BENCH_JOIN_PAYLOAD,
        sockets,
        topics: 1,
        inflight: shape.inflight,
        messages: shape.broadcasts,
        durationSeconds: shape.timeoutSeconds,
        bodySize: shape.bodySize,
        settleSeconds: 1,
        core: pin ? CLIENT_CORE : undefined,
      },
      (phase) => {
        if (phase === "connecting" || phase === "joined") rss.set(phase, rssOfServers());
      },
    );
    return summarize(target, report, rss);
  } finally {
    running.delete(servers);
    await servers.stop();
  }
}

function summarize(target: TargetName, report: LoadReport, rss: Map<string, number>): RunResult {
  const connected = report.connect.connected;
  return {
    target,
    connected,
    subscriptions: report.join.subscriptions,
    failures: report.connect.failed + report.join.errors + report.closed_by_server + report.protocol_errors,
    rss_per_connection: connected > 0 ? ((rss.get("joined") ?? 0) - (rss.get("connecting") ?? 0)) / connected : 0,
    rounds: report.rounds.map((r) => ({
      inflight: r.inflight,
      deliveries: r.deliveries,
      incomplete_broadcasts: r.incomplete_broadcasts,
      deliveries_per_s: r.deliveries_per_s,
      p50_ms: r.latency_us.p50 / 1000,
      p99_ms: r.latency_us.p99 / 1000,
      broadcasts: r.broadcasts,
      missing: r.missing,
      client_cpu_share: r.window_s > 0 ? r.client_cpu_s / r.window_s : 0,
    })),
  };
}

function describeRun(r: RunResult): string {
  const rounds = r.rounds
    .map((x) => `${x.inflight} in flight: ${(x.deliveries_per_s / 1000).toFixed(0)}k/s, p50 ${x.p50_ms.toFixed(0)} ms, p99 ${x.p99_ms.toFixed(0)} ms, ${x.broadcasts} broadcasts, missing ${x.missing}, client CPU ${(x.client_cpu_share * 100).toFixed(0)}%`)
    .join("; ");
  return `${r.target}: ${r.subscriptions.toLocaleString("en")} subscribed, ${r.failures} failures, ${(r.rss_per_connection / 1024).toFixed(2)} KiB RSS per connection; ${rounds}`;
}

/** One figure per target, the median over runs; and Cinder ÷ raw uWS. */
function printTable(results: readonly RunResult[], targets: readonly TargetName[]): void {
  const of = (target: TargetName): RunResult[] => results.filter((r) => r.target === target);
  const roundOf = (r: RunResult, inflight: number): RoundRow | undefined => r.rounds.find((x) => x.inflight === inflight);
  const inflights = [...new Set(results.flatMap((r) => r.rounds.map((x) => x.inflight)))];
  type Metric = { label: string; value: (r: RunResult) => number | undefined; format: (v: number) => string };
  const metrics: Metric[] = [];
  for (const k of inflights) {
    metrics.push(
      { label: `broadcast complete p50, ${k} in flight`, value: (r) => roundOf(r, k)?.p50_ms, format: (v) => `${v.toFixed(0)} ms` },
      { label: `broadcast complete p99, ${k} in flight`, value: (r) => roundOf(r, k)?.p99_ms, format: (v) => `${v.toFixed(0)} ms` },
      { label: `deliveries/s, ${k} in flight`, value: (r) => roundOf(r, k)?.deliveries_per_s, format: (v) => `${(v / 1000).toFixed(0)}k` },
    );
  }
  metrics.push({ label: "RSS per connection", value: (r) => r.rss_per_connection, format: (v) => `${(v / 1024).toFixed(2)} KiB` });
  const both = targets.includes("cinder") && targets.includes("raw-uws");
  console.log(`\n| | ${targets.join(" | ")} |${both ? " Cinder ÷ raw uWS |" : ""}`);
  console.log(`|---|${targets.map(() => "---:").join("|")}|${both ? "---:|" : ""}`);
  for (const m of metrics) {
    const medians = targets.map((t) => median(of(t).flatMap((r) => m.value(r) ?? [])));
    const ratio = both ? ` ${(medians[targets.indexOf("cinder")] / medians[targets.indexOf("raw-uws")]).toFixed(2)} |` : "";
    console.log(`| ${m.label} | ${medians.map(m.format).join(" | ")} |${ratio}`);
  }
  const worst = (t: TargetName, pick: (r: RunResult) => number): number => Math.max(0, ...of(t).map(pick));
  console.log(
    `\nmissing deliveries (max over runs): ${targets.map((t) => `${t} ${worst(t, (r) => Math.max(0, ...r.rounds.map((x) => x.missing)))}`).join(", ")}; ` +
      `failures (connect, join, closed, protocol): ${targets.map((t) => `${t} ${worst(t, (r) => r.failures)}`).join(", ")}`,
  );
}
