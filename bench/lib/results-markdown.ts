/** bench/results/compare.md: the tables a reader compares at a glance. */
import type { CompareResults } from "./compare-results.js";
import { fmtBytes, fmtMicros, fmtRate } from "./format.js";

export function renderMarkdown(r: CompareResults, chart = "compare.svg"): string {
  const m = r.machine;
  const lines: string[] = [
    `# Cinder fan-out benchmark`,
    "",
    `${r.date} · ${m.cpu_model}, ${m.cores} cores, ${m.memory_gib} GiB · Node ${m.node} · Linux ${m.kernel} · uWebSockets.js ${m.uws}`,
    "",
    `Server pinned to core ${r.settings.server_core}, native load client (bench/native) on core ${r.settings.client_core}; ` +
      `${r.settings.body_size}-byte body; medians of ${r.settings.runs} runs, ${r.settings.duration_s} s windows after ` +
      `${r.settings.warmup_s} s warm-up. "Complete" latency = publish until the last subscriber has the broadcast. ` +
      `CPU = share of one core during the window. Reproduce: \`npm run bench -- compare\`.`,
    "",
    "## Broadcast fan-out (one topic, every socket subscribed)",
    "",
    "| server | subscribers | in flight | deliveries/s | ± | broadcasts/s | complete p50 | complete p99 | missing | server CPU | client CPU |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const c of r.fanout) {
    lines.push(
      `| ${c.target} | ${c.subscribers.toLocaleString("en")} | ${c.inflight} | ${fmtRate(c.deliveries_per_s)} | ` +
        `${(c.deliveries_spread * 100).toFixed(0)}% | ${c.broadcasts_per_s.toFixed(0)} | ${fmtMicros(c.complete_p50_us)} | ` +
        `${fmtMicros(c.complete_p99_us)} | ${c.missing_total} | ${(c.server_cpu_share * 100).toFixed(0)}% | ` +
        `${(c.client_cpu_share * 100).toFixed(0)}% |`,
    );
  }
  lines.push(
    "",
    "## Connect, join and memory",
    "",
    "| server | sockets | connects/s | joins/s | server RSS per connection | per subscription | failures |",
    "|---|---:|---:|---:|---:|---:|---:|",
  );
  for (const s of r.sizes) {
    lines.push(
      `| ${s.target} | ${s.subscribers.toLocaleString("en")} | ${fmtRate(s.connect_per_s)} | ${fmtRate(s.subscriptions_per_s)} | ` +
        `${fmtBytes(s.bytes_per_connection)} | ${fmtBytes(s.bytes_per_subscription)} | ${s.failures} |`,
    );
  }
  if (r.million.length > 0) {
    lines.push(
      "",
      "## Subscriptions held, then one broadcast to every topic",
      "",
      "| server | sockets × topics | subscriptions | deliveries | missing | time to deliver all | server RSS | RSS per subscription |",
      "|---|---|---:|---:|---:|---:|---:|---:|",
    );
    for (const x of r.million) {
      lines.push(
        x.error
          ? `| ${x.target} | ${x.sockets} × ${x.topics} | failed: ${x.error.split("\n")[0]} | | | | | |`
          : `| ${x.target} | ${x.sockets.toLocaleString("en")} × ${x.topics} | ${x.subscriptions.toLocaleString("en")} | ` +
              `${x.deliveries.toLocaleString("en")} | ${x.missing} | ${x.seconds_to_deliver.toFixed(2)} s | ` +
              `${fmtBytes(x.server_rss_bytes)} | ${fmtBytes(x.bytes_per_subscription)} |`,
      );
    }
  }
  if (r.errors.length > 0) {
    lines.push("", "## Runs that failed", "");
    for (const e of r.errors) lines.push(`- ${e.target} at ${e.subscribers}: ${e.error.split("\n")[0]}`);
  }
  lines.push("", `![deliveries per second](${chart})`, "");
  return lines.join("\n");
}
