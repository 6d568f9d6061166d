/**
 * One measurement: start a target server on core 0, run the load client on
 * core 1, and sample the server's CPU time and RSS at the client's phase
 * changes (idle, connected, joined, start/end of every window).
 */
import type { LoadReport, LoadRound } from "./load-report.js";
import { type LoadClientOptions, runNativeClient } from "./native-client.js";
import { type ProcessSample, trySampleProcess } from "./proc-stats.js";
import { startServer } from "./server-process.js";
import { BENCH_JOIN_PAYLOAD, type Target } from "./targets.js";

export const SERVER_CORE = 0;
export const CLIENT_CORE = 1;

export interface RoundMeasurement extends LoadRound {
  /** server CPU seconds per second of window (1.0 = one core busy) */
  server_cpu_share: number;
  client_cpu_share: number;
}

export interface Measurement {
  target: string;
  sockets: number;
  topics: number;
  connect_per_s: number;
  subscriptions_per_s: number;
  subscriptions: number;
  failures: { connect: number; join: number; closed: number; protocol: number };
  server_rss_bytes: { idle: number; connected: number; joined: number };
  bytes_per_connection: number;
  bytes_per_subscription: number;
  rounds: RoundMeasurement[];
}

export type LoadShape = Omit<LoadClientOptions, "port" | "path" | "protocol" | "core">;

export async function measure(target: Target, shape: LoadShape, pin = true): Promise<Measurement> {
  const server = await startServer(target, pin ? (target.serverCpus ?? SERVER_CORE) : undefined);
  const samples = new Map<string, ProcessSample>();
  const take = (key: string): void => {
    const s = trySampleProcess(server.pid);
    if (s) samples.set(key, s);
  };
  let report: LoadReport;
  try {
    await new Promise((r) => setTimeout(r, 300)); // let startup allocation settle before the idle sample
    take("idle");
    report = await runNativeClient(
      {
        joinPayload: BENCH_JOIN_PAYLOAD,
        ...shape,
        port: server.port,
        path: target.path,
        protocol: target.protocol,
        core: pin ? CLIENT_CORE : undefined,
      },
      (phase, k) => take(k === undefined ? phase : `${phase} ${k}`),
    );
  } catch (err) {
    throw new Error(`${target.name}: ${(err as Error).message}\nserver output:\n${server.output()}`);
  } finally {
    await server.stop();
  }
  return summarize(target, report, samples);
}

function summarize(target: Target, report: LoadReport, samples: Map<string, ProcessSample>): Measurement {
  const rss = (key: string): number => samples.get(key)?.rssBytes ?? 0;
  const idle = rss("idle");
  const connected = rss("connected");
  const joined = rss("joined");
  const rounds = report.rounds.map((r): RoundMeasurement => {
    const start = samples.get(`measure ${r.inflight}`);
    const end = samples.get(`measured ${r.inflight}`);
    const serverCpu = start && end ? end.cpuSeconds - start.cpuSeconds : 0;
    return {
      ...r,
      server_cpu_share: r.window_s > 0 ? serverCpu / r.window_s : 0,
      client_cpu_share: r.window_s > 0 ? r.client_cpu_s / r.window_s : 0,
    };
  });
  const subs = report.join.subscriptions;
  return {
    target: target.name,
    sockets: report.sockets,
    topics: report.topics_per_socket,
    connect_per_s: report.connect.per_s,
    subscriptions_per_s: report.join.subscriptions_per_s,
    subscriptions: subs,
    failures: {
      connect: report.connect.failed,
      join: report.join.errors,
      closed: report.closed_by_server,
      protocol: report.protocol_errors,
    },
    server_rss_bytes: { idle, connected, joined },
    bytes_per_connection: report.connect.connected > 0 ? (connected - idle) / report.connect.connected : 0,
    bytes_per_subscription: subs > 0 ? (joined - connected) / subs : 0,
    rounds,
  };
}
