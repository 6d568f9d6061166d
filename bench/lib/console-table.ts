import { fmtBytes, fmtMicros, fmtRate } from "./format.js";
import type { Measurement } from "./measure.js";

/** One line per round, for scenario output while it runs. */
export function printMeasurement(m: Measurement): void {
  const head = `${m.target} ${m.sockets}×${m.topics}: connect ${fmtRate(m.connect_per_s)}/s, join ${fmtRate(
    m.subscriptions_per_s,
  )} subs/s, RSS/conn ${fmtBytes(m.bytes_per_connection)}, RSS/sub ${fmtBytes(m.bytes_per_subscription)}`;
  const failures = Object.entries(m.failures).filter(([, n]) => n > 0);
  console.log(head + (failures.length ? `  FAILURES ${JSON.stringify(Object.fromEntries(failures))}` : ""));
  for (const r of m.rounds) {
    console.log(
      `  inflight ${String(r.inflight).padStart(3)}: ${fmtRate(r.deliveries_per_s).padStart(7)} deliveries/s, ` +
        `${r.broadcasts_per_s.toFixed(0)} broadcasts/s, complete p50 ${fmtMicros(r.latency_us.p50)} ` +
        `p99 ${fmtMicros(r.latency_us.p99)}, missing ${r.missing}, cpu server ${(r.server_cpu_share * 100).toFixed(0)}% ` +
        `client ${(r.client_cpu_share * 100).toFixed(0)}%`,
    );
  }
}
