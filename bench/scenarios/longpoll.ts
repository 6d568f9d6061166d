/**
 * LongPoll against WebSocket on the same node, in one run: `--clients` clients of each
 * transport in one room (one transport at a time, on a fresh node), `--broadcasts` broadcasts at
 * `--rate` a second; deliveries/s, broadcast latency (publish to arrival) and the server's CPU
 * per delivered message. Medians of `--runs`. The server is pinned to `--server-cpu` and the
 * load clients (`--processes` of them) to `--client-cpu` with taskset.
 *   npm run bench -- longpoll [--clients 1000] [--broadcasts 500] [--rate 100] [--processes 2] [--runs 3]
 */
import { parseFlags } from "../lib/flags.js";
import { measureTransport, startLongPollServer, type TransportResult, type Transport } from "../lib/longpoll-load.js";
import { median } from "../lib/stats.js";

export async function run(args: string[]): Promise<void> {
  const f = parseFlags(args);
  const options = {
    clients: f.number("clients", 1000),
    processes: f.number("processes", 2),
    broadcasts: f.number("broadcasts", 500),
    rate: f.number("rate", 100),
    serverCpu: f.has("no-pin") ? undefined : f.string("server-cpu", "0"),
    clientCpu: f.has("no-pin") ? undefined : f.string("client-cpu", "1"),
    drainSeconds: f.number("drain", 15),
  };
  const runs = f.number("runs", 3);
  const transports: Transport[] = ["longpoll", "websocket"];
  const results = new Map<Transport, TransportResult[]>(transports.map((t) => [t, []]));
  for (let r = 0; r < runs; r++) {
    for (const transport of transports) {
      const server = await startLongPollServer(options.serverCpu);
      try {
        const result = await measureTransport(server, transport, options, `room:bench-${r}`);
        results.get(transport)?.push(result);
        console.error(`run ${r + 1}/${runs} ${transport}: ${result.deliveries}/${result.expected} delivered, ${Math.round(result.deliveriesPerSecond)}/s, p50 ${result.latencyP50Ms.toFixed(1)} ms`);
      } finally {
        await server.stop();
      }
    }
  }
  const pin = options.serverCpu === undefined ? "not pinned" : `server on CPU ${options.serverCpu}, ${options.processes} load-client processes on CPU ${options.clientCpu} (taskset)`;
  console.log(`\nLongPoll vs WebSocket: ${options.clients} clients in one room, ${options.broadcasts} broadcasts at ${options.rate}/s; medians of ${runs} runs; ${pin}; Node ${process.version}\n`);
  console.log("| transport | delivered | deliveries/s | latency p50 | latency p99 | server CPU µs per delivery |");
  console.log("|---|---:|---:|---:|---:|---:|");
  const row = new Map<Transport, Record<string, number>>();
  for (const transport of transports) {
    const list = results.get(transport) ?? [];
    const m = (pick: (r: TransportResult) => number) => median(list.map(pick));
    const figures = { delivered: m((r) => r.deliveries / r.expected), rate: m((r) => r.deliveriesPerSecond), p50: m((r) => r.latencyP50Ms), p99: m((r) => r.latencyP99Ms), cpu: m((r) => r.cpuMicrosPerDelivery) };
    row.set(transport, figures);
    console.log(`| ${transport} | ${(figures.delivered * 100).toFixed(1)}% | ${Math.round(figures.rate).toLocaleString("en-US")} | ${figures.p50.toFixed(1)} ms | ${figures.p99.toFixed(1)} ms | ${figures.cpu.toFixed(2)} |`);
  }
  const lp = row.get("longpoll");
  const ws = row.get("websocket");
  if (lp && ws && ws.cpu > 0) console.log(`\nLongPoll costs ${(lp.cpu / ws.cpu).toFixed(1)}× WebSocket's server CPU per delivery; its p50 latency is ${(lp.p50 / Math.max(ws.p50, 0.001)).toFixed(1)}× WebSocket's.`);
}
