/**
 * Cross-node fan-out: the same load against one node and against two nodes sharing one port
 * through Redis (the kernel puts about half of the subscribers on each node, so half of every
 * broadcast crosses Redis). redis-server on core 0, the client on core 1; the nodes on core 0,
 * or with several workers on cores 0 and 1 (they would only take turns on one core), like
 * the cinder-w2 target of `compare`.
 *   npm run bench -- cluster --sockets 10000 --inflight 1,32 --duration 5 --runs 3
 *   npm run bench -- cluster --workers 2 --setups 2nodes
 * Flags: --workers N (WORKERS of every node, default 1); --setups <index|name,...> (default
 * all: 0 = 1node, 1 = 1node-redis, 2 = 2nodes); --node-cpus <taskset list> (overrides the
 * nodes' cores); --no-pin; --sockets, --inflight, --warmup, --duration, --body-size, --runs.
 */
import { BroadcastPublishCounter, PhaseSampler } from "../lib/cluster-counters.js";
import { startLocalCluster } from "../lib/cluster-processes.js";
import { type Flags, parseFlags } from "../lib/flags.js";
import type { LoadRound } from "../lib/load-report.js";
import { CLIENT_CORE, SERVER_CORE } from "../lib/measure.js";
import { runNativeClient } from "../lib/native-client.js";
import { median } from "../lib/stats.js";
import { BENCH_JOIN_PAYLOAD } from "../lib/targets.js";

interface Setup {
  /** for --setups */
  name: string;
  label: string;
  nodes: number;
  linked: boolean;
}

const SETUPS: readonly Setup[] = [
  { name: "1node", label: "1 node, no Redis", nodes: 1, linked: false },
  { name: "1node-redis", label: "1 node with Redis", nodes: 1, linked: true },
  { name: "2nodes", label: "2 nodes via Redis", nodes: 2, linked: true },
];

/** Where the processes run; undefined fields = not pinned. */
interface Pinning {
  redis?: number;
  nodes?: string;
  client?: number;
}

interface Row {
  setup: string;
  inflight: number;
  deliveries_per_s: number;
  p50_ms: number;
  p99_ms: number;
  missing: number;
  redis_publishes_per_broadcast: number;
  redis_deliveries_per_broadcast: number;
  redis_subscribers: number;
  /** one entry per node */
  node_cpu_ms_per_1k_broadcasts: number[];
}

export async function run(args: string[]): Promise<void> {
  const f = parseFlags(args);
  const runs = f.number("runs", 3);
  const workers = f.number("workers", 1);
  if (!Number.isInteger(workers) || workers < 1) throw new Error(`--workers needs a positive integer, got ${workers}`);
  const setups = selectSetups(f.strings("setups", SETUPS.map((s) => s.name)));
  const pinning = choosePinning(f, workers);
  const rows: Row[] = [];
  for (let i = 0; i < runs; i++) {
    for (const setup of setups) rows.push(...(await measureSetup(setup, workers, pinning, f)));
  }
  printTable(rows);
  console.log(`\n${describePinning(pinning, workers)}`);
  console.log(`medians of ${runs} runs; ${f.number("sockets", 10_000)} subscribers on one topic; WORKERS=${workers} per node`);
  console.log(footnotes(rows));
}

/** --setups takes indexes into SETUPS or their names, comma-separated. */
function selectSetups(wanted: string[]): Setup[] {
  return wanted.map((w) => {
    const setup = /^\d+$/.test(w) ? SETUPS[Number(w)] : SETUPS.find((s) => s.name === w);
    if (!setup) throw new Error(`unknown setup ${w}; known: ${SETUPS.map((s, i) => `${i} = ${s.name}`).join(", ")}`);
    return setup;
  });
}

/** Several workers of one node run in parallel only if the node has more than one core. */
function choosePinning(f: Flags, workers: number): Pinning {
  if (f.has("no-pin")) return {};
  const nodes = f.string("node-cpus", workers > 1 ? `${SERVER_CORE},${CLIENT_CORE}` : String(SERVER_CORE));
  return { redis: SERVER_CORE, nodes, client: CLIENT_CORE };
}

function describePinning(p: Pinning, workers: number): string {
  if (p.nodes === undefined) return "pinning: none (--no-pin)";
  return (
    `pinning (taskset -c): redis-server on core ${p.redis}, each Cinder node (WORKERS=${workers}) on ` +
    `core(s) ${p.nodes}, load client on core ${p.client}`
  );
}

/** What Redis did for a whole client run. */
interface RedisCounts {
  /** PUBLISH calls on the broadcast channel over all rounds, warm-ups and drains included */
  publishes: number;
  /** of the broadcast channel, sampled under load */
  subscribers: number;
}

