/** Shape of bench/results/compare.json: medians over runs, per target, size and in-flight count. */
import type { MachineInfo } from "./machine-info.js";
import type { Measurement } from "./measure.js";
import { median, spread } from "./stats.js";

export interface FanoutCell {
  target: string;
  subscribers: number;
  inflight: number;
  runs: number;
  deliveries_per_s: number;
  /** half the max-min spread over runs, relative to the median */
  deliveries_spread: number;
  broadcasts_per_s: number;
  complete_p50_us: number;
  complete_p99_us: number;
  missing_total: number;
  server_cpu_share: number;
  client_cpu_share: number;
}

export interface SizeCell {
  target: string;
  subscribers: number;
  connect_per_s: number;
  subscriptions_per_s: number;
  bytes_per_connection: number;
  bytes_per_subscription: number;
  failures: number;
}

export interface MillionResult {
  target: string;
  sockets: number;
  topics: number;
  subscriptions: number;
  broadcasts: number;
  deliveries: number;
  missing: number;
  seconds_to_deliver: number;
  server_rss_bytes: number;
  bytes_per_subscription: number;
  error?: string;
}

export interface CompareResults {
  date: string;
  machine: MachineInfo;
  settings: { duration_s: number; warmup_s: number; runs: number; body_size: number; server_core: number; client_core: number };
  fanout: FanoutCell[];
  sizes: SizeCell[];
  million: MillionResult[];
  errors: { target: string; subscribers: number; error: string }[];
}

export function fanoutCells(target: string, subscribers: number, runs: Measurement[]): FanoutCell[] {
  const inflights = [...new Set(runs.flatMap((m) => m.rounds.map((r) => r.inflight)))];
  return inflights.map((inflight) => {
    const rounds = runs.flatMap((m) => m.rounds.filter((r) => r.inflight === inflight));
    const pick = (f: (r: (typeof rounds)[number]) => number): number => median(rounds.map(f));
    return {
      target,
      subscribers,
      inflight,
      runs: rounds.length,
      deliveries_per_s: pick((r) => r.deliveries_per_s),
      deliveries_spread: spread(rounds.map((r) => r.deliveries_per_s)),
      broadcasts_per_s: pick((r) => r.broadcasts_per_s),
      complete_p50_us: pick((r) => r.latency_us.p50),
      complete_p99_us: pick((r) => r.latency_us.p99),
      missing_total: rounds.reduce((s, r) => s + r.missing, 0),
      server_cpu_share: pick((r) => r.server_cpu_share),
      client_cpu_share: pick((r) => r.client_cpu_share),
    };
  });
}

export function sizeCell(target: string, subscribers: number, runs: Measurement[]): SizeCell {
  return {
    target,
    subscribers,
    connect_per_s: median(runs.map((m) => m.connect_per_s)),
    subscriptions_per_s: median(runs.map((m) => m.subscriptions_per_s)),
    bytes_per_connection: median(runs.map((m) => m.bytes_per_connection)),
    bytes_per_subscription: median(runs.map((m) => m.bytes_per_subscription)),
    failures: runs.reduce((s, m) => s + m.failures.connect + m.failures.join + m.failures.closed + m.failures.protocol, 0),
  };
}
