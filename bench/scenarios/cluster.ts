/**
 * Cross-node fan-out: the same load against one node and against two nodes sharing one port
 * through Redis (the kernel puts about half of the subscribers on each node, so half of every
 * broadcast crosses Redis). Servers and redis-server on core 0, the client on core 1.
 *   npm run bench -- cluster --sockets 10000 --inflight 1,32 --duration 5 --runs 3
 */
import { parseFlags } from "../lib/flags.js";
import { CLIENT_CORE, SERVER_CORE } from "../lib/measure.js";
import { runNativeClient } from "../lib/native-client.js";
import { publishCalls, startLocalCluster } from "../lib/cluster-processes.js";
import { BENCH_JOIN_PAYLOAD } from "../lib/targets.js";
import { median } from "../lib/stats.js";

interface Row {
  setup: string;
  inflight: number;
  deliveries_per_s: number;
  p50_ms: number;
  p99_ms: number;
  missing: number;
  redis_publishes_per_broadcast: number;
}

const SETUPS = [
  { label: "1 node, no Redis", nodes: 1, linked: false },
  { label: "1 node with Redis", nodes: 1, linked: true },
  { label: "2 nodes via Redis", nodes: 2, linked: true },
];

export async function run(args: string[]): Promise<void> {
  const f = parseFlags(args);
  const runs = f.number("runs", 3);
  const pin = !f.has("no-pin");
  const rows: Row[] = [];
  for (let i = 0; i < runs; i++) {
    for (const setup of SETUPS) {
      const cluster = await startLocalCluster(setup.nodes, pin ? SERVER_CORE : undefined, setup.linked);
      try {
        const before = await publishCalls(cluster.redis);
        const report = await runNativeClient({
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
          core: pin ? CLIENT_CORE : undefined,
        });
        const publishes = (await publishCalls(cluster.redis)) - before;
        const broadcasts = report.rounds.reduce((n, r) => n + r.broadcasts, 0);
        for (const round of report.rounds) {
          rows.push({
            setup: setup.label,
            inflight: round.inflight,
            deliveries_per_s: round.deliveries_per_s,
            p50_ms: round.latency_us.p50 / 1000,
            p99_ms: round.latency_us.p99 / 1000,
            missing: round.missing,
            redis_publishes_per_broadcast: broadcasts > 0 ? publishes / broadcasts : 0,
          });
        }
      } finally {
        await cluster.stop();
      }
    }
  }
  console.log(`| setup | in flight | deliveries/s | complete p50 | complete p99 | missing | Redis PUBLISH per broadcast |`);
  console.log(`|---|---:|---:|---:|---:|---:|---:|`);
  const groups = new Map<string, Row[]>();
  for (const row of rows) {
    const key = `${row.setup}|${row.inflight}`;
    groups.set(key, [...(groups.get(key) ?? []), row]);
  }
  for (const [key, group] of groups) {
    const [setup, inflight] = key.split("|");
    const m = (pick: (r: Row) => number) => median(group.map(pick));
    console.log(
      `| ${setup} | ${inflight} | ${(m((r) => r.deliveries_per_s) / 1000).toFixed(1)}k | ${m((r) => r.p50_ms).toFixed(2)} ms | ` +
        `${m((r) => r.p99_ms).toFixed(2)} ms | ${Math.max(...group.map((r) => r.missing))} | ${m((r) => r.redis_publishes_per_broadcast).toFixed(2)} |`,
    );
  }
  console.log(`\nmedians of ${runs} runs; ${f.number("sockets", 10_000)} subscribers on one topic`);
}