/** One cluster, one client run: a row per in-flight round. */
async function measureSetup(setup: Setup, workers: number, pinning: Pinning, f: Flags): Promise<Row[]> {
  const cluster = await startLocalCluster(setup.nodes, pinning.redis, setup.linked, { workers, cpus: pinning.nodes });
  let publishes: BroadcastPublishCounter | undefined;
  try {
    const sampler = new PhaseSampler(cluster.nodePids, cluster.redis);
    publishes = await BroadcastPublishCounter.start(cluster.redis);
    const report = await runNativeClient(
      {
        port: cluster.port,
        path: "/socket/websocket?vsn=2.0.0&user=bench",
        protocol: "phoenix",
        joinPayload: BENCH_JOIN_PAYLOAD,
        sockets: f.number("sockets", 10_000),
        topics: 1,
        inflight: f.numbers("inflight", [1, 32]),
        warmupSeconds: f.number("warmup", 1),
        durationSeconds: f.number("duration", 5),
        bodySize: f.number("body-size", 100),
        core: pinning.client,
      },
      sampler.onPhase,
    );
    const redis = { publishes: await publishes.count(), subscribers: await sampler.subscribers() };
    const broadcasts = report.rounds.reduce((n, r) => n + r.broadcasts, 0);
    return report.rounds.map((round) => toRow(setup, round, sampler.windowCpuMs(round.inflight), redis, broadcasts));
  } finally {
    publishes?.close();
    await cluster.stop();
  }
}

/**
 * The Redis figures are per broadcast of the whole run (the same for every round of it): the
 * publishes are counted from before the client starts to after it ends. The CPU figures are
 * per broadcast sent (and completed) in the round's measured window, the span they were read
 * over; broadcasts in flight at either end make the two differ by at most the in-flight limit.
 */
function toRow(setup: Setup, round: LoadRound, windowCpuMs: number[], redis: RedisCounts, runBroadcasts: number): Row {
  const perRunBroadcast = (n: number): number => (runBroadcasts > 0 ? n / runBroadcasts : 0);
  const windowBroadcasts = round.broadcasts_completed_in_window;
  return {
    setup: setup.label,
    inflight: round.inflight,
    deliveries_per_s: round.deliveries_per_s,
    p50_ms: round.latency_us.p50 / 1000,
    p99_ms: round.latency_us.p99 / 1000,
    missing: round.missing,
    redis_publishes_per_broadcast: perRunBroadcast(redis.publishes),
    // Each plain PUBLISH goes to every connection subscribed to the channel, the publisher's own included.
    redis_deliveries_per_broadcast: perRunBroadcast(redis.publishes * redis.subscribers),
    redis_subscribers: redis.subscribers,
    node_cpu_ms_per_1k_broadcasts: windowCpuMs.map((ms) => (windowBroadcasts > 0 ? (ms / windowBroadcasts) * 1000 : 0)),
  };
}

/** Rows of the same setup and in-flight limit, in first-seen order. */
function groupRows(rows: readonly Row[]): Row[][] {
  const groups = new Map<string, Row[]>();
  for (const row of rows) {
    const key = `${row.setup}|${row.inflight}`;
    groups.set(key, [...(groups.get(key) ?? []), row]);
  }
  return [...groups.values()];
}

/** Median over runs of the nodes' sum, and with several nodes each node's median in brackets. */
function formatNodeCpu(group: readonly Row[]): string {
  const perNode = group.map((r) => r.node_cpu_ms_per_1k_broadcasts);
  const total = median(perNode.map((nodes) => nodes.reduce((a, b) => a + b, 0))).toFixed(0);
  const nodes = perNode[0].length;
  if (nodes < 2) return total;
  const each = Array.from({ length: nodes }, (_, i) => median(perNode.map((n) => n[i])).toFixed(0));
  return `${total} (${each.join(" + ")})`;
}

function printTable(rows: readonly Row[]): void {
  console.log(
    `| setup | in flight | deliveries/s | complete p50 | complete p99 | missing | Redis PUBLISH per broadcast | ` +
      `Redis messages delivered per broadcast | node CPU ms per 1,000 broadcasts |`,
  );
  console.log(`|---|---:|---:|---:|---:|---:|---:|---:|---:|`);
  for (const group of groupRows(rows)) {
    const m = (pick: (r: Row) => number): number => median(group.map(pick));
    console.log(
      `| ${group[0].setup} | ${group[0].inflight} | ${(m((r) => r.deliveries_per_s) / 1000).toFixed(1)}k | ` +
        `${m((r) => r.p50_ms).toFixed(2)} ms | ${m((r) => r.p99_ms).toFixed(2)} ms | ${Math.max(...group.map((r) => r.missing))} | ` +
        `${m((r) => r.redis_publishes_per_broadcast).toFixed(2)} | ${m((r) => r.redis_deliveries_per_broadcast).toFixed(2)} | ` +
        `${formatNodeCpu(group)} |`,
    );
  }
}

/** How the new columns were measured, with the subscriber counts Redis reported. */
function footnotes(rows: readonly Row[]): string {
  const subscribers = groupRows(rows)
    .filter((g) => g[0].inflight === rows[0]?.inflight)
    .map((g) => `${g[0].setup} ${median(g.map((r) => r.redis_subscribers))}`);
  return [
    "Redis columns: PUBLISH calls on the broadcast channel (all PUBLISH calls minus presence gossip) over the whole client",
    "  run / broadcasts of the run; messages delivered = that x subscribers",
    `  of the cinder:t:<topic> channel (PUBSUB NUMSUB under load: ${subscribers.join(", ")}).`,
    "Node CPU: user+sys of all threads of the node processes (/proc/<pid>/stat) over the measured window / broadcasts",
    "  sent and completed in it; with several nodes: median of the sum (median of node 0 + median of node 1).",
  ].join("\n");
}
