/**
 * LongPoll against WebSocket on the same node, in one run: `--clients` clients of each
 * transport in one room (one transport at a time, each on a fresh node), in two rounds:
 *   steady — `--broadcasts` at `--rate` a second, which both transports keep up with: broadcast
 *            latency (publish to arrival) and the server's CPU per delivered message;
 *   flood  — `--flood-broadcasts` at `--flood-rate` a second, more than LongPoll keeps up with:
 *            deliveries/s (from the first broadcast to the last delivery) and CPU per delivery.
 * Medians of `--runs`. The server is pinned to `--server-cpu` and the load clients (`--processes`
 * of them, and the publisher) to `--client-cpu` with taskset.
 *   npm run bench -- longpoll [--clients 1000] [--rate 10] [--flood-rate 1000] [--processes 2] [--runs 3]
 */
import { parseFlags } from "../lib/flags.js";
import { measureTransport, startLongPollServer, type LongPollLoadOptions, type TransportResult, type Transport } from "../lib/longpoll-load.js";
import { median } from "../lib/stats.js";

type Round = "steady" | "flood";

export async function run(args: string[]): Promise<void> {
  const f = parseFlags(args);
  const base = {
    clients: f.number("clients", 1000),
    processes: f.number("processes", 2),
    serverCpu: f.has("no-pin") ? undefined : f.string("server-cpu", "0"),
    clientCpu: f.has("no-pin") ? undefined : f.string("client-cpu", "1"),
    drainSeconds: f.number("drain", 30),
  };
  const rounds: Record<Round, LongPollLoadOptions> = {
    steady: { ...base, broadcasts: f.number("broadcasts", 100), rate: f.number("rate", 10) },
    flood: { ...base, broadcasts: f.number("flood-broadcasts", 500), rate: f.number("flood-rate", 1000) },
  };
  const runs = f.number("runs", 3);
  const transports: Transport[] = ["longpoll", "websocket"];
  const results = new Map<string, TransportResult[]>();
  for (let r = 0; r < runs; r++) {
    for (const round of ["steady", "flood"] as const) {
      for (const transport of transports) {
        const server = await startLongPollServer(base.serverCpu);
        try {
          const result = await measureTransport(server, transport, rounds[round], `room:bench-${r}`);
          const key = `${round} ${transport}`;
          results.set(key, [...(results.get(key) ?? []), result]);
          console.error(
            `run ${r + 1}/${runs} ${key}: ${result.deliveries}/${result.expected} delivered, ${Math.round(result.deliveriesPerSecond)}/s, ` +
              `p50 ${result.latencyP50Ms.toFixed(1)} ms, ${result.cpuMicrosPerDelivery.toFixed(2)} µs CPU/delivery, ${result.clientErrors} client errors`,
          );
        } finally {
          await server.stop();
        }
      }
    }
  }
  const pin = base.serverCpu === undefined ? "not pinned" : `server on CPU ${base.serverCpu}, ${base.processes} load-client processes on CPU ${base.clientCpu} (taskset)`;
  console.log(`\nLongPoll vs WebSocket: ${base.clients} clients in one room; medians of ${runs} runs; ${pin}; Node ${process.version}\n`);
  console.log("| round | transport | delivered | deliveries/s | latency p50 | latency p99 | server CPU µs per delivery |");
  console.log("|---|---|---:|---:|---:|---:|---:|");
  const figures = new Map<string, { rate: number; p50: number; cpu: number }>();
  for (const round of ["steady", "flood"] as const) {
    for (const transport of transports) {
      const list = results.get(`${round} ${transport}`) ?? [];
      const m = (pick: (r: TransportResult) => number) => median(list.map(pick));
      const row = { delivered: m((r) => r.deliveries / r.expected), rate: m((r) => r.deliveriesPerSecond), p50: m((r) => r.latencyP50Ms), p99: m((r) => r.latencyP99Ms), cpu: m((r) => r.cpuMicrosPerDelivery) };
      figures.set(`${round} ${transport}`, row);
      const load = `${rounds[round].broadcasts} at ${rounds[round].rate}/s`;
      console.log(`| ${round} (${load}) | ${transport} | ${(row.delivered * 100).toFixed(1)}% | ${Math.round(row.rate).toLocaleString("en-US")} | ${row.p50.toFixed(1)} ms | ${row.p99.toFixed(1)} ms | ${row.cpu.toFixed(2)} |`);
    }
  }
  const ratio = (round: Round, pick: (row: { rate: number; p50: number; cpu: number }) => number) => {
    const lp = figures.get(`${round} longpoll`);
    const ws = figures.get(`${round} websocket`);
    return lp && ws && pick(ws) > 0 ? (pick(lp) / pick(ws)).toFixed(2) : "—";
  };
  console.log(
    `\nLongPoll ÷ WebSocket: steady latency p50 ${ratio("steady", (x) => x.p50)}×, CPU per delivery ${ratio("steady", (x) => x.cpu)}×; ` +
      `flood deliveries/s ${ratio("flood", (x) => x.rate)}×, CPU per delivery ${ratio("flood", (x) => x.cpu)}×.`,
  );
}
